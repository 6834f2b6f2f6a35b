"""Which replica may write which sync: every rule about Leases in one place.

    claim.py    one identity's claim on one Lease (client-go's leaderelection rules), used by both modes
    leader.py   single-leader mode (--leader-elect): one Lease, the holder applies every sync
    shards.py   --shards N: a Lease per shard and one per replica, syncs split by sha256(name) % N

The Lease calls themselves live in cluster/leases.py. A sync's run asks only `owns(sync)` (may it
write now), so it never knows which mode it is in; the daemon (runner.py) picks the elector.
"""
