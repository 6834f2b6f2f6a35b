"""`kubesync cluster up|down|env`: a detached supervisor process that owns a LocalCluster's components.

`up` starts `python -m kubesync.localsupervisor serve DIR` in its own session and waits for its pid
file; `down` sends it SIGTERM. State (pid, version, error, kubeconfig, logs) lives in DIR.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubesync.localcluster import ControlPlaneError, LocalCluster, cache_dir, find_binaries, get_version, kwok_binary
from kubesync.localnodes import NodeShape


def default_state_dir() -> Path:
    return cache_dir() / "cluster"


def serve(workdir: Path, version: str | None = None, nodes: NodeShape | None = None) -> int:
    """Foreground supervisor: start, write a pid file, run until SIGTERM/SIGINT, tear down."""
    cluster = LocalCluster.create(workdir, version=version, nodes=nodes)
    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
    except ControlPlaneError as e:
        (workdir / "error").write_text(str(e))
        return 1
    (workdir / "version").write_text(cluster.version.full)
    (workdir / "supervisor.pid").write_text(str(os.getpid()))
    try:
        while not stop:
            for comp in cluster.components:
                if not comp.alive():
                    (workdir / "error").write_text(str(comp.failure("died")))
                    stop = True
            time.sleep(0.5)
    finally:
        cluster.stop()
        (workdir / "supervisor.pid").unlink(missing_ok=True)
    return 0


def up(workdir: Path, version: str | None = None, nodes: NodeShape | None = None, timeout: float = 180.0) -> Path:
    """Start the supervisor in the background and wait until its kubeconfig works.

    A control plane already running in `workdir` is kept, unless it runs another version than the
    one asked for: that is an error naming both, never a silent switch.
    """
    chosen = get_version(version)
    find_binaries(chosen)
    nodes = nodes or NodeShape()
    if nodes.count:
        kwok_binary()  # a missing kwok is said here, not after a background start
    if supervisor_pid(workdir):
        running = running_version(workdir)
        if version is not None and running and running != chosen.full:
            raise ControlPlaneError(
                f"a control plane of Kubernetes {running} is already running in {workdir}; "
                f"run `kubesync cluster down` before starting {chosen.full}"
            )
        return workdir / "kubeconfig"
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("error", "kubeconfig", "supervisor.pid", "version"):
        (workdir / stale).unlink(missing_ok=True)
    shutil.rmtree(workdir / "etcd", ignore_errors=True)
    logf = open(workdir / "supervisor.log", "ab")
    subprocess.Popen(
        [sys.executable, "-m", "kubesync.localsupervisor", "serve", str(workdir), "--kubernetes-version", chosen.minor,
         "--nodes", str(nodes.count), "--node-cpu", nodes.cpu, "--node-memory", nodes.memory, "--node-pods", str(nodes.pods)],
        stdout=logf,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    logf.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (workdir / "error").exists():
            raise ControlPlaneError((workdir / "error").read_text())
        if (workdir / "supervisor.pid").exists():
            return workdir / "kubeconfig"
        time.sleep(0.3)
    raise ControlPlaneError(f"the control plane did not start within {timeout:.0f}s; see {workdir}/logs")


def running_version(workdir: Path) -> str | None:
    """The Kubernetes release of the control plane the supervisor in `workdir` started."""
    try:
        return (workdir / "version").read_text().strip() or None
    except OSError:
        return None


def supervisor_pid(workdir: Path) -> int | None:
    try:
        pid = int((workdir / "supervisor.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def down(workdir: Path, timeout: float = 30.0) -> bool:
    pid = supervisor_pid(workdir)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and supervisor_pid(workdir):
        time.sleep(0.2)
    return True


def main(argv: list[str]) -> int:
    """python -m kubesync.localsupervisor serve DIR [--kubernetes-version V] [--nodes N ...]: what `up` starts."""
    parser = argparse.ArgumentParser(prog="python -m kubesync.localsupervisor")
    parser.add_argument("action", choices=("serve",))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--kubernetes-version")
    parser.add_argument("--nodes", type=int, default=NodeShape.count)
    parser.add_argument("--node-cpu", default=NodeShape.cpu)
    parser.add_argument("--node-memory", default=NodeShape.memory)
    parser.add_argument("--node-pods", type=int, default=NodeShape.pods)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    shape = NodeShape(args.nodes, args.node_cpu, args.node_memory, args.node_pods)
    return serve(args.dir, args.kubernetes_version, shape)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
