"""`kubesync apply --wait`: wait until every applied object is Healthy, or fail with the reasons."""

from __future__ import annotations

import time

from kubesync import errors


def read_health(cluster, discovery, refs):
    from kubesync.health import assess

    out = {}
    for ref in refs:
        rtype = discovery.resource_for(ref.api_version, ref.kind)
        live = cluster.get_or_none(rtype.path(ref.namespace, ref.name)) if rtype else None
        out[ref] = assess(live)
    return out


def wait_healthy(args, cluster, discovery, planned, interval: float = 1.0) -> int:
    from kubesync.config import parse_duration
    from kubesync.health import HealthStatus

    timeout = parse_duration(args.timeout)
    refs = [r.ref for r in planned.resolved]
    deadline = time.monotonic() + timeout
    last_waiting: tuple = ()
    while True:
        health = read_health(cluster, discovery, refs)
        waiting = tuple(sorted((str(ref), str(h)) for ref, h in health.items() if h.status is not HealthStatus.HEALTHY))
        if not waiting:
            print(f"All {len(refs)} object(s) are Healthy.", flush=True)
            return 0
        if waiting != last_waiting:
            print(f"Waiting for {len(waiting)} object(s):", flush=True)
            for ref, h in waiting:
                print(f"  {ref}: {h}", flush=True)
            last_waiting = waiting
        if time.monotonic() >= deadline:
            raise errors.KubesyncError(
                f"timed out after {args.timeout} waiting for {len(waiting)} object(s) to become Healthy:\n"
                + "\n".join(f"  {ref}: {h}" for ref, h in waiting)
            )
        time.sleep(interval)
