"""Two daemons, one Lease: only the leader writes; a dead leader is replaced within a lease duration;
SIGTERM exits 0 and hands the Lease over at once."""

from __future__ import annotations

import secrets
import time

import pytest

from tests.integration.daemon_harness import DaemonProcess, cm_data, configmap_yaml, data_is, wait_until
from tests.support.manifests import write

pytestmark = pytest.mark.integration


def lease_of(cluster, namespace: str, name: str) -> dict:
    lease = cluster.get_or_none(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")
    return (lease or {}).get("spec") or {}


def holder(cluster, namespace: str, name: str) -> str:
    return lease_of(cluster, namespace, name).get("holderIdentity") or ""


def test_two_daemons_share_the_work_and_a_killed_leader_is_replaced(kubeconfig, cluster, namespace, tmp_path):
    src = write(tmp_path / "src", {"cm.yaml": configmap_yaml("shared", namespace, a="1")})
    lease = f"lease-{secrets.token_hex(3)}"
    duration = 4.0
    args = [str(src), "--name", f"ha-{secrets.token_hex(3)}", "--interval", "5m", "--self-heal",
            "--leader-elect", "--lease-namespace", namespace, "--lease-name", lease, "--lease-duration", f"{duration:g}s"]
    with DaemonProcess(args, kubeconfig, tmp_path, "a") as a, DaemonProcess(args, kubeconfig, tmp_path, "b") as b:
        id_a = a.wait_ready()["identity"]
        id_b = b.wait_ready()["identity"]
        assert id_a != id_b
        first = wait_until(lambda: holder(cluster, namespace, lease), 10, what="a leader elected")
        leader, follower, id_leader, id_follower = (a, b, id_a, id_b) if first == id_a else (b, a, id_b, id_a)
        wait_until(data_is(cluster, namespace, "shared", a="1"), 15, what="first apply")
        wait_until(lambda: leader.metric("kubesync_leader") == 1 and follower.metric("kubesync_leader") == 0, 5, what="leader gauges")

        files = follower.metric("kubesync_triggers_total", sync=args[2], trigger="file") or 0
        (src / "cm.yaml").write_text(configmap_yaml("shared", namespace, a="2"))
        wait_until(data_is(cluster, namespace, "shared", a="2"), 10, what="edit applied by the leader")
        # The follower saw the edit too and has planned it (it plans every sync, only the leader writes).
        wait_until(lambda: (follower.metric("kubesync_triggers_total", sync=args[2], trigger="file") or 0) > files, 10,
                   what="the follower's run for the edit")
        wait_until(lambda: follower.settled(args[2]), 10, what="the follower's runs done")
        assert not [k for k in follower.metrics() if k[0] == "kubesync_objects_total"], "a follower wrote"
        assert follower.check_alive() is None

        killed = time.monotonic()
        leader.kill()  # SIGKILL: no release, the Lease must expire
        wait_until(lambda: holder(cluster, namespace, lease) == id_follower, duration + 5, interval=0.1, what="takeover")
        took = time.monotonic() - killed
        assert took <= duration + 2.0, f"takeover took {took:.1f}s with a {duration:g}s lease"
        assert lease_of(cluster, namespace, lease)["leaseTransitions"] >= 1

        # The new leader writes: a source edit and a revert of drift.
        (src / "cm.yaml").write_text(configmap_yaml("shared", namespace, a="3"))
        wait_until(data_is(cluster, namespace, "shared", a="3"), 10, what="edit applied by the new leader")
        cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/shared", body={"data": {"a": "x"}},
                        content_type="application/merge-patch+json")
        wait_until(data_is(cluster, namespace, "shared", a="3"), 10, what="drift reverted by the new leader")
        assert follower.metric("kubesync_leader") == 1
        assert (follower.metric("kubesync_objects_total", sync=args[2], action="patched") or 0) >= 1
        assert follower.terminate() == 0
        assert cm_data(cluster, namespace, "shared") == {"a": "3"}


def test_sigterm_exits_zero_and_releases_the_lease(kubeconfig, cluster, namespace, tmp_path):
    src = write(tmp_path / "src", {"cm.yaml": configmap_yaml("handover", namespace, a="1")})
    lease = f"lease-{secrets.token_hex(3)}"
    # A long lease: a quick takeover can only come from the release, not from expiry.
    args = [str(src), "--name", f"term-{secrets.token_hex(3)}", "--interval", "5m",
            "--leader-elect", "--lease-namespace", namespace, "--lease-name", lease, "--lease-duration", "60s"]
    with DaemonProcess(args, kubeconfig, tmp_path, "a") as a:
        id_a = a.wait_ready()["identity"]
        wait_until(lambda: holder(cluster, namespace, lease) == id_a, 10, what="a leads")
        wait_until(data_is(cluster, namespace, "handover", a="1"), 15, what="first apply")
        with DaemonProcess(args, kubeconfig, tmp_path, "b") as b:
            id_b = b.wait_ready()["identity"]
            stopped = time.monotonic()
            assert a.terminate() == 0
            assert "released the lease" in a.log()
            wait_until(lambda: holder(cluster, namespace, lease) == id_b, 10, interval=0.1, what="b takes the released lease")
            assert time.monotonic() - stopped < 10
            assert b.terminate() == 0
    spec = lease_of(cluster, namespace, lease)
    assert spec.get("holderIdentity") in ("", None) and spec["leaseDurationSeconds"] == 1


def test_sigterm_abandons_a_hung_write_wave_and_exits_zero(kubeconfig, cluster, namespace, tmp_path):
    """A pruned object held by a finalizer keeps the delete wave waiting; SIGTERM must not wait for it."""
    src = write(tmp_path / "src", {
        "keep.yaml": configmap_yaml("keep", namespace, a="1"),
        "held.yaml": configmap_yaml("held", namespace, b="2"),
    })
    lease = f"lease-{secrets.token_hex(3)}"
    args = [str(src), "--name", f"hung-{secrets.token_hex(3)}", "--prune", "--interval", "5m",
            "--leader-elect", "--lease-namespace", namespace, "--lease-name", lease, "--lease-duration", "30s"]
    held = f"/api/v1/namespaces/{namespace}/configmaps/held"
    try:
        with DaemonProcess(args, kubeconfig, tmp_path) as d:
            identity = d.wait_ready()["identity"]
            wait_until(data_is(cluster, namespace, "held", b="2"), 15, what="first apply")
            cluster.request("PATCH", held, body={"metadata": {"finalizers": ["example.com/hold"]}},
                            content_type="application/merge-patch+json")
            (src / "held.yaml").unlink()
            wait_until(lambda: (cluster.get_or_none(held) or {}).get("metadata", {}).get("deletionTimestamp"), 15,
                       what="prune started (and hangs on the finalizer)")
            wait_until(lambda: d.metric("kubesync_workers_busy") == 1, 5, what="the run waiting in its delete wave")
            stopped = time.monotonic()
            assert d.terminate(20) == 0
            assert time.monotonic() - stopped < 10
            assert "apply interrupted" in d.log() and "alert sync_failed" not in d.log()
            assert holder(cluster, namespace, lease) in ("", None) and holder(cluster, namespace, lease) != identity
    finally:
        cluster.request("PATCH", held, body={"metadata": {"finalizers": None}}, content_type="application/merge-patch+json")
