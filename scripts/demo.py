"""`make demo`: kubesync's main job on the embedded control plane, step by step.

Starts etcd + kube-apiserver + kube-controller-manager on loopback, applies manifests-example/,
shows an empty second plan, reverts an out-of-band change, prunes a removed object, starts the
daemon and prints its dashboard's address (KUBESYNC_DEMO_KEEP=1: runs until Ctrl-C), tears down.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubesync.cluster.client import Cluster  # noqa: E402
from kubesync.localcluster import LocalCluster  # noqa: E402

BOLD, RESET = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")


def step(text: str) -> None:
    print(f"\n{BOLD}==> {text}{RESET}", flush=True)


def kubesync(*args: str, env: dict, expect: tuple[int, ...] = (0,)) -> int:
    cmd = [sys.executable, "-m", "kubesync", *args]
    print(f"$ kubesync {' '.join(args)}", flush=True)
    code = subprocess.run(cmd, env=env, cwd=ROOT).returncode
    if code not in expect:
        raise SystemExit(f"demo failed: `kubesync {' '.join(args)}` exited {code} (expected {expect})")
    return code


def dashboard(source: Path, work: Path, env: dict) -> None:
    """The daemon and its dashboard on the demo sync; with KUBESYNC_DEMO_KEEP=1 it runs until Ctrl-C."""
    import secrets
    import time
    import urllib.request

    from kubesync.localcluster import free_port

    token = work / "ui-token"
    token.write_text(secrets.token_hex(16))
    address = f"127.0.0.1:{free_port()}"
    step("The daemon keeps the sync converged and serves its dashboard")
    args = ["daemon", str(source), "--name", "demo", "--prune", "--self-heal", "--listen", address,
            "--ui-token-file", str(token)]
    print(f"$ kubesync {' '.join(args)}", flush=True)
    daemon = subprocess.Popen([sys.executable, "-m", "kubesync", *args], env=env, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{address}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        print(f"\n{BOLD}Dashboard: http://{address}/{RESET}  (UI token for Sync now: {token.read_text()})", flush=True)
        if os.environ.get("KUBESYNC_DEMO_KEEP") == "1":
            print("KUBESYNC_DEMO_KEEP=1: the daemon and the control plane keep running; Ctrl-C stops them.", flush=True)
            try:
                daemon.wait()
            except KeyboardInterrupt:
                pass
        else:
            print("(set KUBESYNC_DEMO_KEEP=1 to keep it running and open it in a browser)", flush=True)
            time.sleep(3)
    finally:
        daemon.terminate()
        daemon.wait(40)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="kubesync-demo-"))
    source = work / "manifests-example"
    shutil.copytree(ROOT / "manifests-example", source)
    # The newest built version (1.37) unless KUBESYNC_DEMO_K8S_VERSION picks another (e.g. 1.20).
    local = LocalCluster.create(work / "cluster", version=os.environ.get("KUBESYNC_DEMO_K8S_VERSION") or None)
    step(f"Starting the local control plane (etcd, kube-apiserver, kube-controller-manager {local.version.full})")
    with local as cluster:
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        api_version = Cluster.connect(str(cluster.kubeconfig)).get("/version")["gitVersion"]
        print(f"API server {api_version} at {cluster.server}")
        api = Cluster.connect(str(cluster.kubeconfig))

        step("Plan: what a first sync of manifests-example/ would do")
        kubesync("plan", str(source), "--name", "demo", "--exit-code", env=env, expect=(2,))

        step("Apply it")
        kubesync("apply", str(source), "--name", "demo", "--yes", env=env)

        step("A second plan is empty (exit code 0 with --exit-code)")
        kubesync("plan", str(source), "--name", "demo", "--exit-code", env=env, expect=(0,))

        step("Someone scales the Deployment to 5 and edits the ConfigMap by hand (out of band)")
        ns = "kubesync-demo"
        deploy = next(iter(api.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]))["metadata"]["name"]
        cm = next(c for c in api.get(f"/api/v1/namespaces/{ns}/configmaps")["items"] if c["metadata"]["name"] != "kube-root-ca.crt")
        api.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/{deploy}/scale",
                    body={"spec": {"replicas": 5}}, content_type="application/merge-patch+json")
        first_key = sorted(cm.get("data") or {"x": ""})[0]
        api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/{cm['metadata']['name']}",
                    body={"data": {first_key: "edited by hand"}}, content_type="application/merge-patch+json")

        step("kubesync detects the drift (diff exits 2)...")
        kubesync("diff", str(source), "--name", "demo", "--exit-code", "--no-color", env=env, expect=(2,))
        step("...and reverts it")
        kubesync("apply", str(source), "--name", "demo", "--yes", env=env)
        replicas = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{deploy}")["spec"]["replicas"]
        print(f"replicas of {deploy} are back to {replicas}")
        kubesync("plan", str(source), "--name", "demo", "--exit-code", env=env, expect=(0,))

        step("Remove the RBAC objects from the desired state and prune them")
        removed = [p for p in source.rglob("*.yaml") if "rbac" in p.name.lower()]
        for p in removed:
            print(f"rm {p.relative_to(work)}")
            p.unlink()
        kubesync("plan", str(source), "--name", "demo", "--prune", env=env)
        kubesync("apply", str(source), "--name", "demo", "--prune", "--yes", env=env)
        step("Status: sync state and health of every object")
        print("(the local control plane has no kubelet: pods never start, so the Deployment stays Progressing)")
        kubesync("status", str(source), "--name", "demo", env=env)

        dashboard(source, work, env)

        step("Tearing the control plane down")
    shutil.rmtree(work, ignore_errors=True)
    print("\nDemo complete.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
