"""A value decrypted from a SOPS file never leaves kubesync: not on stdout or stderr, not in logs (text and
JSON), the saved plan, the daemon's pages, API and alerts, nor in any file written during the run (the
test's temp folder, the cache below the isolated HOME, and the system temp folder)."""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import time
from pathlib import Path

from tests.integration.daemon_harness import DaemonProcess, wait_until
from tests.support.webhooks import AlertReceiver as Receiver
from tests.support import cli
from tests.support.sops import age_key, encrypt, secret, tamper, write_chart_with_secrets, write_kustomization


def forms(value: str) -> list[str]:
    encoded = base64.b64encode(value.encode()).decode()
    return list(dict.fromkeys([value, encoded, encoded.rstrip("="), value[-10:]]))


def files_written_since(start: float, *folders: Path, besides: Path) -> list[Path]:
    """Files written since `start` below `folders`, except below `besides` (the control plane: its etcd stores the
    Secret the run applied, which is the cluster holding the value, as it must)."""
    found = []
    for folder in folders:
        for root, _, names in os.walk(folder):
            if Path(root) == besides or besides in Path(root).parents:
                continue
            for name in names:
                path = Path(root) / name
                try:
                    st = path.stat()
                except OSError:
                    continue
                if st.st_mtime >= start and st.st_size < 16 * 2**20 and path.is_file():
                    found.append(path)
    return found


def read(path: Path) -> bytes:
    """A file's bytes; b"" for one gone since it was listed (the system temp folder is shared with other processes)."""
    try:
        return path.read_bytes()
    except OSError:
        return b""


def assert_never_seen(canaries: list[str], outputs: list[str], written: list[Path]) -> None:
    """No form of any canary in any output, nor in any file written during the run."""
    for value in canaries:
        for form in forms(value):
            leaked = [o[max(0, o.find(form) - 80):o.find(form) + 80] for o in outputs if form in o]
            assert not leaked, f"{form!r} leaked: {leaked}"
            on_disk = [str(p) for p in written if form.encode() in read(p)]
            assert not on_disk, f"{form!r} written to {on_disk}"


def test_a_decrypted_value_never_leaves_the_process(kubeconfig, namespace, tmp_path):
    start = time.time() - 1
    canaries = [f"sops-canary-{secrets.token_hex(8)}" for _ in range(3)]
    key = age_key(tmp_path, "team")
    src = tmp_path / "src"
    src.mkdir()
    (src / "db.yaml").write_text(encrypt(secret("db", namespace, password=canaries[0], token=canaries[1]), key.recipient))
    plan_file = tmp_path / "plan.json"
    keyed = ("--decryption-key-file", str(key.file), "--kubeconfig", kubeconfig, "--debug")
    outputs: list[str] = []

    def run(*args: str, code: int) -> None:
        done = cli.run(*args, *keyed, check_code=code)
        outputs.extend([done.stdout, done.stderr])

    for fmt in ("text", "json"):
        run("plan", str(src), "--name", "canary", "-o", "json" if fmt == "json" else "markdown", "--log-format", fmt, code=0)
    run("plan", str(src), "--name", "canary", "--out", str(plan_file), code=0)
    run("apply", "--plan", str(plan_file), "--yes", "--log-format", "json", code=0)
    (src / "db.yaml").write_text(encrypt(secret("db", namespace, password=canaries[2], token=canaries[1]), key.recipient))
    run("diff", str(src), "--name", "canary", code=0)
    run("plan", str(src), "--name", "canary", code=0)
    run("apply", str(src), "--name", "canary", "--yes", code=0)

    hook = Receiver()
    pages: list[bytes] = []
    try:
        args = [str(src), "--name", "canary", "--interval", "5m", "--alert-webhook", hook.url, "--log-format", "json",
                "--decryption-key-file", str(key.file), "--debug"]
        with DaemonProcess(args, kubeconfig, tmp_path, name="canary") as daemon:
            daemon.wait_ready(60)
            (src / "db.yaml").write_text(tamper((src / "db.yaml").read_text()))  # a failure: an alert, the sync endpoint says so
            listed = wait_until(lambda: (daemon.syncs() or {}).get("cannot_decrypt") == ["canary"] and daemon.syncs(),
                                60, what=f"the daemon reports the file it cannot decrypt; log:\n{daemon.log()}")
            assert listed["syncs"][0]["cannot_decrypt"] == ["db.yaml"] and daemon.http("/readyz")[0] == 200
            assert daemon.json("/readyz")["cannot_decrypt"] == 1  # how many, never which (unauthenticated)
            wait_until(lambda: any(b.get("event") == "sync_failed" for b in hook.bodies), 30, what=f"an alert: {hook.bodies}")
            for path in ("/", "/syncs/canary", "/api/v1/syncs", "/api/v1/syncs/canary", "/api/v1/syncs/canary/runs",
                         "/readyz", "/metrics"):
                got = daemon.http(path)
                assert got is not None and got[0] in (200, 503), (path, got)
                pages.append(got[1])
            daemon.terminate()
            outputs.append(daemon.log())
    finally:
        hook.close()
    outputs += [str(b) for b in hook.bodies] + [p.decode("utf-8", "replace") for p in pages]
    assert any("tampered" in o for o in outputs)  # the failure was seen and reported...
    written = files_written_since(start, tmp_path, Path(os.environ["HOME"]), Path(tempfile.gettempdir()),
                                  besides=Path(kubeconfig).resolve().parent)
    assert plan_file in written
    assert_never_seen(canaries, outputs, written)


def test_a_value_decrypted_for_kustomize_or_helm_never_leaves_the_process(kubeconfig, namespace, tmp_path):
    """kustomize renders the ciphertext and kubesync opens it after; helm reads decrypted values from a pipe: no
    plaintext reaches a file, an output or a saved plan on either way."""
    start = time.time() - 1
    canaries = [f"sops-canary-{secrets.token_hex(8)}" for _ in range(5)]
    key = age_key(tmp_path, "team")
    kust = write_kustomization(tmp_path / "kust", namespace, key.recipient, password=canaries[0], env_password=canaries[1],
                               api_key=canaries[2])
    charts = write_chart_with_secrets(tmp_path / "charts", namespace, key.recipient, canaries[3], user=canaries[4])
    keyed = ("--decryption-key-file", str(key.file), "--kubeconfig", kubeconfig, "--debug")
    outputs: list[str] = []
    plans: list[Path] = []
    for source, extra in ((str(kust), ("--name", "canary-kust")),
                          (str(charts / "web"), ("--config", str(charts / "kubesync.yaml"), "--name", "sops-chart"))):
        plans.append(tmp_path / f"plan-{len(plans)}.json")
        for args in (("plan", "-o", "json", "--log-format", "json"), ("plan", "-o", "markdown"),
                     ("plan", "--out", str(plans[-1])), ("apply", "--yes", "--log-format", "json"), ("diff",),
                     ("plan", "--exit-code")):
            done = cli.run(args[0], source, *extra, *args[1:], *keyed, check_code=0)
            outputs += [done.stdout, done.stderr]
    written = files_written_since(start, tmp_path, Path(os.environ["HOME"]), Path(tempfile.gettempdir()),
                                  besides=Path(kubeconfig).resolve().parent)
    assert set(plans) <= set(written)
    assert_never_seen(canaries, outputs, written)
