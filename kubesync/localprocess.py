"""The processes of the embedded control plane: started tied to their parent, stopped by group.

Each component runs in its own session (so a stop reaches its children too) and, with
tie_to_parent, asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG): an interrupted
test run or a killed `kubesync cluster up` supervisor leaves no process behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubesync.errors import KubesyncError

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 40


class ControlPlaneError(KubesyncError):
    """The local control plane could not start; carries the failing component's log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """Run in the child before exec: the kernel kills it when the parent dies, so nothing is left behind."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen | None = None
    env: dict[str, str] | None = None
    """The environment it runs with (None: the parent's); kept so a restart gets the same one."""

    def start(self, env: dict[str, str] | None = None, tie_to_parent: bool = True) -> None:
        if env is not None:
            self.env = env
        log.debug("starting %s: %s", self.name, " ".join(self.argv))
        out = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            preexec_fn=die_with_parent if tie_to_parent else os.setsid,
        )
        out.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def failure(self, what: str) -> ControlPlaneError:
        code = self.process.poll() if self.process else None
        state = f"exited with {code}" if code is not None else "still running"
        return ControlPlaneError(f"{self.name} {what} ({state}); last lines of {self.log_path}:\n{_tail(self.log_path)}")

    def stop(self, grace: float = 10.0) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
