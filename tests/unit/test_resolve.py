"""Resolving manifests against discovery: kinds, namespaces, CRDs in the same source."""

from __future__ import annotations

import pytest

from kubesync.errors import ResolveError
from kubesync.model import Manifest, ObjectRef, Origin, ResourceType
from kubesync.resolve import offline_lookup, resolve
from tests.support.manifests import crd

TYPES = {
    ("v1", "ConfigMap"): ResourceType("", "v1", "ConfigMap", "configmaps", True),
    ("v1", "Namespace"): ResourceType("", "v1", "Namespace", "namespaces", False),
}


def lookup(api_version, kind):
    return TYPES.get((api_version, kind))


def m(obj, path="a.yaml", line=1):
    return Manifest(ObjectRef.of(obj), obj, Origin(path, line))


def cm(name, ns=None):
    meta = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def test_namespaced_objects_get_the_default_namespace():
    [r] = resolve([m(cm("a"))], lookup, "shop")
    assert r.ref == ObjectRef("", "v1", "ConfigMap", "shop", "a")
    assert r.obj["metadata"]["namespace"] == "shop"


def test_unknown_kind_names_the_file_and_suggests_the_crd():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(ResolveError) as e:
        resolve([m(widget, "w.yaml", 3)], lookup, "default")
    assert "w.yaml:3: example.com/v1 Widget w: the cluster does not serve kind 'Widget' in 'example.com/v1'; " \
           "is its CustomResourceDefinition installed (or misspelled apiVersion/kind)?" in str(e.value)


def test_namespace_on_a_cluster_scoped_kind_is_dropped_with_a_warning():
    """Upstream manifests often carry it; kubectl, Argo CD and Flux apply them (the server ignores it)."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": "y", "labels": {"a": "b"}}}
    [r] = resolve([m(ns, "ns.yaml", 2)], lookup, "default")
    assert r.ref == ObjectRef("", "v1", "Namespace", "", "x")
    assert r.obj["metadata"] == {"name": "x", "labels": {"a": "b"}}
    assert r.manifest.origin == Origin("ns.yaml", 2)
    assert r.warning == "ns.yaml:2: v1 Namespace y/x: Namespace is cluster-scoped; metadata.namespace 'y' is ignored (remove it from the manifest)"
    assert ns["metadata"]["namespace"] == "y"  # the manifest itself is left alone


def test_cluster_scoped_object_with_and_without_namespace_is_one_object_defined_twice():
    a = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": "y"}}
    b = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    with pytest.raises(ResolveError, match="b.yaml:1: v1 Namespace x: defined again"):
        resolve([m(a, "a.yaml"), m(b, "b.yaml")], lookup, "default")


def test_built_in_api_the_server_does_not_serve_says_so_without_blaming_a_crd():
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}}
    with pytest.raises(ResolveError) as e:
        resolve([m(cron, "cron.yaml", 4)], lookup, "default")
    assert ("cron.yaml:4: batch/v1 CronJob c: the cluster does not serve kind 'CronJob' in 'batch/v1': "
            "batch/v1 is a built-in Kubernetes API that this server's version does not serve") in str(e.value)
    assert "CustomResourceDefinition" not in str(e.value)


def test_a_kind_newer_than_a_served_built_in_api_is_not_called_a_typo():
    """batch/v1 is served by 1.20, CronJob joined it in 1.21: "did you mean 'Job'?" would mislead."""
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}}
    with pytest.raises(ResolveError) as e:
        resolve([m(cron, "cron.yaml", 4)], lookup, "default", kinds=lambda gv: ["Job"] if gv == "batch/v1" else None)
    assert ("cron.yaml:4: batch/v1 CronJob c: the cluster does not serve kind 'CronJob' in 'batch/v1': CronJob was added "
            "to batch/v1 by a later Kubernetes version than this server's") in str(e.value)
    assert "typo" not in str(e.value) and "did you mean" not in str(e.value)
    typo = {"apiVersion": "batch/v1", "kind": "Jbo", "metadata": {"name": "j"}}
    with pytest.raises(ResolveError, match="batch/v1 has no kind 'Jbo' \\(a typo of the kind\\?\\); did you mean 'Job'\\?"):
        resolve([m(typo, "job.yaml", 1)], lookup, "default", kinds=lambda gv: ["Job"] if gv == "batch/v1" else None)


def test_custom_resource_resolves_through_a_crd_in_the_same_source():
    widgets = crd("example.com", "Widget", {}, version_fields={"subresources": {"scale": {}}})
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    lookups = dict(TYPES)
    lookups[("apiextensions.k8s.io/v1", "CustomResourceDefinition")] = ResourceType(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)
    out = resolve([m(widgets), m(widget)], lambda a, k: lookups.get((a, k)), "shop")
    w = out[1]
    assert w.pending_crd and w.rtype.plural == "widgets" and w.rtype.has_scale
    assert w.ref.namespace == "shop"


def test_same_object_after_namespace_defaulting_is_a_duplicate():
    with pytest.raises(ResolveError, match=r"b.yaml:5: v1 ConfigMap shop/a: defined again \(first at a.yaml:1\)"):
        resolve([m(cm("a")), m(cm("a", "shop"), "b.yaml", 5)], lookup, "shop")


def test_offline_lookup_knows_cluster_scoped_and_scalable_kinds():
    assert not offline_lookup("rbac.authorization.k8s.io/v1", "ClusterRole").namespaced
    assert offline_lookup("apps/v1", "Deployment").has_scale
    assert offline_lookup("example.com/v1", "Widget").namespaced


def test_apiserver_groups_are_built_in_apis_too():
    fs = {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": "f"}}
    with pytest.raises(ResolveError) as e:
        resolve([m(fs, "fs.yaml", 1)], lookup, "default")
    assert "flowcontrol.apiserver.k8s.io/v1 is a built-in Kubernetes API" in str(e.value)


def test_a_crd_of_the_source_speaks_for_its_custom_resources_over_the_server():
    from kubesync.diff.schema import KindSchema
    from kubesync.resolve import with_schemas

    widgets = crd("example.com", "Widget", {"parts": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
        "items": {"type": "object", "properties": {"id": {"type": "string"}}}}})
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    types = {**TYPES, ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ResourceType(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)}
    resolved = resolve([m(widgets), m(widget), m(cm("c"))], lambda a, k: types.get((a, k)), "default")
    stale = KindSchema(lists={("spec", "parts"): {"type": "atomic"}})
    server = {("example.com/v1", "Widget"): stale, ("v1", "ConfigMap"): KindSchema(maps={("data",): "granular"})}
    out = {r.ref.kind: r for r in with_schemas(resolved, server)}
    assert out["Widget"].schema.merge_rule(("spec", "parts"), "Widget").keys == ("id",)
    assert out["ConfigMap"].schema is server[("v1", "ConfigMap")]
    assert out["CustomResourceDefinition"].schema is None


def test_a_secret_key_in_both_data_and_string_data_is_warned_about():
    from kubesync.model import ObjectRef as Ref

    secret_t = ResourceType("", "v1", "Secret", "secrets", True)
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
           "data": {"pw": "b2xk", "user": "YQ=="}, "stringData": {"pw": "new"}}
    m = Manifest(Ref("", "v1", "Secret", "", "db"), obj, Origin("db.yaml", 1))
    [r] = resolve([m], lambda api_version, kind: secret_t, "shop")
    assert r.warning == ("db.yaml:1: v1 Secret db: 'pw' set in both data and stringData; the server keeps "
                         "stringData's value and drops data's (remove one)")
    assert "new" not in r.warning and "b2xk" not in r.warning  # names the key, never a value
