"""The pure parts of sharding: which shard a sync is in, fair shares, who gives up and takes what, --shards.

The election itself runs against the real control plane in tests/integration/test_daemon_shards.py.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from collections import Counter

import pytest

from kubesync.cli import build_parser
from kubesync.commands.daemon import settings_from
from kubesync.daemon.election.shards import fair_share, group_value, member_lease, preference, rebalance, shard_lease, shard_of
from kubesync.errors import UsageError


def test_shard_of_is_sha256_of_the_name_modulo_the_count():
    for name in ("shop", "web", "payments", "a", "", "ünïcode"):
        assert shard_of(name, 8) == int(hashlib.sha256(name.encode()).hexdigest(), 16) % 8
    # Pinned: a change here moves every sync of every installation to another shard.
    assert [shard_of(n, 8) for n in ("shop", "web", "payments", "a", "")] == [0, 2, 4, 3, 5]
    assert {shard_of(n, 1) for n in ("x", "y", "z")} == {0}


def test_shard_of_is_the_same_in_processes_with_different_hash_seeds():
    code = "from kubesync.daemon.election.shards import shard_of; print([shard_of(f'sync-{i}', 7) for i in range(50)])"
    outputs = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outputs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([shard_of(f"sync-{i}", 7) for i in range(50)])


def test_syncs_spread_evenly_over_the_shards():
    counts = Counter(shard_of(f"sync-{i}", 8) for i in range(1000))
    assert set(counts) == set(range(8))
    assert max(counts.values()) < 1.3 * 1000 / 8 and min(counts.values()) > 0.7 * 1000 / 8


@pytest.mark.parametrize("count, members, share", [(8, 1, 8), (8, 2, 4), (8, 3, 3), (8, 5, 2), (8, 8, 1), (8, 20, 1), (1, 2, 1),
                                                   (8, 0, 8)])
def test_fair_share_is_the_ceiling_so_the_shares_cover_every_shard(count, members, share):
    assert fair_share(count, members) == share
    assert fair_share(count, members) * max(1, members) >= count


def test_a_replica_above_its_share_gives_up_the_shards_it_wants_least():
    owned = list(range(8))
    give_up, take = rebalance("a", owned, [], 4)
    assert len(give_up) == 4 and take == ()
    ranked = sorted(owned, key=lambda s: preference("a", s))
    assert list(give_up) == ranked[4:]


def test_a_replica_below_its_share_tries_every_free_shard_in_its_own_order():
    give_up, take = rebalance("b", [1], [0, 2, 5, 7], 4)
    assert give_up == ()
    assert sorted(take) == [0, 2, 5, 7] and list(take) == sorted(take, key=lambda s: preference("b", s))
    assert rebalance("b", [1, 2, 3, 4], [0, 5], 4) == ((), ())  # at its share: nothing to do
    assert rebalance("b", [1, 2], [], 0)[0] == tuple(sorted([1, 2], key=lambda s: preference("b", s)))  # leaving


def test_replicas_rank_the_shards_differently():
    orders = {tuple(sorted(range(16), key=lambda s: preference(identity, s))) for identity in ("a", "b", "c")}
    assert len(orders) == 3


def test_lease_names():
    assert shard_lease("kubesync-shard", 3) == "kubesync-shard-3"
    name = member_lease("kubesync-shard", "pod-1-abc")
    assert name.startswith("kubesync-shard-member-") and len(name) == len("kubesync-shard-member-") + 10
    assert name != member_lease("kubesync-shard", "pod-2-abc")
    assert group_value("kubesync-shard") == "kubesync-shard"
    long = "x" * 80
    assert len(group_value(long)) <= 63 and group_value(long) != group_value("y" * 80)


def settings(argv: str):
    return settings_from(build_parser().parse_args(["daemon", *shlex.split(argv)]))


def test_shards_flags_fill_shard_settings(tmp_path):
    s = settings(f"{tmp_path} --name shop --shards 8 --lease-namespace kubesync-system --lease-duration 6s --identity me")
    assert s.shards is not None
    assert (s.shards.count, s.shards.prefix, s.shards.namespace, s.shards.duration, s.shards.identity) == (
        8, "kubesync-shard", "kubesync-system", 6.0, "me")
    assert (s.shards.renew_deadline, s.shards.retry_period) == (4.0, 0.75)
    assert not s.lease.enabled and s.lease.name == "kubesync-leader"
    assert settings(f"{tmp_path} --name shop --shards 2 --lease-name shop-shards").shards.prefix == "shop-shards"
    assert settings(f"{tmp_path} --name shop").shards is None
    assert settings(f"{tmp_path} --name shop --shards 0").shards is None
    assert settings(f"{tmp_path} --name shop --leader-elect --lease-name lead").lease.name == "lead"


@pytest.mark.parametrize("argv, message", [
    ("--shards 4 --leader-elect", "--shards and --leader-elect exclude each other"),
    ("--shards -1", "--shards: -1 is not between 0 .off. and 128"),
    ("--shards 1000", "--shards: 1000 is not between 0 .off. and 128"),
    ("--shards 2 --lease-name Shop_Shards", "--lease-name: 'Shop_Shards' cannot prefix Lease names"),
    ("--shards 2 --lease-name shop-", "--lease-name: 'shop-' cannot prefix Lease names"),
])
def test_shards_usage_errors(tmp_path, argv, message):
    with pytest.raises(UsageError, match=message):
        settings(f"{tmp_path} --name shop {argv}")


def test_shards_must_be_a_number(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["daemon", ".", "--shards", "many"])
    assert "--shards: invalid int value: 'many'" in capsys.readouterr().err
