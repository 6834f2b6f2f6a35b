"""Leases nobody else can hold (issue 31, finding 4), tried as a neighbour who may write Leases would:
one Lease with a foreign holder and `leaseDurationSeconds: 2000000000`, written before the daemon
starts. The daemon reports the conflict (log, /readyz, GET /api/v1/syncs, /metrics), never writes
while the squatter keeps renewing it (two writers are worse than none), and takes the Lease over, and
syncs, once it has stayed unchanged for --lease-max-duration. See kubesync/daemon/election/holders.py.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import pytest

from kubesync.daemon.election.claim import microtime
from kubesync.daemon.election.shards import GROUP_LABEL
from kubesync.model import LEASES
from tests.integration.daemon_harness import DaemonProcess, cm_data, configmap_yaml, wait_until
from tests.support.manifests import write

pytestmark = pytest.mark.integration

BOUND = 6.0  # --lease-max-duration


def squat(client, namespace: str, name: str, labels: dict | None = None) -> None:
    meta = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    client.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": {
        "holderIdentity": "mallory", "leaseDurationSeconds": 2_000_000_000, "acquireTime": microtime(time.time()),
        "renewTime": microtime(time.time()), "leaseTransitions": 0}})


def renew(client, namespace: str, name: str) -> None:
    lease = client.get(LEASES, namespace, name)
    lease["spec"] = {**lease["spec"], "holderIdentity": "mallory", "renewTime": microtime(time.time())}
    client.put(LEASES, lease)


def conflicts(d: DaemonProcess) -> list[str]:
    got = d.http("/readyz")
    return [] if got is None else json.loads(got[1]).get("conflicts", [])


@pytest.mark.parametrize("mode", ["leader", "shards"])
def test_a_squatting_lease_is_reported_and_does_not_stop_syncing_forever(kubeconfig, client, cluster, namespace, tmp_path, mode):
    src = write(tmp_path / "src", {"cm.yaml": configmap_yaml("applied", namespace, a="1")})
    prefix = f"squat-{secrets.token_hex(3)}"
    lease = prefix if mode == "leader" else f"{prefix}-0"
    squat(client, namespace, lease, labels=None if mode == "leader" else {GROUP_LABEL: prefix})
    election = ["--leader-elect"] if mode == "leader" else ["--shards", "1"]
    args = [str(src), "--name", "shop", "--interval", "5m", *election, "--lease-namespace", namespace,
            "--lease-name", prefix, "--lease-duration", "2s", "--lease-max-duration", f"{BOUND:g}s"]
    renewing, stop = threading.Event(), threading.Event()
    renewing.set()

    def squatter() -> None:  # keeps renewing the squat every second until told to stop
        while renewing.is_set() and not stop.wait(1.0):
            renew(client, namespace, lease)

    thread = threading.Thread(target=squatter, daemon=True)
    thread.start()
    try:
        with DaemonProcess(args, kubeconfig, tmp_path) as d:
            d.wait_every_sync_ran(60)
            found = wait_until(lambda: conflicts(d), 20, what=f"the conflict on /readyz; log:\n{d.log()}")
            assert "mallory" in found[0] and "2000000000" in found[0] and lease in found[0]
            assert d.http("/readyz")[0] == 200  # it follows: ready, and saying why it cannot lead
            election_doc = d.syncs()["election"]
            assert election_doc["conflicts"] == found and not election_doc["leader"]
            assert d.metric("kubesync_lease_conflicts") == 1
            assert f"Lease conflict: {namespace}/{lease}".encode() in d.http("/partials/overview")[1]  # the dashboard's banner
            assert f"lease {namespace}/{lease}: conflict: held by 'mallory'" in d.log()
            watched_until = time.monotonic() + BOUND + 4  # past the bound, while the squatter renews: nobody writes
            while time.monotonic() < watched_until:
                assert cm_data(cluster, namespace, "applied") is None, "a replica wrote while another held the Lease"
                time.sleep(0.2)
            renewing.clear()  # the squatter stops: the Lease expires by the bound, not by its 63 years
            stopped = time.monotonic()
            wait_until(lambda: cm_data(cluster, namespace, "applied") == {"a": "1"}, BOUND + 20,
                       what=f"the sync applied once the squat expired; log:\n{d.log()}")
            assert time.monotonic() - stopped < BOUND + 15
            identity = d.json("/readyz")["identity"]
            assert client.get(LEASES, namespace, lease)["spec"]["holderIdentity"] == identity
            wait_until(lambda: not conflicts(d), 10, what="the conflict cleared")
            assert "conflict cleared" in d.log()
    finally:
        stop.set()
        thread.join(5)
