"""Diff rules from the server's own schema, against the real control plane (issue 12, items 4 and 5).

* A custom resource's list with `x-kubernetes-list-type: map` is merged by key: an entry another writer
  added survives kubesync's update, whether the CRD is part of the source or already installed.
* The schemas come from OpenAPI v3 per group-version (1.27+) or v2 (older), cached on disk: a warm
  cache costs no OpenAPI request, and a plan reads only the group-versions it touches.
* Wrong answers found by testing: cluster-scoped objects carrying a namespace, empty Secret values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesync.cluster.api import Client, Observer
from kubesync.cluster.client import JSON_PATCH
from kubesync.cluster.discovery import Discovery
from kubesync.cluster.openapi import SchemaCache, cache_root
from kubesync.model import ActionType
from tests.integration.test_diff_corpus import Sync, describe, server_version
from tests.support.manifests import configmap, crd, crd_path, deployment, write, yaml_text

def gateways(suffix: str) -> dict:
    """A CRD whose `listeners` are a list-map keyed by name and whose `addresses` are a set."""
    return crd(f"listmap-{suffix}.example.com", "Gateway", {
        "listeners": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "port": {"type": "integer"}, "protocol": {"type": "string", "default": "HTTP"}}},
        },
        "addresses": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
    })


GATEWAY = """\
apiVersion: listmap-__SUFFIX__.example.com/v1
kind: Gateway
metadata: {name: edge}
spec:
  listeners:
    - {name: http, port: 80}
    - {name: https, port: 443, protocol: HTTPS}
  addresses: [10.0.0.1]
"""


class Recording(Observer):
    """Every request's method and path written down (no answer is changed): `Client(cluster).scoped(it)`."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def on_request(self, request) -> None:
        self.sent.append((request.method, request.path))

    def openapi(self) -> list[str]:
        return [p for _, p in self.sent if p.startswith(("/openapi", "/version"))]


def wait_served(cluster, api_version: str, kind: str, wait_for) -> None:
    wait_for(lambda: Discovery(Client(cluster)).resource_for(api_version, kind), 30)


def install_crd(cluster, suffix: str, wait_for) -> None:
    """Install the CRD and wait until it is served, and (1.27+) until its schema is published in
    OpenAPI v3, which happens a moment after discovery lists it: a CRD installed long before the sync."""
    cluster.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=gateways(suffix))
    wait_served(cluster, f"listmap-{suffix}.example.com/v1", "Gateway", wait_for)
    if server_version(cluster) >= (1, 27):
        wait_for(lambda: published(cluster, f"apis/listmap-{suffix}.example.com/v1", "Gateway"), 30)


def published(cluster, path: str, kind: str) -> bool:
    entry = cluster.get("/openapi/v3")["paths"].get(path)
    if not entry:
        return False
    doc = cluster.get("/openapi/v3/" + path, hash=entry["serverRelativeURL"].split("hash=")[-1])
    return any(gvk.get("kind") == kind for s in doc["components"]["schemas"].values()
               for gvk in s.get("x-kubernetes-group-version-kind", ()))


def other_writer_adds_a_listener(cluster, path: str) -> None:
    cluster.request("PATCH", path, content_type=JSON_PATCH, body=[
        {"op": "add", "path": "/spec/listeners/-", "value": {"name": "metrics", "port": 9100}},
        {"op": "add", "path": "/spec/addresses/-", "value": "10.0.0.9"},
    ])


def check_foreign_entries_survive(cluster, folder: Path, namespace: str, path: str, source: str) -> None:
    sync = Sync(cluster, folder, namespace)
    sync.apply()
    other_writer_adds_a_listener(cluster, path)
    assert not sync.plan().plan.has_changes  # entries kubesync did not set are not a change
    (folder / "gateway.yaml").write_text(source.replace("port: 443", "port: 8443"))
    planned = sync.plan()
    [action] = [a for a in planned.plan.changes if a.ref.kind == "Gateway"]
    assert action.type is ActionType.UPDATE
    assert [op for op in action.patch if "listeners" in op["path"]] == [
        {"op": "replace", "path": "/spec/listeners/1/port", "value": 8443}], describe(action)
    sync.apply(planned)
    live = cluster.get(path)["spec"]
    assert [(x["name"], x["port"], x["protocol"]) for x in live["listeners"]] == [
        ("http", 80, "HTTP"), ("https", 8443, "HTTPS"), ("metrics", 9100, "HTTP")]
    assert live["addresses"] == ["10.0.0.1", "10.0.0.9"]
    assert not sync.plan().plan.has_changes


@pytest.mark.parametrize("crd_in_source", [False, True], ids=["crd-installed", "crd-in-source"])
def test_list_map_entry_added_by_another_writer_survives(cluster, namespace, tmp_path, wait_for, crd_in_source):
    """With the CRD installed, the rules come from the server's schema (OpenAPI v3, or the CRD itself on
    servers without v3); with the CRD in the source, from that CRD (what the server will hold)."""
    suffix = namespace[-6:]
    folder = tmp_path / "src"
    folder.mkdir()
    if crd_in_source:
        (folder / "crd.yaml").write_text(yaml_text(gateways(suffix)))
    else:
        install_crd(cluster, suffix, wait_for)
    source = GATEWAY.replace("__SUFFIX__", suffix)
    (folder / "gateway.yaml").write_text(source)
    try:
        check_foreign_entries_survive(cluster, folder, namespace,
                                      f"/apis/listmap-{suffix}.example.com/v1/namespaces/{namespace}/gateways/edge", source)
    finally:
        cluster.request("DELETE", crd_path(f"gateways.listmap-{suffix}.example.com"))


