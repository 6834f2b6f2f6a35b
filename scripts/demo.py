"""`make demo`: kubesync's main job, one screen per step, on the local control plane or your own cluster.

    make demo                                          # builds Kubernetes 1.37 once (cached), then about 1 minute
    KUBESYNC_DEMO_KUBECONFIG=~/.kube/config make demo  # kind, k3d or a real cluster: no build at all

Plan, apply and wait until Healthy, an empty second plan, drift made by hand and reverted (the only
diffs shown), a prune, the status, then the daemon: a scale reverted as it happens, a bad image rolled
out and reported Degraded (an alert to a webhook receiver the demo runs), rolled back by the next
sync, and the dashboard, which keeps running until Ctrl-C in a terminal (a non-interactive run, such as
CI, stops at once). Each step is a small function in STEPS: an episode is one more function there.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubesync.cluster.client import Cluster  # noqa: E402
from kubesync import localcluster  # noqa: E402

TTY = sys.stdout.isatty()
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if TTY else ("", "", "")
K8S = "1.37"
# README's measured first builds on 2 cores: Kubernetes 1.37.2 796 s (idle), kwok (built with it) 222 s.
FIRST_BUILD = "about 17 minutes on a 2-core machine"
ANSI = re.compile(r"\033\[[0-9;]*m")
RESULT = re.compile(r"^\S (created|patched|scaled|replaced|deleted|unchanged|skipped|failed)\s")


@dataclass
class Demo:
    """What every step gets: the source folder (a copy of manifests-example/), the environment that points
    kubesync at the cluster, and a client of it."""

    work: Path
    source: Path
    env: dict[str, str]
    api: Cluster
    namespace: str = "kubesync-demo"
    sync: str = "demo"
    local: bool = True  # the local control plane (kwok plays the kubelet), not a cluster of the user's
    alerts: list[dict] = field(default_factory=list)  # what the demo's webhook receiver was sent
    shown: int = 0  # how many of them are printed


def step(title: str) -> None:
    print(f"\n{BOLD}==> {title}{RESET}", flush=True)


def condensed(text: str) -> tuple[list[str], int]:
    """kubesync's text output without its per-object diffs: (lines kept, diff lines left out)."""
    kept, hidden, in_diff = [], 0, False
    for line in text.splitlines():
        plain = ANSI.sub("", line)
        if RESULT.match(plain) or plain.startswith(("Apply complete", "No changes")):
            in_diff = False
        elif plain.startswith(("--- ", "# ")):
            in_diff = True
        if in_diff:
            hidden += bool(plain.strip())
        else:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept, hidden


def kubesync(demo: Demo, *args: str, expect: tuple[int, ...] = (0,), full: bool = False, results: bool = False) -> str:
    """Run the CLI as a user would, show its output (without diffs unless `full`; only the outcome of each
    write with `results`, when the screen before showed the plan), check its exit code."""
    print(f"$ kubesync {' '.join(args)}", flush=True)
    color = ["--color", "always"] if TTY else ["--color", "never"]
    done = subprocess.run([sys.executable, "-m", "kubesync", *args, *color], env=demo.env, cwd=demo.work,
                          capture_output=True, text=True)
    out = done.stdout + done.stderr
    if full:
        print(out.rstrip())
    else:
        lines, hidden = condensed(out)
        if results:
            lines = [line for line in lines if RESULT.match(ANSI.sub("", line)) or ANSI.sub("", line).startswith("Apply complete")]
            print(f"{DIM}(the plan above, then each write as it lands){RESET}")
        print("\n".join(lines))
        if hidden and not results:
            print(f"{DIM}({hidden} lines of per-object diff not shown: `kubesync diff` prints them){RESET}")
    if done.returncode not in expect:
        raise SystemExit(f"demo failed: `kubesync {' '.join(args)}` exited {done.returncode} (expected {expect})")
    return out


# --- the steps ------------------------------------------------------------------------------------


def first_plan(demo: Demo) -> None:
    step("Plan: what a first sync of manifests-example/ would do (exit code 2: changes)")
    kubesync(demo, "plan", "manifests-example", "--name", demo.sync, "--exit-code", expect=(2,))


def first_apply(demo: Demo) -> None:
    step("Apply it: waves in order (namespace, RBAC, config, service, workload), then wait until all is Healthy")
    out = kubesync(demo, "apply", "manifests-example", "--name", demo.sync, "--yes", "--wait", "--timeout", "3m", results=True)
    print(next(line for line in out.splitlines() if "are Healthy" in line))


def converged(demo: Demo) -> None:
    step("A second plan is empty (exit code 0): nothing to do, so nothing is sent")
    kubesync(demo, "plan", "manifests-example", "--name", demo.sync, "--exit-code")


def drift(demo: Demo) -> None:
    step("Someone scales the Deployment to 5 and edits the ConfigMap by hand: kubesync sees the drift")
    ns = demo.namespace
    demo.api.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale", body={"spec": {"replicas": 5}},
                     content_type="application/merge-patch+json")
    demo.api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/web-config", body={"data": {"LOG_LEVEL": "debug"}},
                     content_type="application/merge-patch+json")
    print("kubectl scale deployment/web --replicas=5; kubectl patch configmap/web-config (LOG_LEVEL=debug)")
    kubesync(demo, "diff", "manifests-example", "--name", demo.sync, "--exit-code", expect=(2,), full=True)


def revert(demo: Demo) -> None:
    step("Apply reverts exactly those fields (JSON patches), and the plan is empty again")
    kubesync(demo, "apply", "manifests-example", "--name", demo.sync, "--yes")
    replicas = demo.api.get(f"/apis/apps/v1/namespaces/{demo.namespace}/deployments/web")["spec"]["replicas"]
    print(f"replicas of web: back to {replicas}")
    kubesync(demo, "plan", "manifests-example", "--name", demo.sync, "--exit-code")


def prune(demo: Demo) -> None:
    step("rbac.yaml is deleted from the source: --prune removes its objects (only ones this sync applied)")
    (demo.source / "rbac.yaml").unlink()
    print("rm manifests-example/rbac.yaml")
    kubesync(demo, "apply", "manifests-example", "--name", demo.sync, "--prune", "--yes")


def status(demo: Demo) -> None:
    step("Status: the sync and the health of every object it owns")
    kubesync(demo, "status", "manifests-example", "--name", demo.sync)


