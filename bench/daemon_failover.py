"""bench/daemon.py's failover run: two sharded replicas on one config, one killed with SIGKILL.

A sync belongs to shard sha256(name) % 8 (kubesync.daemon.election.shards) and a shard to whoever holds its
Lease, so each replica's share is read from the shard Leases once the two have balanced. The killed
replica's syncs are the orphaned ones: they converge only after the survivor has taken their shard
Leases over (a lease duration after the kill, plus a run). Which syncs each replica actually wrote to
(kubesync_objects_total) is reported too: the first replica up holds every shard until the second joins.
"""

from __future__ import annotations

import time

from daemon_objects import SET_LABEL, sync_name, write_config, write_folders
from daemon_probe import BenchFailure, Daemon, wait_converged

from kubesync import errors
from kubesync.cluster import leases
from kubesync.cluster.api import Client
from kubesync.daemon.election.shards import shard_lease, shard_of
from tests.support import cli

SHARDS = 8
LEASE_S = 15.0
LEASE_NAMESPACE = "bench-daemon-leases"
LEASE_PREFIX = "bench-shard"
NEW_VALUE = "v2"
IDENTITIES = ("bench-a", "bench-b")


def shard_flags(identity: str) -> list[str]:
    return ["--shards", str(SHARDS), "--lease-namespace", LEASE_NAMESPACE, "--lease-name", LEASE_PREFIX,
            "--lease-duration", f"{LEASE_S:g}s", "--identity", identity, "--lease-holders", "bench-[ab]"]


def holders(cluster) -> dict[int, str]:
    """{shard: holder identity} from the shard Leases ('' for a free one)."""
    out = {}
    for i in range(SHARDS):
        lease = leases.get(Client(cluster), LEASE_NAMESPACE, shard_lease(LEASE_PREFIX, i)) or {}
        out[i] = str((lease.get("spec") or {}).get("holderIdentity") or "")
    return out


def wait_balanced(cluster, timeout: float) -> tuple[dict[int, str], float]:
    """The shard holders once both replicas hold half the shards (or as they are after `timeout`)."""
    start = time.monotonic()
    while True:
        held = holders(cluster)
        counts = [sum(1 for h in held.values() if h == who) for who in IDENTITIES]
        if counts == [SHARDS // 2, SHARDS - SHARDS // 2] or time.monotonic() - start > timeout:
            return held, time.monotonic() - start
        time.sleep(1.0)


def missing_shards() -> str | None:
    """Why this kubesync cannot run sharded replicas, or None when `kubesync daemon --help` offers --shards."""
    got = cli.run("daemon", "--help", timeout=60)
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


def wait_values(cluster, prefix: str, groups: dict[str, set[str]], since: float, timeout: float) -> dict:
    """{"<group>_s": seconds from `since` until every sync of the group has NEW_VALUE in the cluster}."""
    out: dict = {f"{group}_s": None for group in groups}
    while time.monotonic() - since < timeout:
        done = {ns for ns, v in cm_values(cluster, prefix).items() if v == NEW_VALUE}
        now = round(time.monotonic() - since, 2)
        for group, names in groups.items():
            if out[f"{group}_s"] is None and names <= done:
                out[f"{group}_s"] = now
        if None not in out.values():
            return out
        time.sleep(0.5)
    missing = set().union(*groups.values()) - done
    raise BenchFailure(f"failover: {len(missing)} ConfigMaps still without the new value {timeout:.0f} s after the kill "
                       f"(e.g. in namespace {sorted(missing)[0]})")


def ensure_namespace(cluster, name: str) -> None:
    try:
        cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except errors.ClusterConflict:
        pass


def unavailable(result: dict, why: str) -> dict:
    print(f"  failover: not available: {why}", flush=True)
    return {**result, "unavailable": why}


def failover(bench, n: int) -> dict:
    """The run; `bench` is the DaemonBench (cluster, workdir, logdir, args)."""
    result: dict = {"n": n, "shards": SHARDS, "lease_s": LEASE_S}
    why = missing_shards()
    if why:
        return unavailable(result, why)
    prefix = f"bf{n}"
    root = bench.workdir / prefix
    write_folders(root, prefix, n)
    cfg = write_config(bench.workdir / f"{prefix}.kubesync.yaml", prefix, n, folders_root=root)
    names = {sync_name(prefix, i) for i in range(n)}
    ensure_namespace(bench.cluster, LEASE_NAMESPACE)
    print(f"  failover N={n}: two replicas, {SHARDS} shards, lease {LEASE_S:g} s", flush=True)
    replicas = [Daemon(cfg, bench.kubeconfig, bench.logdir, f"{prefix}-{who}", extra=[*shard_flags(who), *bench.args.daemon_args],
                       env=bench.daemon_env)
                for who in IDENTITIES]
    try:
        why = refused(replicas)
        if why:
            return unavailable(result, why)
        result["converge_s"] = round(wait_converged(replicas, names, bench.args.timeout), 2)
        held, balance_s = wait_balanced(bench.cluster, 4 * LEASE_S)
        if not any(held.values()):
            return unavailable(result, f"the daemon accepts --shards but no replica took a shard Lease in {balance_s:.0f} s")
        owner = {name: held[shard_of(name, SHARDS)] for name in names}
        orphaned = {name for name, who in owner.items() if who == IDENTITIES[0]}
        result.update(applied=[sum(1 for who in owner.values() if who == x) for x in IDENTITIES], orphaned=len(orphaned),
                      balanced_after_s=round(balance_s, 1), shard_holders=held,
                      wrote=[len(r.wrote_syncs()) for r in replicas])
        killed = time.monotonic()
        replicas[0].kill()
        write_folders(root, prefix, n, value=NEW_VALUE)
        groups = {"all": names, "orphaned": orphaned, "survivor": names - orphaned}
        result.update(wait_values(bench.cluster, prefix, groups, killed, bench.args.timeout))
    finally:
        replicas[0].kill()
        replicas[1].stop()
    print(f"  failover: {result['applied']} syncs per replica; all updated {result['all_s']} s after the kill "
          f"(the survivor's own in {result['survivor_s']} s, the {result['orphaned']} orphaned in {result['orphaned_s']} s)", flush=True)
    return result