APP = yaml_text(configmap("settings", {"a": "b"}), deployment(replicas=None, container={"ports": [{"containerPort": 80}]}))


def test_schemas_are_read_once_then_a_warm_cache_costs_no_openapi_request(client, cluster, namespace, tmp_path):
    recording = Recording()
    folder = write(tmp_path / "app", {"app.yaml": APP})
    sync = Sync(client.scoped(recording), folder, namespace)
    sync.plan()
    cold = recording.openapi()
    if server_version(cluster) >= (1, 27):  # the v3 index, then only the two group-versions touched, and the version
        # (strict field validation or not), kept with the index
        assert cold[0] == "/openapi/v3" and sorted(cold[1:3]) == ["/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1"], cold
        assert cold[3:] == ["/version"], cold
    else:  # no v3: the version, then v2 once (every built-in group-version is cached from it)
        assert cold == ["/openapi/v3", "/version", "/openapi/v2"], cold
    recording.sent.clear()
    sync.apply()
    planned = sync.plan()  # a new Discovery each plan: only the disk cache is shared
    assert not planned.plan.has_changes
    assert recording.openapi() == [], recording.openapi()
    cached = sorted(p.name for p in cache_root().glob("*/*.json"))  # below the test's own (isolated) home
    assert "index.json" in cached and len(cached) >= 3, cached


def test_an_expired_index_is_read_again_but_cached_documents_are_not(client, cluster, tmp_path):
    now = [1000.0]
    recording = Recording()
    recorded = client.scoped(recording)
    rtypes = [Discovery(client).resource_for("apps/v1", "Deployment"), Discovery(client).resource_for("v1", "Service")]
    first = SchemaCache(recorded, tmp_path, ttl=60, clock=lambda: now[0]).schemas(rtypes)
    assert first[("apps/v1", "Deployment")].merge_rule(("spec", "template", "spec", "containers"), "Deployment").keys == ("name",)
    assert first[("v1", "Service")].merge_rule(("spec", "ports"), "Service").keys == ("port", "protocol")
    recording.sent.clear()
    now[0] += 61
    again = SchemaCache(recorded, tmp_path, ttl=60, clock=lambda: now[0]).schemas(rtypes)
    assert again.keys() == first.keys()
    expect = ["/openapi/v3"] if server_version(cluster) >= (1, 27) else ["/openapi/v3", "/version"]
    assert recording.openapi() == expect  # documents are keyed by hash (or server version): not read again
    recording.sent.clear()
    SchemaCache(recorded, tmp_path, ttl=60, clock=lambda: now[0] + 30).schemas(rtypes)
    assert recording.sent == []



CLUSTER_SCOPED_WITH_NAMESPACE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ns-carrying-__SUFFIX__
  namespace: kube-system      # common in upstream manifests; the server ignores it
rules:
  - {apiGroups: [""], resources: [pods], verbs: [get, list]}
"""


def test_cluster_scoped_object_carrying_a_namespace_is_applied_with_a_warning(cluster, namespace, tmp_path):
    suffix = namespace[-6:]
    folder = write(tmp_path / "cr", {"role.yaml": CLUSTER_SCOPED_WITH_NAMESPACE.replace("__SUFFIX__", suffix)})
    sync = Sync(cluster, folder, namespace)
    path = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/ns-carrying-{suffix}"
    try:
        planned = sync.plan()
        assert [(a.type, str(a.ref)) for a in planned.plan.changes] == [
            (ActionType.CREATE, f"rbac.authorization.k8s.io/v1 ClusterRole ns-carrying-{suffix}")]
        assert planned.plan.warnings == (
            f"role.yaml:1: rbac.authorization.k8s.io/v1 ClusterRole kube-system/ns-carrying-{suffix}: "
            "ClusterRole is cluster-scoped; metadata.namespace 'kube-system' is ignored (remove it from the manifest)",)
        sync.apply(planned)
        assert cluster.get(path)["rules"][0]["resources"] == ["pods"]
        again = sync.plan()
        assert not again.plan.has_changes, "\n".join(describe(a) for a in again.plan.changes)
        assert len(again.plan.warnings) == 1
    finally:
        if cluster.get_or_none(path) is not None:
            cluster.request("DELETE", path)


EMPTY_VALUES = """\
apiVersion: v1
kind: Secret
metadata: {name: empty-values}
type: Opaque
data: {from-data: ""}
stringData: {from-string-data: "", set: value}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: empty-values}
data: {empty: ""}
binaryData: {empty-bytes: ""}
"""


def test_empty_secret_and_configmap_values_are_no_perpetual_change(cluster, namespace, tmp_path):
    folder = write(tmp_path / "empty", {"objects.yaml": EMPTY_VALUES})
    sync = Sync(cluster, folder, namespace)
    sync.apply()
    live = cluster.get(f"/api/v1/namespaces/{namespace}/secrets/empty-values")
    assert set(live["data"]) == {"from-data", "from-string-data", "set"}
    again = sync.plan()
    assert not again.plan.has_changes, "\n".join(describe(a) for a in again.plan.changes)
