"""The one way tests and benchmarks run the CLI as a subprocess: `run` for a command that ends,
`popen` for one left running (the daemon, an apply to interrupt, a terminal to read). Both start the
same interpreter in the repository root with the same environment rules, so a test cannot pass only
because its child saw the developer's colour setting, kubeconfig or another Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def env(kubeconfig: str | None = None, *, no_color: bool = True, **extra: str) -> dict[str, str]:
    """The process environment for a kubesync subprocess: KUBECONFIG when given; NO_COLOR set, or
    with `no_color=False` removed even when the caller's shell sets it (colour is then the CLI's own
    choice: on a terminal only)."""
    out = dict(os.environ)
    if kubeconfig:
        out["KUBECONFIG"] = str(kubeconfig)
    if no_color:
        out["NO_COLOR"] = "1"
    else:
        out.pop("NO_COLOR", None)
    out.update(extra)
    return out


def command(*args: str) -> list[str]:
    return [PYTHON, "-m", "kubesync", *map(str, args)]


def run(*args: str, kubeconfig: str | None = None, env_extra: dict[str, str] | None = None, no_color: bool = True,
        cwd: str | Path | None = None, input: str | None = None, timeout: float = 120,
        check_code: int | None = None) -> subprocess.CompletedProcess:
    """`python -m kubesync ARGS` from the repository root; with `check_code`, assert the exit code
    (the message shows both streams). Without `input`, stdin is empty (a prompt reads end of file)."""
    proc = subprocess.run(command(*args), cwd=str(cwd or REPO_ROOT), capture_output=True, text=True, input=input,
                          stdin=subprocess.DEVNULL if input is None else None,
                          timeout=timeout, env=env(kubeconfig, no_color=no_color, **(env_extra or {})))
    if check_code is not None:
        assert proc.returncode == check_code, f"exit {proc.returncode}, wanted {check_code}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def popen(*args: str, kubeconfig: str | None = None, env_extra: dict[str, str] | None = None, no_color: bool = True,
          cwd: str | Path | None = None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text: bool = True,
          die_with_parent: bool = False, nofile: int | None = None) -> subprocess.Popen:
    """`python -m kubesync ARGS` started and left running, with `run`'s interpreter, folder and
    environment; stdin is empty. `stdout`/`stderr` as for subprocess.Popen (a file for output larger
    than a pipe holds, a terminal). `die_with_parent`: its own session, killed by the kernel when the
    test process dies, so a daemon never outlives an interrupted run. `nofile`: its file-descriptor limit
    (soft and hard), set before it starts. The caller waits for it or kills it."""
    preexec = None
    if die_with_parent or nofile:
        from kubesync.localcluster import _die_with_parent

        def preexec() -> None:
            if die_with_parent:
                _die_with_parent()
            if nofile:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return subprocess.Popen(command(*args), cwd=str(cwd or REPO_ROOT), stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=stderr, text=text, env=env(kubeconfig, no_color=no_color, **(env_extra or {})),
                            preexec_fn=preexec)
