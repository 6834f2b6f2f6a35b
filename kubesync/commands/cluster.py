"""`kubesync cluster up|down|env`: the embedded local control plane, run in the background."""

from __future__ import annotations

from pathlib import Path

from kubesync import localsupervisor
from kubesync.errors import UsageError


def run(args) -> int:
    workdir = Path(args.dir) if args.dir else localsupervisor.default_state_dir()
    if args.action == "up":
        kubeconfig = localsupervisor.up(workdir, getattr(args, "kubernetes_version", None))
        version = localsupervisor.running_version(workdir) or "?"
        print(f"local control plane running (Kubernetes {version}); logs in {workdir / 'logs'}")
        print(f"export KUBECONFIG={kubeconfig}")
        return 0
    if args.action == "down":
        stopped = localsupervisor.down(workdir)
        print("local control plane stopped" if stopped else "no local control plane was running")
        return 0
    kubeconfig = workdir / "kubeconfig"
    if not localsupervisor.supervisor_pid(workdir):
        raise UsageError(f"no local control plane is running in {workdir}; run `kubesync cluster up`")
    print(f"export KUBECONFIG={kubeconfig}")
    return 0
