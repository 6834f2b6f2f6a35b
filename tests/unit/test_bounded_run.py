"""sources/bounded.run: what a renderer reads and writes passes through pipes, bounded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from kubesync.sources import bounded

LIMITS = bounded.Limits(timeout=20, max_output=256 * 1024, max_memory=512 * bounded.MiB)


def python(code: str) -> list:
    return [sys.executable, "-c", code]


def test_stdout_stdin_and_the_end_of_stderr_come_back_whole(tmp_path):
    code = "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data[::-1]); sys.stderr.write('e' * 100000 + 'END')"
    done = bounded.run(python(code), "test", LIMITS, env=bounded.clean_env(tmp_path), stdin=b"abc" * 50000)
    assert done.returncode == 0 and done.stdout == (b"abc" * 50000)[::-1]
    assert done.stderr.endswith("END") and len(done.stderr) == bounded.STDERR_LIMIT


def test_piped_inputs_are_read_as_files_larger_than_a_pipe_buffer(tmp_path):
    """helm reads a decrypted values file as /dev/fd/N: a pipe, never a file on disk."""
    first, second = b"a: 1\n" * 40000, b"b: 2\n" * 30000
    code = "import sys; [sys.stdout.buffer.write(open(p, 'rb').read()) for p in sys.argv[1:]]"
    done = bounded.run(python(code) + [bounded.Piped(1), bounded.Piped(0)], "test", bounded.Limits(max_output=2**20),
                       env=bounded.clean_env(tmp_path), piped=[first, second])
    assert done.returncode == 0 and done.stdout == second + first
    assert list(tmp_path.iterdir()) == []  # nothing was written beside the program


def test_a_program_that_never_reads_its_piped_input_still_returns(tmp_path):
    done = bounded.run(python("print('done')") + [bounded.Piped(0)], "test", LIMITS, env=bounded.clean_env(tmp_path),
                       piped=[b"x" * (1 << 20)])
    assert done.returncode == 0 and done.stdout == b"done\n"


def test_output_past_the_limit_kills_the_program_and_says_so(tmp_path):
    code = "import sys\nwhile True: sys.stdout.write('y' * 65536)"
    with pytest.raises(bounded.Bounded) as e:
        bounded.run(python(code), "the renderer", LIMITS, env=bounded.clean_env(tmp_path))
    assert e.value.kind == "output" and "the renderer wrote more than 0 MiB" in str(e.value)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_program_past_its_time_is_killed_with_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    (tmp_path / "child.py").write_text(f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    code = (f"import subprocess, sys, time, os\nsubprocess.Popen([sys.executable, {str(tmp_path / 'child.py')!r}])\n"
            f"while not os.path.exists({str(pidfile)!r}): time.sleep(0.01)\ntime.sleep(60)\n")
    with pytest.raises(bounded.Bounded) as e:
        bounded.run(python(code), "slow", bounded.Limits(timeout=5), env=bounded.clean_env(tmp_path))
    assert e.value.kind == "timeout" and "slow did not finish within 5s" in str(e.value)
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10  # SIGKILL is sent before run returns; init reaps the orphan soon after
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(pid)
