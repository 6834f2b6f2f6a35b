"""Telling a real change of a watched object from status noise."""

from __future__ import annotations

import copy

from kubesync.daemon.watch import Fingerprints, fingerprint


def deployment(**spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "1", "generation": 1, "labels": {"a": "b"}},
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
    fp = Fingerprints()
    assert fp.observe("LISTED", deployment()) is False  # first sight is the baseline
    status_only = deployment()
    status_only["status"] = {"replicas": 1}
    status_only["metadata"]["resourceVersion"] = "2"
    assert fp.observe("MODIFIED", status_only) is False
    assert fp.observe("MODIFIED", deployment(replicas=5)) is True
    assert fp.observe("MODIFIED", deployment(replicas=5)) is False
    assert fp.observe("DELETED", deployment(replicas=5)) is True


def test_added_objects_are_not_drift():
    fp = Fingerprints()
    assert fp.observe("ADDED", deployment()) is False
    assert fp.observe("MODIFIED", deployment(replicas=3)) is True


def test_relist_finds_objects_deleted_while_not_watching():
    fp = Fingerprints()
    fp.observe("LISTED", deployment())
    other = deployment()
    other["metadata"]["name"] = "api"
    fp.observe("LISTED", other)
    gone = fp.forget_missing({("apps", "Deployment", "shop", "api")}, lambda key: key[1] == "Deployment")
    assert gone == [("apps", "Deployment", "shop", "web")]
    assert fp.forget_missing(set(), lambda key: False) == []
