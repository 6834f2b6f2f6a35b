"""The shared watch cache's store: telling a real change of a watched object from status noise, by sync."""

from __future__ import annotations

import copy

from kubesync.cluster.cache import Store, fingerprint, version_number


def deployment(**spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "1", "generation": 1,
                     "labels": {"a": "b", "kubesync.io/sync": "shop"}},
        "spec": {"replicas": 1, **spec},
        "status": {"replicas": 0},
    }


def test_fingerprint_ignores_status_and_bookkeeping():
    a = deployment()
    b = copy.deepcopy(a)
    b["status"] = {"replicas": 3, "conditions": [{"type": "Available"}]}
    b["metadata"].update(resourceVersion="99", generation=2, managedFields=[{"manager": "x"}])
    assert fingerprint(a) == fingerprint(b)


def test_fingerprint_sees_spec_labels_and_annotations():
    base = fingerprint(deployment())
    assert fingerprint(deployment(replicas=2)) != base
    labelled = deployment()
    labelled["metadata"]["labels"]["c"] = "d"
    assert fingerprint(labelled) != base
    annotated = deployment()
    annotated["metadata"]["annotations"] = {"x": "y"}
    assert fingerprint(annotated) != base


def test_observe_reports_only_changes_to_known_objects():
    fp = Store()
    assert fp.put("LISTED", deployment()) is False  # first sight is the baseline
    status_only = deployment()
    status_only["status"] = {"replicas": 1}
    status_only["metadata"]["resourceVersion"] = "2"
    assert fp.put("MODIFIED", status_only) is False
    assert fp.put("MODIFIED", deployment(replicas=5)) is True
    assert fp.put("MODIFIED", deployment(replicas=5)) is False
    assert fp.put("DELETED", deployment(replicas=5)) is True


def test_added_objects_are_not_drift():
    fp = Store()
    assert fp.put("ADDED", deployment()) is False
    assert fp.put("MODIFIED", deployment(replicas=3)) is True


def test_objects_are_indexed_by_their_sync_label_and_namespace():
    store = Store()
    store.put("LISTED", deployment())
    other = deployment()
    other["metadata"].update(name="api", namespace="web", labels={"kubesync.io/sync": "blog"})
    store.put("LISTED", other)
    assert store.by_sync == {"shop": {("apps", "Deployment", "shop", "web")}, "blog": {("apps", "Deployment", "web", "api")}}
    assert store.keys_in("web") == [("apps", "Deployment", "web", "api")]
    moved = deployment()
    moved["metadata"]["labels"]["kubesync.io/sync"] = "blog"  # relabelled: now the other sync's
    store.put("MODIFIED", moved)
    assert store.by_sync["shop"] == set() and len(store.by_sync["blog"]) == 2
    store.put("DELETED", moved)
    assert ("apps", "Deployment", "shop", "web") not in store.objects and len(store.by_sync["blog"]) == 1


def test_resource_versions_compare_as_numbers_only_when_they_are():
    assert version_number("12345") == 12345
    assert version_number("abc") is None and version_number(None) is None
