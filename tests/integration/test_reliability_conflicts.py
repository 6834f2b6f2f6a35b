"""A conflict storm: another client rewrites the same objects in a tight loop while a stale plan is
applied. Every object ends in the desired state or is reported as failed; nothing the other client
wrote is silently lost, because no write is ever based on a stale read."""

from __future__ import annotations

import threading
import time

from kubesync.apply import ApplySettings
from kubesync.cluster.client import MERGE_PATCH, Cluster
from kubesync.cluster.discovery import Discovery
from kubesync.model import ActionType
from kubesync.plan import WAVES
from kubesync.settings import SyncConfig
from kubesync.sources import SourceSpec, load
from kubesync.sync import Pipeline
from tests.support.manifests import configmap, deployment, write
from tests.support.waits import wait_for

N = 24
COLLIDING = {f"cm-{i:02d}" for i in range(0, N, 4)}  # the other client also writes our key here
STORM_KEY = "storm.example.com/seq"
CONFLICT_FAILURE = "still changing concurrently after"


def write_source(folder, version: int) -> None:
    """v1: ConfigMaps without data. v2: data and an annotation of ours."""
    v2 = version == 2
    write(folder, {"app.yaml": [configmap(f"cm-{i:02d}", {"greeting": "v2"} if v2 else None,
                                          annotations={"example.com/owner": "payments"} if v2 else None) for i in range(N)]})


