"""No Secret value ever reaches an output, a log line or an error message.

Every command (plan in each format, diff, apply fresh and from a saved plan, status) runs as a
subprocess with --debug, in both log formats, over a Secret with distinctive values in stringData and
data: first created, then updated to new values, then on error paths (a type change the server
refuses, a YAML error inside the Secret, a value the server cannot decode). Everything captured is
scanned for each value as written and in base64.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import cli as support_cli
from tests.support.manifests import configmap, secret, yaml_text

REPO_ROOT = Path(__file__).resolve().parents[2]


def canary(what: str) -> str:
    return f"leak-canary-{what}-{secrets.token_hex(6)}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms(value: str) -> list[str]:
    """The value as written, the ways it can appear on the wire (base64 with and without padding), and
    its random tail alone: a server error that quotes a few bytes around a position leaks a fragment."""
    encoded = b64(value)
    urlsafe = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return list(dict.fromkeys([value, encoded, encoded.rstrip("="), urlsafe, value[-8:]]))  # most telling first


def kubesync(*args: str, kubeconfig: str, cwd=None) -> subprocess.CompletedProcess:
    return support_cli.run(*args, "--kubeconfig", kubeconfig, "--no-color", "--debug", cwd=cwd)


def secret_yaml(password: str, token: str, type_: str = "Opaque") -> str:
    return yaml_text(configmap("settings", {"greeting": "hello"}),
                     secret(type=type_, string_data={"password": password}, data={"token": token}))


class Scanner:
    """Runs commands and remembers every secret value used so far; every output is checked for all of them."""

    def __init__(self, kubeconfig: str, folder, namespace: str, sync: str):
        self.kubeconfig, self.folder, self.namespace, self.sync = kubeconfig, folder, namespace, sync
        self.values: list[str] = []
        self.runs: list[tuple[str, subprocess.CompletedProcess]] = []

    def remember(self, *values: str) -> None:
        self.values.extend(values)

    def sync_args(self) -> tuple[str, ...]:
        return (str(self.folder), "-n", self.namespace, "--name", self.sync)

    def run(self, label: str, *args: str) -> subprocess.CompletedProcess:
        result = kubesync(*args, kubeconfig=self.kubeconfig)
        self.runs.append((label, result))
        self.check(label, result)
        return result

    def run_many(self, commands: dict[str, tuple[str, ...]]) -> dict[str, subprocess.CompletedProcess]:
        """Read-only commands, three at a time."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {label: pool.submit(kubesync, *args, kubeconfig=self.kubeconfig) for label, args in commands.items()}
            results = {label: f.result() for label, f in futures.items()}
        for label, result in results.items():
            self.runs.append((label, result))
            self.check(label, result)
        return results

    def check(self, label: str, result: subprocess.CompletedProcess) -> None:
        captured = result.stdout + result.stderr
        for value in self.values:
            for form in forms(value):
                if form in captured:
                    line = next(ln for ln in captured.splitlines() if form in ln)
                    pytest.fail(f"{label}: a Secret value ({form!r}) leaked in this line:\n{line[:500]}")

    def read_only(self, tag: str, log_format: str) -> dict[str, subprocess.CompletedProcess]:
        common = (*self.sync_args(), "--log-format", log_format)
        return self.run_many({
            f"{tag}: plan -o text": ("plan", *common, "-o", "text"),
            f"{tag}: plan -o json": ("plan", *common, "-o", "json"),
            f"{tag}: plan -o markdown": ("plan", *common, "-o", "markdown"),
            f"{tag}: diff": ("diff", *common),
            f"{tag}: status -o json": ("status", *common, "-o", "json"),
        })


def secret_data(cluster, namespace: str) -> dict[str, str]:
    data = cluster.get(f"/api/v1/namespaces/{namespace}/secrets/creds")["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def test_no_secret_value_in_any_output_log_or_error(kubeconfig, cluster, namespace, tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    scan = Scanner(kubeconfig, folder, namespace, f"secrets-{namespace[-6:]}")

    # 1. Created.
    password1, token1 = canary("password1"), canary("token1")
    scan.remember(password1, token1)
    (folder / "app.yaml").write_text(secret_yaml(password1, token1))
    results = scan.read_only("create", "json")
    assert all(r.returncode == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    assert "***" in results["create: plan -o text"].stdout  # the Secret was rendered, masked
    applied = scan.run("create: apply", "apply", *scan.sync_args(), "--yes", "--log-format", "json")
    assert applied.returncode == 0, applied.stderr
    assert f"+ created   v1 Secret {namespace}/creds" in applied.stdout
    assert '"level": "debug"' in applied.stderr  # --debug logs were on, in JSON
    assert secret_data(cluster, namespace) == {"password": password1, "token": token1}

    # 2. Updated to new values: plans and diffs now hold the old and the new values.
    password2, token2 = canary("password2"), canary("token2")
    scan.remember(password2, token2)
    (folder / "app.yaml").write_text(secret_yaml(password2, token2))
    results = scan.read_only("update", "text")
    assert all(r.returncode == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    assert f"+++ desired/v1.Secret.{namespace}.creds" in results["update: diff"].stdout
    saved = tmp_path / "plan.json"
    made = scan.run("update: plan --out", "plan", *scan.sync_args(), "-o", "json", "--out", str(saved))
    assert made.returncode == 0, made.stderr
    applied = scan.run("update: apply --plan", "apply", "--plan", str(saved), "--yes", "--log-format", "json")
    assert applied.returncode == 0, applied.stderr
    assert f"~ patched   v1 Secret {namespace}/creds" in applied.stdout
    assert secret_data(cluster, namespace) == {"password": password2, "token": token2}

    # 3. A type change the server refuses (type is immutable), with new values in the same change: the
    #    plan's dry run turns it into a replacement, which is refused without confirmation.
    password3, token3 = canary("password3"), canary("token3")
    scan.remember(password3, token3)
    (folder / "app.yaml").write_text(secret_yaml(password3, token3, type_="kubernetes.io/basic-auth"))
    scan.read_only("type change", "json")
    for log_format in ("json", "text"):
        refused = scan.run(f"type change: apply ({log_format} logs)",
                           "apply", *scan.sync_args(), "--log-format", log_format)
        assert refused.returncode == 1
        assert "field is immutable" in refused.stdout and "replaces 1 object(s)" in refused.stderr
    assert secret_data(cluster, namespace) == {"password": password2, "token": token2}

    # 4. A YAML error inside the Secret, right at a value.
    password4 = canary("password4")
    scan.remember(password4)
    (folder / "app.yaml").write_text(secret_yaml(password4, token2).replace(f"password: {password4}", f'password: "{password4}'))
    for label, args in {"yaml error: plan": ("plan",), "yaml error: apply": ("apply", "--yes")}.items():
        broken = scan.run(label, *args, *scan.sync_args(), "--log-format", "json")
        assert broken.returncode == 1
        assert "app.yaml:" in broken.stderr and "invalid YAML" in broken.stderr


def test_server_error_quoting_a_secret_value_is_masked(kubeconfig, cluster, namespace, tmp_path):
    """A raw value put in `data` instead of `stringData` (a classic mistake) is not base64: the API
    server's decode error quotes the request body around it. kubesync must not pass that quote on."""
    folder = tmp_path / "app"
    folder.mkdir()
    scan = Scanner(kubeconfig, folder, namespace, f"rawdata-{namespace[-6:]}")
    raw = canary("raw")  # the dashes make it invalid base64
    scan.remember(raw)
    (folder / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: {raw}\n"
    )
    scan.read_only("raw data", "json")
    for log_format in ("json", "text"):
        failed = scan.run(f"raw data: apply ({log_format} logs)", "apply", *scan.sync_args(), "--yes", "--log-format", log_format)
        assert failed.returncode == 1
        assert "secret.yaml:1: v1 Secret" in failed.stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/secrets/creds") is None


def test_yaml_error_never_quotes_a_secret_value(kubeconfig, cluster, namespace, tmp_path):
    """An unquoted password starting with '!' is read by YAML as a tag: the loader's error must name
    the file and line, not repeat the tag (it is the password)."""
    folder = tmp_path / "app"
    folder.mkdir()
    scan = Scanner(kubeconfig, folder, namespace, f"yamltag-{namespace[-6:]}")
    password = canary("tag")
    scan.remember(password)
    (folder / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: !{password}\n"
    )
    for label, args in {"tag: plan": ("plan", "--log-format", "json"), "tag: apply": ("apply", "--yes")}.items():
        broken = scan.run(label, *args, *scan.sync_args())
        assert broken.returncode == 1
        assert "secret.yaml:6: invalid YAML at column 13:" in broken.stderr, broken.stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/secrets/creds") is None
