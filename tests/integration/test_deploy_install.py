"""deploy/ installs as operators install it: `kubectl apply -k` of the base and each overlay passes the
API server's dry run, and the daemon, run with the Deployment's own flags as the shipped ServiceAccount,
is refused nothing for a minute (the RBAC is what its requests need)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time

import pytest
import yaml

from tests.integration.daemon_harness import REPO_ROOT, DaemonProcess, wait_until
from tests.support import cli as support_cli
from tests.support.deploy import DEPLOY, INSTALLS, by_kind_and_name, render

pytestmark = pytest.mark.integration

KUBECTL = "/usr/bin/kubectl"  # 1.32, on every machine of the project
SERVICE_ACCOUNT = "system:serviceaccount:kubesync-system:kubesync"
# A pod's token carries these groups; impersonating the user alone would not.
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kubesync-system")
RUN_FOR = 60.0  # seconds the daemon runs as the ServiceAccount


def ensure_namespaces(cluster, docs: list[dict]) -> None:
    """A server dry run cannot create the namespaces its objects go into: make them exist for real,
    as the real apply's first objects would (adoptable, so a later `kubesync apply deploy/` owns them)."""
    from kubesync.model import ADOPTABLE_LABEL

    for d in docs:
        if d["kind"] == "Namespace" and cluster.get_or_none(f"/api/v1/namespaces/{d['metadata']['name']}") is None:
            meta = {"name": d["metadata"]["name"], "labels": {ADOPTABLE_LABEL: "true"}}
            cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": meta})


@pytest.mark.parametrize("install", INSTALLS, ids=lambda i: i or "deploy")
def test_kubectl_apply_k_passes_the_server_dry_run(install, kubeconfig, cluster):
    ensure_namespaces(cluster, render(install))
    done = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "apply", "-k", str(DEPLOY / install), "--dry-run=server"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    sent = set()
    for line in done.stdout.splitlines():  # "role.rbac.authorization.k8s.io/kubesync-state created (server dry run)"
        resource, name = line.split(" ")[0].split("/")
        sent.add(f"{resource.split('.')[0]}/{name}")
    assert sent == {f"{d['kind'].lower()}/{d['metadata']['name']}" for d in render(install)}, done.stdout


def daemon_config(tmp_path, ns: str, sync: str) -> str:
    """deploy/'s own kubesync.yaml, with the demo sync reading manifests-example (its namespace left to
    the install) from a folder instead of the example repository URL, into the namespace `ns`."""
    docs = by_kind_and_name(render(""))
    config = yaml.safe_load(docs[("ConfigMap", "kubesync-system", "kubesync-config")]["data"]["kubesync.yaml"])
    source = tmp_path / "demo"
    source.mkdir()
    for f in (REPO_ROOT / "manifests-example").glob("*.yaml"):
        if f.name != "00-namespace.yaml":
            (source / f.name).write_text(f.read_text().replace("kubesync-demo", ns))
    [demo] = config["syncs"]
    demo.update(name=sync, namespace=ns, source={"path": str(source)})
    path = tmp_path / "kubesync.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def shipped_args(config: str, lease: str) -> list[str]:
    """The Deployment's container args, with this test's config file and Lease (a listen address is added;
    no probe listener: the Deployment's would bind a fixed port)."""
    deployment = by_kind_and_name(render(""))[("Deployment", "kubesync-system", "kubesync")]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "daemon"
    kept = [a for a in args[1:] if not a.startswith(("--config", "--listen", "--probe-listen"))]
    return [f"--config={config}", *kept, f"--lease-name={lease}"]


def permission_trouble(log: str) -> tuple[list[str], list[str]]:
    """(refusals, repeats): every log record at warning or above that is about a refused request, and every
    permission message (any level) logged more than once. The per-type line of the namespaced mode's
    fallback ("cannot watch X cluster-wide ...; watching per namespace", info) is expected once per type."""
    refused, seen = [], {}
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            refused.append(f"not a JSON log line: {line}")
            continue
        text = json.dumps(record)
        if not any(w in text for w in ("403", "forbidden", "Forbidden", "Unauthorized", "cannot list", "cannot watch")):
            continue
        message = str(record.get("message") or record.get("msg") or text)
        seen[message] = seen.get(message, 0) + 1
        if str(record.get("level", "")).upper() not in ("DEBUG", "INFO"):
            refused.append(text)
    return refused, [f"{n}x {m}" for m, n in seen.items() if n > 1]


def test_the_daemon_as_the_shipped_service_account_is_refused_nothing(kubeconfig, cluster, tmp_path):
    applied = support_cli.run("apply", "deploy/", "--yes", kubeconfig=kubeconfig, cwd=REPO_ROOT)
    assert applied.returncode == 0 and "Conflicts" not in applied.stdout, applied.stdout + applied.stderr
    ns, sync = f"ks-rbac-{secrets.token_hex(3)}", f"rbac-{secrets.token_hex(3)}"
    target = tmp_path / "target"
    shutil.copytree(DEPLOY / "target", target / "target")
    (target / "kustomization.yaml").write_text(f"{{namespace: {ns}, resources: [target]}}\n")
    granted = support_cli.run("apply", str(target), "--name", f"target-{ns}", "--yes", kubeconfig=kubeconfig)
    assert granted.returncode == 0, granted.stdout + granted.stderr
    impersonate = ["--as", SERVICE_ACCOUNT, *(a for g in SA_GROUPS for a in ("--as-group", g))]
    args = [*shipped_args(daemon_config(tmp_path, ns, sync), f"lease-{sync}"), *impersonate]
    try:
        started = time.monotonic()
        with DaemonProcess(args, kubeconfig, tmp_path) as d:
            wait_until(lambda: d.check_alive() or (d.sync(sync) or {}).get("state") == "Synced",
                       RUN_FOR, what=f"the demo synced as the ServiceAccount; log:\n{d.log()}")
            assert cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")["metadata"]["labels"]["kubesync.io/sync"] == sync
            path = f"/api/v1/namespaces/{ns}/configmaps/web-config"
            cluster.request("PATCH", path, body={"data": {"LOG_LEVEL": "debug"}}, content_type="application/merge-patch+json")
            wait_until(lambda: cluster.get(path)["data"]["LOG_LEVEL"] == "info", 30, what="drift reverted (selfHeal)")
            # The dashboard reads the Deployment's Pods (a 403 there is shown on the page, not logged).
            page = wait_until(lambda: (got := d.http(f"/partials/syncs/{sync}")) and f"Pods of {ns}/web".encode() in got[1] and got[1], 30,
                              what="the sync page lists the Deployment's Pods")
            assert b"may not be listed" not in page and b"could not be read" not in page
            with pytest.raises(subprocess.TimeoutExpired):  # it keeps running (and logging) for the whole minute
                d.proc.wait(timeout=max(0.0, RUN_FOR - (time.monotonic() - started)))
            assert d.terminate() == 0
            refused, repeated = permission_trouble(d.log())
            assert refused == [] and repeated == [], "\n".join(refused + repeated)
    finally:
        cluster.request("DELETE", f"/api/v1/namespaces/{ns}")
