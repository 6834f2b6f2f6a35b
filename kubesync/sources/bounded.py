"""Run a renderer (helm, kustomize, the Jsonnet worker) on hostile input, with hard bounds.

Whoever can push to a synced repository controls what the renderer is asked to do: a template that
loops to a gigabyte, an evaluation that never ends. Each run here therefore has

- a wall-clock timeout, after which the whole process group is killed (kustomize starts helm);
- a memory bound: the group's resident memory is sampled every few milliseconds and the group is
  killed past it (Go programs reserve far more address space than they use, so RLIMIT_AS cannot do
  it), and the output cannot grow a file past the size limit (RLIMIT_FSIZE);
- the output read through a pipe, kept only up to the limit (past it the group is killed); every input
  (stdin, and `Piped` files such as decrypted values) fed through pipes: nothing passes through a file;
- a private, clean environment: no inherited credentials or kubeconfig, a private HOME, and
  unless the caller allows the network, proxies that refuse every connection.

Failures are `Bounded` errors naming what ran, so each caller words them for its source.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MiB = 2**20
POLL = 0.01  # seconds between memory samples: a Go program allocates about 1 GiB/s at most on one core
STDERR_LIMIT = 64 * 1024  # bytes of stderr kept for the error message
NO_PROXY_ADDRESS = "http://127.0.0.1:9"  # the discard port: nothing listens, every proxied request is refused


@dataclass(frozen=True)
class Limits:
    """How much one rendering may take."""

    timeout: float = 60.0
    """Seconds of wall-clock time."""
    max_output: int = 256 * MiB
    """Bytes of output (stdout), and of any file the process writes."""
    max_memory: int = 1024 * MiB
    """Bytes of resident memory of the whole process group."""


class Bounded(Exception):
    """A run passed a bound, or could not start. `kind`: 'timeout', 'memory', 'output' or 'start'."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: bytes
    stderr: str


def clean_env(home: Path, *, network: bool = False, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A renderer's environment: PATH and locale, a private HOME, nothing else of ours (no KUBECONFIG, no
    cloud credentials); proxies pointing at a closed port unless `network` (then the caller's proxy settings)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "TMPDIR": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config")}
    if network:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "SSL_CERT_FILE",
                     "SSL_CERT_DIR"):
            if name in os.environ:
                env[name] = os.environ[name]
    else:
        env.update({"HTTPS_PROXY": NO_PROXY_ADDRESS, "HTTP_PROXY": NO_PROXY_ADDRESS, "ALL_PROXY": NO_PROXY_ADDRESS,
                    "https_proxy": NO_PROXY_ADDRESS, "http_proxy": NO_PROXY_ADDRESS, "NO_PROXY": "", "no_proxy": ""})
    env.update(extra or {})
    return env


def _limit_files(max_bytes: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes + 1, max_bytes + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    return preexec


def _group_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (read from /proc; 0 once it is gone)."""
    total, todo, seen = 0, [pid], set()
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm", "rb") as f:
                total += int(f.read().split()[1]) * page
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", "rb") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def _kill(proc: subprocess.Popen) -> None:
    _kill_group(proc)
    proc.wait()


def _watch(proc: subprocess.Popen, what: str, limits: Limits) -> None:
    """Wait for the process, killing its group past the timeout or the memory bound."""
    deadline = time.monotonic() + limits.timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            _kill(proc)
            raise Bounded("timeout", f"{what} did not finish within {limits.timeout:g}s")
        rss = _group_rss(proc.pid)
        if rss > limits.max_memory:
            _kill(proc)
            raise Bounded("memory", f"{what} used more than {limits.max_memory // MiB} MiB of memory "
                                    "(a template or function that loops?)")
        time.sleep(POLL)


@dataclass(frozen=True)
class Piped:
    """An argument of `run` naming one of its `piped` inputs: the program reads it as a file (/dev/fd/N) fed
    through a pipe, so what it holds (a decrypted values file) is never written to a file."""

    index: int


class _Streams:
    """The program's stdin, stdout, stderr and piped inputs, each a pipe served by a thread: stdout is kept up
    to the output limit (past it the group is killed), stderr's last STDERR_LIMIT bytes, nothing on disk."""

    def __init__(self, stdin: bytes | None, piped: list[bytes]):
        self.feeds = [(os.pipe(), data) for data in piped]
        self.stdin = stdin
        self.out: list[bytes] = []
        self.err = bytearray()
        self.overflow = False
        self.threads: list[threading.Thread] = []

    def argv(self, argv: list) -> list[str]:
        return [f"/dev/fd/{self.feeds[a.index][0][0]}" if isinstance(a, Piped) else a for a in argv]

    def readers(self) -> tuple[int, ...]:
        return tuple(read for (read, _), _ in self.feeds)

    def serve(self, proc: subprocess.Popen, max_output: int) -> None:
        for (read, write), data in self.feeds:
            os.close(read)  # the program holds its copy; ours would keep the pipe open after it exits
            self._thread(_feed, os.fdopen(write, "wb"), data)
        self._thread(_feed, proc.stdin, self.stdin or b"")
        self._thread(self._read_out, proc, max_output)
        self._thread(self._read_err, proc.stderr)

    def _thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _read_out(self, proc: subprocess.Popen, max_output: int) -> None:
        size = 0
        while chunk := proc.stdout.read(65536):
            size += len(chunk)
            if size > max_output:
                self.overflow = True
                _kill_group(proc)
                break
            self.out.append(chunk)
        proc.stdout.close()

    def _read_err(self, stream) -> None:
        while chunk := stream.read(65536):
            self.err += chunk
            del self.err[:-STDERR_LIMIT]
        stream.close()

    def close(self) -> None:
        for thread in self.threads:
            thread.join(5)
        for (read, write), _ in self.feeds:
            for fd in (read, write):
                try:
                    os.close(fd)
                except OSError:
                    pass  # closed by its thread (or above)


def _feed(stream, data: bytes) -> None:
    try:
        stream.write(data)
    except OSError:
        pass  # the program did not read it all (it exited, or was killed): its exit code says why
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv: list, what: str, limits: Limits, *, env: dict[str, str], cwd: str | None = None,
        stdin: bytes | None = None, piped: list[bytes] | None = None) -> Result:
    """Run `argv` under `limits`; Bounded when it passes one. A non-zero exit is returned, not raised.
    `piped`: inputs the program reads as files, named in `argv` by `Piped(i)`."""
    streams = _Streams(stdin, list(piped or ()))
    try:
        try:
            proc = subprocess.Popen(streams.argv(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=cwd, env=env, start_new_session=True, preexec_fn=_limit_files(limits.max_output),
                                    close_fds=True, pass_fds=streams.readers())
        except OSError as e:
            raise Bounded("start", f"cannot run {argv[0]}: {e.strerror or e}") from e
        streams.serve(proc, limits.max_output)
        try:
            _watch(proc, what, limits)
        except BaseException:
            _kill(proc)
            raise
        _kill_group(proc)  # what it started and left behind would hold its stdout open
    finally:
        streams.close()
    if streams.overflow or proc.returncode == -signal.SIGXFSZ:
        raise Bounded("output", f"{what} wrote more than {limits.max_output // MiB} MiB (the output limit)")
    return Result(proc.returncode, b"".join(streams.out), bytes(streams.err).decode("utf-8", "replace"))
