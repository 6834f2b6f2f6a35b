"""Drift attribution from metadata.managedFields (kubesync/diff/managers.py): the manager owning the
drifted path, subresource writes (`kubectl scale`, an HPA) and entries without a time included."""

from __future__ import annotations

from kubesync.diff.managers import FieldManager, owner, owner_of_paths

KUBESYNC = {
    "manager": "kubesync", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-03-01T10:00:05Z",
    "fieldsType": "FieldsV1",
    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {}}},
                 "f:spec": {"f:selector": {}, "f:template": {"f:spec": {"f:containers": {
                     'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}}}}},
}
SCALE = {  # what `kubectl scale` leaves on 1.37: written through /scale
    "manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-03-01T10:00:01Z",
    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale",
}
STATUS = {
    "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-03-01T10:00:09Z",
    "fieldsType": "FieldsV1", "subresource": "status",
    "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                 "f:status": {"f:replicas": {}}},
}


def deployment(*entries: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/managed-by": "kubesync"},
                         "finalizers": ["example.com/a", "example.com/keep"], "managedFields": list(entries)},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy:1"},
                                                          {"name": "web", "image": "nginx:1.25"}]}}}}


def test_a_scale_is_attributed_to_the_manager_that_wrote_it_through_the_scale_subresource():
    live = deployment(KUBESYNC, SCALE, STATUS)  # kubesync's and the controller's entries are newer
    assert owner(live, "/spec/replicas") == FieldManager("kubectl", "scale", "Update", "2026-03-01T10:00:01Z")
    assert str(owner(live, "/spec/replicas")) == "kubectl (scale)"
    hpa = {**SCALE, "manager": "kube-controller-manager", "time": "2026-03-01T09:00:00Z"}
    assert owner(deployment(KUBESYNC, hpa, STATUS), "/spec/replicas").manager == "kube-controller-manager"


def test_an_entry_without_a_time_counts_when_it_owns_the_field():
    untimed = {k: v for k, v in SCALE.items() if k != "time"}
    live = deployment(KUBESYNC, untimed, STATUS)
    assert owner_of_paths(live, ["/spec/replicas"]) == FieldManager("kubectl", "scale", "Update", "")


def test_keyed_list_items_and_set_members_resolve_against_the_live_object():
    edit = {"manager": "kubectl-edit", "operation": "Update", "time": "2026-03-01T09:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:finalizers": {'v:"example.com/keep"': {}}},
                         "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"sidecar"}': {"f:image": {}}}}}}}}
    live = deployment(KUBESYNC, edit)
    assert owner(live, "/spec/template/spec/containers/0/image").manager == "kubectl-edit"  # sidecar is item 0
    assert owner(live, "/spec/template/spec/containers/1/image").manager == "kubesync"  # web is item 1
    assert owner(live, "/metadata/finalizers/1").manager == "kubectl-edit"
    assert owner(live, "/metadata/finalizers/0") is None


def test_a_path_above_owned_fields_goes_to_their_owner_and_an_atomic_value_to_its_own():
    labels = {"manager": "labeller", "operation": "Update", "time": "2026-03-01T09:00:00Z", "fieldsType": "FieldsV1",
              "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:selector": {}}}}
    live = deployment(labels)
    assert owner(live, "/metadata/labels").manager == "labeller"  # a whole map replaced: who owns keys below it
    assert owner(live, "/spec/selector/matchLabels/app").manager == "labeller"  # inside an atomic field


def test_a_field_shared_by_several_appliers_goes_to_someone_else_than_kubesync_then_the_newest():
    mine = {**SCALE, "manager": "kubesync", "subresource": "", "operation": "Apply", "time": "2026-03-01T11:00:00Z"}
    old = {**SCALE, "manager": "old-ci", "subresource": "", "operation": "Apply", "time": "2026-03-01T08:00:00Z"}
    new = {**SCALE, "manager": "new-ci", "subresource": "", "operation": "Apply", "time": "2026-03-01T09:00:00Z"}
    assert owner(deployment(mine, old, new), "/spec/replicas").manager == "new-ci"
    assert owner(deployment(mine), "/spec/replicas").manager == "kubesync"


def test_a_path_nobody_else_owns_has_no_author_never_the_newest_writer_or_kubesync():
    edit = {"manager": "kubectl-edit", "operation": "Update", "time": "2026-03-01T12:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {"f:note": {}}}}}
    live = deployment(KUBESYNC, STATUS, edit)  # kubectl-edit is the newest writer, of something else
    assert owner_of_paths(live, ["/spec/template/spec/containers/1/env"]) is None  # removed by hand: nobody's
    # 1.20 records no entry for a write through /scale: the server still says kubesync owns replicas.
    replicas = {**KUBESYNC, "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    assert owner(deployment(replicas, edit), "/spec/replicas").manager == "kubesync"
    assert owner_of_paths(deployment(replicas, edit), ["/spec/replicas"]) is None
    assert owner_of_paths(None, ["/spec/replicas"]) is None  # a deleted object: nobody to name
    assert owner_of_paths(deployment(), []) is None


def test_the_first_owned_path_names_the_owner():
    live = deployment(KUBESYNC, SCALE)
    assert owner_of_paths(live, ["/spec/paused", "/spec/replicas", "/spec/template/spec/containers/1/image"]).manager == "kubectl"