def daemon_and_dashboard(demo: Demo) -> None:
    """The daemon keeps the sync converged (drift is reverted as it happens) and serves the dashboard."""
    step("The daemon: self-heal as it happens, and the dashboard")
    token = demo.work / "ui-token"
    token.write_text(secrets.token_hex(16))
    address = f"127.0.0.1:{localcluster.free_port()}"
    receiver = webhook_receiver(demo)
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    args = ["daemon", "manifests-example", "--name", demo.sync, "--prune", "--self-heal", "--listen", address,
            "--ui-token-file", str(token), "--alert-webhook", hook]
    print(f"$ kubesync {' '.join(args)} &", flush=True)
    log = open(demo.work / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-m", "kubesync", *args], env=demo.env, cwd=demo.work, stdout=log, stderr=log)
    try:
        wait(lambda: _get(f"http://{address}/readyz") is not None, 60, "the daemon to be ready", demo)
        self_heal(demo)
        bad_rollout(demo)
        rolled_back(demo)
        print(f"\n{BOLD}Dashboard: http://{address}/{RESET}   (UI token for \"Sync now\": {token.read_text()})")
        if TTY and sys.stdin.isatty():
            print(f"The daemon and the cluster keep running. Try, in another terminal:\n"
                  f"  export KUBECONFIG={demo.env['KUBECONFIG']}\n"
                  f"  kubectl -n {demo.namespace} scale deployment/web --replicas=3   # and watch it come back\n"
                  "Ctrl-C stops the demo.", flush=True)
            try:
                daemon.wait()
            except KeyboardInterrupt:
                print()
        else:
            print("(not a terminal: stopping now; in a terminal the demo keeps running until Ctrl-C)")
    finally:
        daemon.terminate()
        daemon.wait(40)
        log.close()
        receiver.shutdown()


def self_heal(demo: Demo) -> None:
    path = f"/apis/apps/v1/namespaces/{demo.namespace}/deployments/web"
    demo.api.request("PATCH", path + "/scale", body={"spec": {"replicas": 5}}, content_type="application/merge-patch+json")
    started = time.monotonic()
    print("kubectl scale deployment/web --replicas=5")
    wait(lambda: demo.api.get(path)["spec"]["replicas"] == 2, 30, "the daemon to revert the scale", demo)
    print(f"the daemon saw it on its watch and put web back to 2 replicas in {time.monotonic() - started:.1f} s")


BAD_IMAGE = "nginx:1.99-does-not-exist"


def bad_rollout(demo: Demo) -> None:
    """A tag that does not exist is pushed; the daemon rolls it out; the new pod cannot pull its image."""
    step(f"A bad image is pushed ({BAD_IMAGE}): the rollout stalls, kubesync says why and alerts once")
    app = demo.source / "app.yaml"
    good = app.read_text()
    (demo.work / "app.yaml.good").write_text(good)
    # On the local control plane kwok plays the kubelet and pulls nothing: the annotation asks its stage
    # for the container status a kubelet reports when a pull fails. On a real cluster the tag does it.
    bad = good.replace("image: nginx:1.25", f"image: {BAD_IMAGE}").replace(
        "      labels:\n        app.kubernetes.io/name: web\n        app.kubernetes.io/part-of: kubesync-demo\n    spec:",
        "      labels:\n        app.kubernetes.io/name: web\n        app.kubernetes.io/part-of: kubesync-demo\n"
        "      annotations:\n        kubesync.io/simulate: image-pull-failure\n    spec:")
    app.write_text(bad)
    print(f"sed -i 's/nginx:1.25/{BAD_IMAGE}/' manifests-example/app.yaml   # the daemon applies it on its own")
    pods = f"/api/v1/namespaces/{demo.namespace}/pods"
    wait(lambda: any(c.get("state", {}).get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff")
                     for p in demo.api.get(pods)["items"] for c in p.get("status", {}).get("containerStatuses") or []),
         120, "the new pod to fail its image pull", demo)
    kubesync(demo, "status", "manifests-example", "--name", demo.sync, expect=(0, 1))
    wait(lambda: any(a.get("event") == "object_degraded" for a in demo.alerts), 90,
         "the progress deadline (20 s) and the daemon's alert", demo)
    show_alerts(demo)


def rolled_back(demo: Demo) -> None:
    step("The fix is pushed (the previous app.yaml): the next sync rolls back, and the recovery is alerted too")
    (demo.source / "app.yaml").write_text((demo.work / "app.yaml.good").read_text())
    print("git revert HEAD   # here: the previous manifests-example/app.yaml")
    wait(lambda: any(a.get("event") == "object_recovered" for a in demo.alerts), 120, "the rollback to complete", demo)
    show_alerts(demo)
    kubesync(demo, "status", "manifests-example", "--name", demo.sync)


def show_alerts(demo: Demo) -> None:
    for alert in demo.alerts[demo.shown:]:
        print(f"alert received by the webhook: {alert.get('event')}: {alert.get('object') or alert.get('sync')}: {alert.get('message')}")
    demo.shown = len(demo.alerts)


def webhook_receiver(demo: Demo) -> ThreadingHTTPServer:
    """A webhook endpoint on loopback, as Slack or Alertmanager would be: it records what the daemon posts."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            demo.alerts.append(json.loads(body or b"{}"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


STEPS: list[Callable[[Demo], None]] = [first_plan, first_apply, converged, drift, revert, prune, status, daemon_and_dashboard]


# --- the cluster ----------------------------------------------------------------------------------


def wait(ready: Callable[[], bool], timeout: float, what: str, demo: Demo) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            log = demo.work / "daemon.log"
            raise SystemExit(f"demo failed: waited {timeout:.0f} s for {what}\n" + (log.read_text()[-3000:] if log.exists() else ""))
        time.sleep(0.2)


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read()
    except OSError:
        return None


def ensure_control_plane() -> None:
    """Build Kubernetes 1.37 (with what `kubesync cluster build` builds beside it) only if it is not cached
    yet, saying first how long that takes; `make demo-build` runs the same build."""
    version = localcluster.get_version(K8S)
    if version in localcluster.built_versions():
        return
    print(f"{BOLD}First run: Kubernetes {version.full} is built from source once ({FIRST_BUILD}; cached in "
          f"{localcluster.bin_dir(version)}).{RESET}\nThe demo itself then takes under a minute. To skip the build, run it "
          "on a cluster you have: KUBESYNC_DEMO_KUBECONFIG=~/.kube/config make demo\n", flush=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "kubesync", "cluster", "build", "--kubernetes-version", K8S], check=True)
    print(f"built in {time.monotonic() - started:.0f} s", flush=True)


def own_cluster(kubeconfig: str, work: Path) -> Demo:
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    api = Cluster.connect(kubeconfig)
    demo = Demo(work, work / "manifests-example", env, api, local=False)
    found = api.get_or_none(f"/api/v1/namespaces/{demo.namespace}")
    if found and ((found["metadata"].get("labels") or {}).get("kubesync.io/sync") != demo.sync):
        raise SystemExit(f"demo: namespace {demo.namespace} exists on that cluster and is not the demo's; delete it or use another cluster")
    if found:  # left by an interrupted run
        clean_up(demo)
        wait(lambda: api.get_or_none(f"/api/v1/namespaces/{demo.namespace}") is None, 120, "the earlier run's namespace to go", demo)
    return demo


def clean_up(demo: Demo) -> None:
    """On a cluster of yours, the demo leaves nothing behind: its namespace and its inventory."""
    step("Removing what the demo created on your cluster")
    for path in (f"/api/v1/namespaces/{demo.namespace}", f"/api/v1/namespaces/kubesync-system/configmaps/kubesync-inventory-{demo.sync}"):
        if demo.api.get_or_none(path) is not None:
            demo.api.request("DELETE", path)
            print(f"deleted {path.split('/api/v1/')[1]}")


def run_steps(demo: Demo) -> None:
    for each in STEPS:
        each(demo)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="kubesync-demo-"))
    shutil.copytree(ROOT / "manifests-example", work / "manifests-example")
    started = time.monotonic()
    try:
        given = os.environ.get("KUBESYNC_DEMO_KUBECONFIG")
        if given:
            demo = own_cluster(os.path.expanduser(given), work)
            step(f"Your cluster ({demo.api.get('/version')['gitVersion']} at {demo.api.server}), from KUBESYNC_DEMO_KUBECONFIG")
            try:
                run_steps(demo)
            finally:
                clean_up(demo)
        else:
            ensure_control_plane()
            with localcluster.LocalCluster.create(work / "cluster", version=K8S) as local:
                step(f"A local control plane: Kubernetes {local.version.full} (etcd, apiserver, controller-manager, scheduler) "
                     f"on {local.server}, and {local.nodes.count} nodes whose kubelet kwok plays")
                kubeconfig = str(local.kubeconfig)
                run_steps(Demo(work, work / "manifests-example", {**os.environ, "KUBECONFIG": kubeconfig}, Cluster.connect(kubeconfig)))
                step("Stopping the control plane")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nDemo complete ({time.monotonic() - started:.0f} s).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