class Storm:
    """Two threads, each owning half the objects, merge-patching them as fast as they can.

    Each remembers, per object, the last value it wrote and the resourceVersion the server gave it;
    the writes to one object come from one thread, so "last" is well defined.
    """

    def __init__(self, kubeconfig: str, namespace: str):
        self.namespace = namespace
        self.stop = threading.Event()
        self.last: dict[str, tuple[int, int, bool]] = {}  # name -> (seq, resourceVersion, wrote greeting)
        self.errors: list[str] = []
        self.writes = 0
        self.lock = threading.Lock()
        names = [f"cm-{i:02d}" for i in range(N)]
        self.threads = [
            threading.Thread(target=self._loop, args=(Cluster.connect(kubeconfig), names[k::2]), name=f"storm-{k}", daemon=True)
            for k in range(2)
        ]

    def _loop(self, client: Cluster, names: list[str]) -> None:
        seq = 0
        while not self.stop.is_set():
            seq += 1
            for name in names:
                path = f"/api/v1/namespaces/{self.namespace}/configmaps/{name}"
                data = {"theirs": str(seq)}
                if name in COLLIDING:
                    data["greeting"] = f"storm-{seq}"
                body = {"metadata": {"annotations": {STORM_KEY: str(seq)}}, "data": data}
                try:
                    out = client.request("PATCH", path, body=body, content_type=MERGE_PATCH, retry=False)
                except Exception as e:  # an unknown outcome would spoil the bookkeeping: fail the test
                    self.errors.append(f"{name}: {e}")
                    return
                with self.lock:
                    self.last[name] = (seq, int(out["metadata"]["resourceVersion"]), name in COLLIDING)
                    self.writes += 1

    def start(self) -> Storm:
        for t in self.threads:
            t.start()
        return self

    def wait_until_every_object_was_hit(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.last) == N and all(seq >= 2 for seq, _, _ in self.last.values()):
                    return
            assert not self.errors, self.errors
            time.sleep(0.05)
        raise AssertionError("the storm did not reach every object")

    def halt(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not self.errors, self.errors


def test_conflict_storm_ends_desired_or_reported_and_never_loses_the_other_clients_writes(
    kubeconfig, cluster, client, namespace, tmp_path
):
    folder = tmp_path / "app"
    folder.mkdir()
    sync = f"storm-{namespace[-6:]}"
    spec = SyncConfig(name=sync, source=SourceSpec(path=str(folder)), namespace=namespace, inventory_namespace=namespace)

    def plan():
        discovery = Discovery(client)
        return discovery, Pipeline(client, discovery).plan(load(SourceSpec(path=str(folder))), spec)

    write_source(folder, 1)
    discovery, planned = plan()
    assert not Pipeline(client, discovery).apply(planned, ApplySettings()).failures

    # Plan v2 while nobody else writes: each ConfigMap patch adds /data as a whole map...
    write_source(folder, 2)
    discovery, stale = plan()
    assert {a.type for a in stale.plan.changes} == {ActionType.UPDATE} and len(stale.plan.changes) == N
    assert all({"op": "add", "path": "/data", "value": {"greeting": "v2"}} in a.patch for a in stale.plan.changes)

    # ...then the other client writes every object (so the whole plan is stale) and keeps writing.
    storm = Storm(kubeconfig, namespace).start()
    try:
        storm.wait_until_every_object_was_hit()
        patches_before = cluster.stats.by_method["PATCH"]
        report = Pipeline(client, discovery).apply(stale, ApplySettings())
        patches = cluster.stats.by_method["PATCH"] - patches_before
    finally:
        storm.halt()

    outcomes = {o.action.ref.name: o for o in report.outcomes if o.action.ref.kind == "ConfigMap"}
    assert sorted(outcomes) == [f"cm-{i:02d}" for i in range(N)]
    # Every planned patch was stale, so every object needed at least one re-read and a second attempt.
    assert patches >= 2 * N, patches
    failed = {name: o.message for name, o in outcomes.items() if o.failed}
    for name, message in failed.items():
        assert CONFLICT_FAILURE in message and "not overwritten" in message, message

    live = {c["metadata"]["name"]: c for c in cluster.get(f"/api/v1/namespaces/{namespace}/configmaps",
                                                             labelSelector=f"kubesync.io/sync={sync}")["items"]}
    for name, outcome in outcomes.items():
        obj = live[name]
        seq, storm_rv, collided = storm.last[name]
        annotations, data = obj["metadata"]["annotations"], obj.get("data") or {}
        # The other client's last write is intact: its annotation and its own data key.
        assert annotations[STORM_KEY] == str(seq), (name, annotations)
        assert data["theirs"] == str(seq), (name, data)
        if outcome.failed:
            continue
        assert outcome.result == "patched", (name, outcome)
        assert annotations["example.com/owner"] == "payments"
        ours_rv = int(outcome.live["metadata"]["resourceVersion"])
        if collided and storm_rv > ours_rv:
            assert data["greeting"] == f"storm-{seq}", (name, data)  # they wrote last; nothing hid that
        else:
            assert data["greeting"] == "v2", (name, data)

    print(f"storm: {storm.writes} writes; apply: {patches} patches, {len(failed)} of {N} objects failed")

    # Once the storm is over, a rerun converges and keeps the other client's fields.
    discovery, again = plan()
    rerun = Pipeline(client, discovery).apply(again, ApplySettings())
    assert not rerun.failures, [o.message for o in rerun.failures]
    for c in cluster.get(f"/api/v1/namespaces/{namespace}/configmaps", labelSelector=f"kubesync.io/sync={sync}")["items"]:
        name = c["metadata"]["name"]
        assert c["data"]["greeting"] == "v2" and c["data"]["theirs"] == str(storm.last[name][0])
        assert c["metadata"]["annotations"][STORM_KEY] == str(storm.last[name][0])
    assert not plan()[1].plan.has_changes


def test_a_conflict_is_retried_against_a_fresh_read_not_one_taken_before_the_backoff(
    kubeconfig, cluster, client, namespace, tmp_path
):
    """Another writer touching an object every ~70 ms (a busy controller) must not defeat the retries:
    a retry that reads the object right before writing wins within a few attempts. One that reads,
    then sleeps its backoff (0.1 to 3 s), then writes with what it read is stale every time."""
    folder = tmp_path / "app"
    folder.mkdir()
    sync = f"busy-{namespace[-6:]}"
    spec = SyncConfig(name=sync, source=SourceSpec(path=str(folder)), namespace=namespace, inventory_namespace=namespace)

    def source(greeting: str, replicas: int) -> None:
        write(folder, {"app.yaml": [
            configmap("busy", {"greeting": greeting}),
            # in one step with the ConfigMap: both report
            deployment(replicas=replicas, annotations={"kubesync.io/wave": str(WAVES["ConfigMap"])}),
        ]})

    def plan():
        discovery = Discovery(client)
        return discovery, Pipeline(client, discovery).plan(load(SourceSpec(path=str(folder))), spec)

    source("v1", 1)
    discovery, planned = plan()
    assert not Pipeline(client, discovery).apply(planned, ApplySettings()).failures
    source("v2", 3)
    discovery, stale = plan()
    changes = {(a.type, a.ref.kind) for a in stale.plan.changes}
    assert changes == {(ActionType.UPDATE, "ConfigMap"), (ActionType.SCALE, "Deployment")}

    stop = threading.Event()

    def busy_controller(path: str) -> None:
        """Writes one object every ~70 ms: shorter than the first backoff (0.1 s), much longer than a GET + PATCH."""
        other, n = Cluster.connect(kubeconfig), 0
        while not stop.is_set():
            n += 1
            other.request("PATCH", path, body={"metadata": {"annotations": {STORM_KEY: str(n)}}}, content_type=MERGE_PATCH)
            stop.wait(0.06)

    paths = (f"/api/v1/namespaces/{namespace}/configmaps/busy", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")

    def version(path: str) -> str:
        return cluster.get(path)["metadata"]["resourceVersion"]

    planned = {path: version(path) for path in paths}  # the busy controller has not started yet

    def stale_now() -> bool:
        """Both objects written by the busy controller since the plan read them."""
        return all(version(path) != planned[path] for path in paths)

    threads = [threading.Thread(target=busy_controller, args=(p,), name="busy-controller", daemon=True) for p in paths]
    for t in threads:
        t.start()
    try:
        wait_for(stale_now, 10, interval=0.02, what="the plan is stale")
        report = Pipeline(client, discovery).apply(stale, ApplySettings())
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    results = {o.action.ref.kind: (o.result, o.message) for o in report.outcomes}
    assert results == {"ConfigMap": ("patched", ""), "Deployment": ("scaled", "1 -> 3")}, results
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/busy")["data"] == {"greeting": "v2"}
    assert cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["spec"]["replicas"] == 3
