"""bench/daemon.py's failover run: two sharded replicas on one config, one killed with SIGKILL.

Each replica's share is the syncs it applied (its kubesync_sync_runs_total{result="success"}); the
killed replica's share is the orphaned half, which only converges once the survivor has taken over
the dead replica's shard Leases (at most a lease duration after the kill, plus a run).
"""

from __future__ import annotations

import subprocess
import sys
import time

from daemon_objects import SET_LABEL, sync_name, write_config, write_folders
from daemon_probe import ROOT, BenchFailure, Daemon, wait_converged

from kubesync import errors

SHARDS = 8
LEASE_S = 15.0
LEASE_NAMESPACE = "bench-daemon-leases"
NEW_VALUE = "v2"


def shard_flags(identity: str) -> list[str]:
    return ["--shards", str(SHARDS), "--lease-namespace", LEASE_NAMESPACE, "--lease-duration", f"{LEASE_S:g}s", "--identity", identity]


def missing_shards() -> str | None:
    """Why this kubesync cannot run sharded replicas, or None when `kubesync daemon --help` offers --shards."""
    got = subprocess.run([sys.executable, "-m", "kubesync", "daemon", "--help"], capture_output=True, text=True, cwd=str(ROOT),
                         timeout=60)
    return None if "--shards" in got.stdout else "this daemon has no --shards"


def refused(daemons: list[Daemon], wait: float = 5.0) -> str | None:
    """A usage error (exit 2) of either replica in its first seconds: the flags were refused."""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        for d in daemons:
            if not d.alive():
                tail = d.log_tail(600).strip().splitlines()
                return f"the daemon refused the sharding flags (exit {d.proc.returncode}): {tail[-1] if tail else ''}"
        time.sleep(0.5)
    return None


def cm_values(cluster, prefix: str) -> dict[str, str]:
    """{namespace: data.value} of every sync's cm-0, in one LIST."""
    items = cluster.get("/api/v1/configmaps", labelSelector=f"{SET_LABEL}={prefix}", fieldSelector="metadata.name=cm-0").get("items", [])
    return {cm["metadata"]["namespace"]: (cm.get("data") or {}).get("value", "") for cm in items}


def wait_values(cluster, prefix: str, names: set[str], orphaned: set[str], since: float, timeout: float) -> dict:
    """Seconds from `since` until the orphaned syncs, and then all, have NEW_VALUE in the cluster."""
    out: dict = {"all_s": None, "orphaned_s": None}
    while time.monotonic() - since < timeout:
        done = {ns for ns, v in cm_values(cluster, prefix).items() if v == NEW_VALUE}
        now = time.monotonic() - since
        if out["orphaned_s"] is None and orphaned <= done:
            out["orphaned_s"] = round(now, 2)
        if names <= done:
            out["all_s"] = round(now, 2)
            return out
        time.sleep(0.5)
    raise BenchFailure(f"failover: {len(names - done)} of {len(names)} ConfigMaps still without the new value "
                       f"{timeout:.0f} s after the kill")


def ensure_namespace(cluster, name: str) -> None:
    try:
        cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except errors.ClusterConflict:
        pass


def failover(bench, n: int) -> dict:
    """The run; `bench` is the DaemonBench (cluster, workdir, logdir, args)."""
    result: dict = {"n": n, "shards": SHARDS, "lease_s": LEASE_S}
    why = missing_shards()
    if why:
        print(f"  failover: not available: {why}", flush=True)
        return {**result, "unavailable": why}
    prefix = f"bf{n}"
    root = bench.workdir / prefix
    write_folders(root, prefix, n)
    cfg = write_config(bench.workdir / f"{prefix}.kubesync.yaml", prefix, n, folders_root=root)
    names = {sync_name(prefix, i) for i in range(n)}
    ensure_namespace(bench.cluster, LEASE_NAMESPACE)
    print(f"  failover N={n}: two replicas, {SHARDS} shards, lease {LEASE_S:g} s", flush=True)
    replicas = [Daemon(cfg, bench.kubeconfig, bench.logdir, f"{prefix}-{x}", extra=shard_flags(f"bench-{x}"), env=bench.daemon_env)
                for x in ("a", "b")]
    try:
        why = refused(replicas)
        if why:
            print(f"  failover: not available: {why}", flush=True)
            return {**result, "unavailable": why}
        result["converge_s"] = round(wait_converged(replicas, names, bench.args.timeout), 2)
        shares = [r.succeeded_syncs() for r in replicas]
        orphaned = shares[0] - shares[1]
        result.update(applied=[len(s) for s in shares], both=len(shares[0] & shares[1]), orphaned=len(orphaned))
        killed = time.monotonic()
        replicas[0].kill()
        write_folders(root, prefix, n, value=NEW_VALUE)
        result.update(wait_values(bench.cluster, prefix, names, orphaned, killed, bench.args.timeout))
    finally:
        replicas[0].kill()
        replicas[1].stop()
    print(f"  failover: applied {result['applied']}; all updated {result['all_s']} s after the kill "
          f"(orphaned {result['orphaned']} in {result['orphaned_s']} s)", flush=True)
    return result
