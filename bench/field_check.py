#!/usr/bin/env python3
"""What the unknown-field check of servers without strict field validation (before 1.25) costs.

    .venv/bin/python bench/field_check.py --kubeconfig F [--objects 1000] [--repeat 5]

Reads the benchmark's objects (bench.generate: ConfigMaps, Deployments and Services in 10 namespaces),
resolves them against the cluster and times, in process:

  schemas   reading the kinds' schemas with their known fields, from a cold cache (once per server
            version or OpenAPI v3 hash: the next runs read them from disk), and from the warm cache
  check     validate.unknown_fields over every object, as each plan on such a server runs it (best of
            --repeat), in microseconds per object

Needs a running cluster (`kubesync cluster up --kubernetes-version 1.20`); nothing is written to it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate  # noqa: E402

from kubesync.cluster.api import Client  # noqa: E402
from kubesync.cluster.discovery import Discovery  # noqa: E402
from kubesync.model import Action, ActionType, Plan  # noqa: E402
from kubesync.resolve import resolve, with_schemas  # noqa: E402
from kubesync.sources import SourceSpec, load  # noqa: E402
from kubesync.validate import unknown_fields  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--objects", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kubesync-field-check-") as tmp:
        os.environ["KUBESYNC_CACHE_DIR"] = str(Path(tmp) / "cache")  # a cold schema cache, then a warm one
        desired = load(SourceSpec(path=str(generate(Path(tmp) / "src", "fc", args.objects))))
        client = Client.connect(args.kubeconfig)
        timings = {}
        for label in ("cold", "warm"):
            discovery = Discovery(client)
            resolved = resolve(desired.manifests, discovery.resource_for, "default")
            start = time.perf_counter()
            resolved = with_schemas(resolved, discovery.schemas(r.rtype for r in resolved))
            timings[label] = time.perf_counter() - start
        version = discovery.server_version()
    plan = Plan("fc", "bench", "r0", tuple(Action(ActionType.CREATE, r.ref, desired=r.obj) for r in resolved))
    fields = {r.ref.key: r.schema.fields if r.schema is not None else None for r in resolved}
    best, found, checked = float("inf"), {}, 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        found, checked = unknown_fields(plan, lambda a: fields[a.ref.key])
        best = min(best, time.perf_counter() - start)
    print(f"server {version}: {len(plan.actions)} objects, {checked} checked against their schema, {len(found)} with unknown fields")
    print(f"schemas with known fields: cold cache {timings['cold']:.2f} s, warm cache {timings['warm'] * 1000:.0f} ms")
    print(f"check: {best * 1000:.1f} ms for all, {best / max(1, checked) * 1e6:.0f} us per object (best of {args.repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
