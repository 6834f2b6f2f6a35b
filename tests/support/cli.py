"""The one way tests run the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def env(kubeconfig: str | None = None, *, no_color: bool = True, **extra: str) -> dict[str, str]:
    """The process environment for a kubesync subprocess: KUBECONFIG when given, NO_COLOR unless asked not to."""
    out = dict(os.environ)
    if kubeconfig:
        out["KUBECONFIG"] = kubeconfig
    if no_color:
        out["NO_COLOR"] = "1"
    out.update(extra)
    return out


def command(*args: str) -> list[str]:
    return [PYTHON, "-m", "kubesync", *args]


def run(*args: str, kubeconfig: str | None = None, env_extra: dict[str, str] | None = None, no_color: bool = True,
        cwd: str | Path | None = None, input: str | None = None, timeout: float = 120,
        check_code: int | None = None) -> subprocess.CompletedProcess:
    """`python -m kubesync ARGS` from the repository root; with `check_code`, assert the exit code
    (the message shows both streams)."""
    proc = subprocess.run(command(*args), cwd=str(cwd or REPO_ROOT), capture_output=True, text=True, input=input,
                          timeout=timeout, env=env(kubeconfig, no_color=no_color, **(env_extra or {})))
    if check_code is not None:
        assert proc.returncode == check_code, f"exit {proc.returncode}, wanted {check_code}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc
