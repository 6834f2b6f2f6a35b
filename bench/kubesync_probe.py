"""Run the kubesync CLI in this process, then report its client-side request counts and peak RSS.

    python bench/kubesync_probe.py plan SOURCE --kubeconfig F ...     (same arguments as `kubesync`)

The benchmark times this process as it would time `python -m kubesync`: the CLI runs unchanged, in
the same interpreter. The only addition is bookkeeping the CLI has no flag for: a request hook
(`kubesync.cluster.client.add_request_hook`) counts every request sent, and at exit the counts are
written as JSON to $KUBESYNC_BENCH_REPORT with the process's own peak RSS.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
from collections import Counter

_API_PREFIX = re.compile(r"^/(api/[^/]+|apis/[^/]+/[^/]+)(/.*)?$")


def request_class(method: str, path: str) -> str:
    """`discovery`, `list`, `get`, `create`, `patch`, ... from a request's method and path."""
    m = _API_PREFIX.match(path.split("?", 1)[0])
    if not m:
        return f"{method.lower()} other"
    rest = [s for s in (m.group(2) or "").split("/") if s]
    if not rest:
        return "discovery"
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    collection = len(rest) == 1
    if method == "GET":
        return "list" if collection else "get"
    return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())


def main() -> int:
    from kubesync.cluster.client import add_request_hook

    by_method: Counter = Counter()
    kinds: Counter = Counter()
    retries = 0

    def count(method: str, path: str, attempt: int) -> None:
        nonlocal retries
        by_method[method] += 1
        retries += attempt > 0
        if method != "WATCH" and attempt == 0:  # a class per request made, as before; retries counted apart
            kinds[request_class(method, path)] += 1

    add_request_hook(count)

    from kubesync.cli import main as cli_main

    rc = 1
    try:
        rc = cli_main(sys.argv[1:])
    except SystemExit as e:  # argparse
        rc = e.code if isinstance(e.code, int) else 1
    finally:
        path = os.environ.get("KUBESYNC_BENCH_REPORT")
        if path:
            report = {
                "rc": rc,
                "requests": sum(by_method.values()),
                "by_method": dict(by_method),
                "by_class": dict(kinds),
                "retries": retries,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
            with open(path, "w") as f:
                json.dump(report, f)
    return rc


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    raise SystemExit(main())
