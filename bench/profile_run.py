#!/usr/bin/env python3
"""Profile one kubesync command in-process (the way the benchmark's hot spots were found).

    .venv/bin/python bench/profile_run.py plan DIR --name SYNC --kubeconfig F [--no-color ...]
    PROFILER=cprofile .venv/bin/python bench/profile_run.py apply DIR --name SYNC --kubeconfig F --yes

Uses pyinstrument when it is installed (`.venv/bin/pip install pyinstrument`; not a project
dependency), else cProfile. The command's own output is discarded; the profile, the wall and CPU
time and the client-side request count go to stderr. Only the main thread is sampled: apply's
worker threads show up as waiting, so profile writes with `ApplySettings(concurrency=1)` in mind.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time


def main(argv: list[str]) -> int:
    start, cpu = time.perf_counter(), time.process_time()
    which = os.environ.get("PROFILER", "")
    profiler = None
    if which != "cprofile":
        try:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        except ImportError:
            pass
    if profiler is None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.start = profiler.enable  # type: ignore[method-assign]
        profiler.stop = profiler.disable  # type: ignore[method-assign]

    from kubesync.cluster.client import add_request_hook

    sent = []
    add_request_hook(lambda method, path, attempt: sent.append(method))
    profiler.start()
    from kubesync.cli import main as cli_main

    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli_main(argv)
    profiler.stop()
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    if hasattr(profiler, "output_text"):
        print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
    else:
        import pstats

        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    requests = len(sent)
    print(f"exit {rc}; wall {wall:.2f} s, CPU {used:.2f} s (profiler overhead included); {requests} requests", file=sys.stderr)
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
