"""The embedded control plane behaves like a real cluster: defaulting, JSON patch preconditions,
the scale subresource, garbage collection and namespace deletion."""

from __future__ import annotations

import pytest

from kubesync import errors
from tests.support.manifests import deployment

DEPLOY = "/apis/apps/v1/namespaces/{ns}/deployments"


def web(name: str, replicas: int = 1) -> dict:
    return deployment(name, replicas=replicas, container={"name": "web", "ports": [{"containerPort": 80}]})


def test_server_reports_the_version_under_test(cluster):
    """The run really is on the version `make test` asked for (KUBESYNC_TEST_K8S_VERSION)."""
    import os

    from tests.support.fixtures import control_plane_version

    if os.environ.get("KUBESYNC_TEST_KUBECONFIG"):
        assert cluster.get("/version")["gitVersion"].startswith("v1.")
        return
    want = control_plane_version()
    assert cluster.get("/version")["gitVersion"] == f"v{want.full}"


def test_create_fills_server_defaults(cluster, namespace):
    created = cluster.request("POST", DEPLOY.format(ns=namespace), body=web("web"))
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["ports"][0]["protocol"] == "TCP"
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"


def test_json_patch_with_resource_version_precondition(cluster, namespace):
    # A ConfigMap: no controller writes to it, so its resourceVersion only moves when we patch it.
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    cluster.request("POST", base, body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "1"}})
    live = cluster.get(base + "/c")
    rv = live["metadata"]["resourceVersion"]
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/data/k", "value": "2"},
    ]
    patched = cluster.request("PATCH", base + "/c", body=patch, content_type="application/json-patch+json")
    assert patched["data"] == {"k": "2"}
    assert patched["metadata"]["resourceVersion"] != rv

    # The same precondition again is stale now: the server answers 422 Invalid without field causes.
    stale = [patch[0], {"op": "replace", "path": "/data/k", "value": "3"}]
    with pytest.raises(errors.ClusterInvalid) as info:
        cluster.request("PATCH", base + "/c", body=stale, content_type="application/json-patch+json")
    assert info.value.status == 422
    assert info.value.reason == "Invalid"
    assert info.value.causes == []
    assert cluster.get(base + "/c")["data"] == {"k": "2"}


def test_deployment_resource_version_moves_after_create(cluster, namespace, wait_for):
    """The deployment controller writes status right after a create: a plan must not trust the
    resourceVersion of the create response."""
    created = cluster.request("POST", DEPLOY.format(ns=namespace), body=web("web"))
    path = DEPLOY.format(ns=namespace) + "/web"
    wait_for(lambda: cluster.get(path)["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"], 30)


def test_scale_subresource(cluster, namespace):
    path = DEPLOY.format(ns=namespace) + "/web"
    cluster.request("POST", DEPLOY.format(ns=namespace), body=web("web", replicas=1))
    scale = cluster.get(path + "/scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    cluster.request("PATCH", path + "/scale", body={"spec": {"replicas": 3}}, content_type="application/merge-patch+json")
    assert cluster.get(path)["spec"]["replicas"] == 3


def test_deleting_a_deployment_garbage_collects_its_replicaset(cluster, namespace, wait_for):
    cluster.request("POST", DEPLOY.format(ns=namespace), body=web("web"))
    rs_path = f"/apis/apps/v1/namespaces/{namespace}/replicasets"
    rs = wait_for(lambda: cluster.get(rs_path)["items"], 30)
    assert rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    cluster.request("DELETE", DEPLOY.format(ns=namespace) + "/web", body={"propagationPolicy": "Background"})
    wait_for(lambda: not cluster.get(rs_path)["items"], 60)
    assert cluster.get_or_none(DEPLOY.format(ns=namespace) + "/web") is None


def test_deleted_namespace_goes_away(cluster, wait_for):
    name = "ks-doomed-ns"
    cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    cluster.request(
        "POST",
        f"/api/v1/namespaces/{name}/configmaps",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
    )
    cluster.request("DELETE", f"/api/v1/namespaces/{name}")
    assert cluster.get(f"/api/v1/namespaces/{name}")["status"]["phase"] == "Terminating"
    wait_for(lambda: cluster.get_or_none(f"/api/v1/namespaces/{name}") is None, 90)


def test_request_counting(cluster, namespace):
    before = cluster.stats.total
    cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")
    assert cluster.stats.total == before + 1
