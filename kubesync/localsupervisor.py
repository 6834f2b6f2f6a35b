"""`kubesync cluster up|down|env`: a detached supervisor process that owns a LocalCluster's components.

`up` starts `python -m kubesync.localsupervisor serve DIR` in its own session and waits for its pid
file; `down` sends it SIGTERM. State (pid, version, error, kubeconfig, logs) lives in DIR.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubesync.localcluster import ControlPlaneError, LocalCluster, cache_dir, find_binaries, get_version


def default_state_dir() -> Path:
    return cache_dir() / "cluster"


def serve(workdir: Path, version: str | None = None) -> int:
    """Foreground supervisor: start, write a pid file, run until SIGTERM/SIGINT, tear down."""
    cluster = LocalCluster.create(workdir, version=version)
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


def up(workdir: Path, version: str | None = None, timeout: float = 180.0) -> Path:
    """Start the supervisor in the background and wait until its kubeconfig works.

    A control plane already running in `workdir` is kept, unless it runs another version than the
    one asked for: that is an error naming both, never a silent switch.
    """
    chosen = get_version(version)
    find_binaries(chosen)
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
        [sys.executable, "-m", "kubesync.localsupervisor", "serve", str(workdir), chosen.minor],
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


if __name__ == "__main__":  # python -m kubesync.localsupervisor serve DIR [VERSION]
    if len(sys.argv) in (3, 4) and sys.argv[1] == "serve":
        logging.basicConfig(level=logging.INFO)
        raise SystemExit(serve(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) == 4 else None))
    print("usage: python -m kubesync.localsupervisor serve DIR [VERSION]", file=sys.stderr)
    raise SystemExit(2)
