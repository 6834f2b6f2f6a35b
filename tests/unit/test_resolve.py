"""Resolving manifests against discovery: kinds, namespaces, CRDs in the same source."""

from __future__ import annotations

import pytest

from kubesync.errors import ResolveError
from kubesync.model import Manifest, ObjectRef, Origin, ResourceType
from kubesync.resolve import offline_lookup, resolve

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


def test_namespace_on_a_cluster_scoped_kind_is_an_error():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": "y"}}
    with pytest.raises(ResolveError, match="ns.yaml:2: v1 Namespace y/x: Namespace is cluster-scoped and cannot have a namespace"):
        resolve([m(ns, "ns.yaml", 2)], lookup, "default")


def test_custom_resource_resolves_through_a_crd_in_the_same_source():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"scale": {}}}],
        },
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    lookups = dict(TYPES)
    lookups[("apiextensions.k8s.io/v1", "CustomResourceDefinition")] = ResourceType(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)
    out = resolve([m(crd), m(widget)], lambda a, k: lookups.get((a, k)), "shop")
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
