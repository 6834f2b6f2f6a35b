#!/usr/bin/env python3
"""How the default of `--concurrency` was chosen: a first sync of N objects at each concurrency.

    .venv/bin/python bench/concurrency.py [--objects 1000] [--levels 1,4,8,16,32] [--kubeconfig F]

Each level applies a fresh set (its own namespaces) with `kubesync apply --concurrency LEVEL`, waits
for the controllers to settle, and deletes the set before the next level, so no level pays for
another's leftovers. Without --kubeconfig the embedded control plane is started and stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import Bench, generate, workspace_cluster  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=1000)
    p.add_argument("--levels", default="1,4,8,16,32", help="comma-separated concurrency levels")
    p.add_argument("--kubeconfig", help="use this cluster instead of starting the embedded control plane")
    args = p.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    with workspace_cluster(args.kubeconfig, "kubesync-concurrency-") as (kubeconfig, workdir):
        bench = Bench(args, kubeconfig, workdir)
        results = []
        for level in levels:
            prefix = f"cc{level}"
            src = generate(workdir / prefix, prefix, args.objects)
            run = bench.kubesync("first sync", "apply", src, prefix, "--yes", "--concurrency", str(level))
            results.append((level, run.seconds, run.requests))
            print(f"  concurrency {level:>3}: {run.seconds:6.2f} s  {run.requests} requests", flush=True)
            bench.settle(prefix)
            bench.delete_set(prefix, prefix)
        best = min(results, key=lambda r: r[1])
        print(f"\nfastest: --concurrency {best[0]} ({best[1]:.2f} s for {args.objects} objects)")
        return 0

if __name__ == "__main__":
    raise SystemExit(main())
