"""kubesync.diff.normalize: each rule that keeps the diff free of changes that are not changes."""

from __future__ import annotations

import base64

import pytest

from kubesync.diff import contains, diff, fieldset_of, normalize_desired, normalize_live
from kubesync.diff.normalize import is_quantity_path, parse_pointer, pointer
from kubesync.model import LAST_APPLIED_ANNOTATION


def cm(data=None, **meta):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns", **meta}}
    if data:
        obj["data"] = data
    return obj


def pod(container: dict, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "app", "image": "app:1", **container}], **spec},
    }


def patch(desired, live, last=None, ignore=()):
    return list(diff(desired, live, last, ignore=ignore).patch)


SERVER_META = {
    "uid": "7d0b",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2024-05-02T10:11:12Z",
    "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}}],
    "selfLink": "/api/v1/namespaces/ns/configmaps/c",
    "deletionTimestamp": "2024-05-02T11:00:00Z",
    "deletionGracePeriodSeconds": 30,
}


def test_server_managed_metadata_and_status_are_dropped():
    obj = {**cm({"a": "1"}, **SERVER_META), "status": {"phase": "x"}}
    for normalized in (normalize_live(obj), normalize_desired(obj)):
        assert normalized == cm({"a": "1"})
    assert obj["metadata"]["uid"] == "7d0b"  # inputs are not mutated


def test_server_metadata_in_desired_is_ignored():
    """A manifest exported with `kubectl get -o yaml` carries stale server fields: never patched."""
    desired = {**cm({"a": "1"}, uid="old", resourceVersion="1", generation=1), "status": {"x": 1}}
    assert patch(desired, cm({"a": "1"}, **SERVER_META)) == []


def test_owner_references_left_alone_unless_desired_sets_them():
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u1", "controller": True}]
    live = cm({"a": "1"}, ownerReferences=refs)
    assert patch(cm({"a": "1"}), live) == []
    other = [{**refs[0], "name": "p", "uid": "u2"}]
    assert patch(cm({"a": "1"}, ownerReferences=other), live) == [{"op": "replace", "path": "/metadata/ownerReferences", "value": other}]


def test_identity_is_never_patched():
    live = cm({"a": "1"})
    assert patch({**cm({"a": "1"}), "apiVersion": "v1"}, {**live, "metadata": {**live["metadata"], "namespace": "ns"}}) == []
    desired = cm({"a": "1"})
    del desired["metadata"]["namespace"]  # namespace defaulted by the caller
    assert patch(desired, live, fieldset_of(cm({"a": "1"}))) == []


def test_nulls_in_desired_mean_absent():
    assert normalize_desired(cm({"a": "1", "b": None}, labels=None)) == cm({"a": "1"})
    assert patch(cm({"a": "1", "b": None}), cm({"a": "1"})) == []
    # a null for a field set before removes it
    assert patch(cm({"a": "1", "b": None}), cm({"a": "1", "b": "2"}), fieldset_of(cm({"a": "1", "b": "2"}))) == [
        {"op": "remove", "path": "/data/b"}
    ]


def test_creation_timestamp_null_in_templates_is_dropped():
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"metadata": {"creationTimestamp": None, "labels": {"a": "b"}}}}}
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}, "creationTimestamp": None}}}}
    assert patch(desired, live) == []


def test_empty_maps_and_lists_in_desired_equal_absent():
    desired = pod({"args": [], "env": []}, nodeSelector={}, tolerations=[])
    desired["metadata"]["annotations"] = {}
    desired["metadata"]["labels"] = {}
    assert patch(desired, pod({})) == []
    assert contains(desired, pod({}))


def test_empty_struct_in_desired_is_added():
    """`emptyDir: {}` is a volume source: the server keeps it, and without it the volume is invalid."""
    desired = pod({}, volumes=[{"name": "tmp", "emptyDir": {}}])
    live = pod({}, volumes=[{"name": "tmp"}])
    assert patch(desired, live) == [{"op": "add", "path": "/spec/volumes/0/emptyDir", "value": {}}]


def test_empty_annotations_map_set_before_is_not_wiped():
    before = cm({"a": "1"}, annotations={})
    live = cm({"a": "1"}, annotations={"someone/else": "x"})
    assert patch(cm({"a": "1"}), live, fieldset_of(normalize_desired(before))) == []


def test_last_applied_annotation_is_compared_but_not_recorded():
    desired = cm({"a": "1"}, annotations={LAST_APPLIED_ANNOTATION: "{}"})
    assert fieldset_of(normalize_desired(desired)).tree == {"data": {"a": {}}}
    live = cm({"a": "1"}, annotations={LAST_APPLIED_ANNOTATION: "old"})
    assert patch(desired, live) == [{"op": "replace", "path": "/metadata/annotations/kubesync.io~1last-applied-fields", "value": "{}"}]
    # kept when the desired object does not carry it
    assert patch(cm({"a": "1"}), live, fieldset_of(normalize_desired(desired))) == []


def test_empty_annotations_in_live_are_patched_key_by_key():
    """Live annotations holding only ours normalize to {}: a new key is added into it, not over it."""
    live = cm({"a": "1"}, annotations={LAST_APPLIED_ANNOTATION: "{}"})
    assert patch(cm({"a": "1"}, annotations={"x": "y"}), live) == [{"op": "add", "path": "/metadata/annotations/x", "value": "y"}]


def test_secret_string_data_merged_into_data():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "YQ==", "b": "Yg=="}, "stringData": {"b": "B", "c": "ç"}}
    out = normalize_desired(secret)
    assert "stringData" not in out
    assert out["data"] == {"a": "YQ==", "b": base64.b64encode(b"B").decode(), "c": base64.b64encode("ç".encode()).decode()}
    assert "stringData" in secret  # input untouched


def test_secret_string_data_only():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
    assert normalize_desired(secret)["data"] == {"k": "dg=="}


def test_string_data_of_other_kinds_is_left_alone():
    obj = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
    assert normalize_desired(obj)["stringData"] == {"k": "v"}


@pytest.mark.parametrize(
    "desired, live",
    [("0.5", "500m"), ("1Gi", "1024Mi"), (1, "1"), ("1e3", "1k"), ("100M", "100M"), (0.25, "250m"), (1.0, "1"), (268435456, "256Mi")],
)
def test_quantities_compared_by_value_in_resources(desired, live):
    assert patch(pod({"resources": {"limits": {"cpu": desired}}}), pod({"resources": {"limits": {"cpu": live}}})) == []
    assert patch(pod({"resources": {"requests": {"memory": desired}}}), pod({"resources": {"requests": {"memory": live}}})) == []


def test_quantities_differ_by_value():
    assert patch(pod({"resources": {"limits": {"cpu": "1G"}}}), pod({"resources": {"limits": {"cpu": "1Gi"}}})) == [
        {"op": "replace", "path": "/spec/containers/0/resources/limits/cpu", "value": "1G"}
    ]


def test_empty_dir_size_limit_and_overhead_are_quantities():
    assert patch(pod({}, volumes=[{"name": "t", "emptyDir": {"sizeLimit": "0.5Gi"}}], overhead={"cpu": 0.25}), pod({}, volumes=[{"name": "t", "emptyDir": {"sizeLimit": "512Mi"}}], overhead={"cpu": "250m"})) == []


@pytest.mark.parametrize(
    "fields, expected",
    [
        (("spec", "template", "spec", "containers", "resources", "limits", "cpu"), True),
        (("spec", "resources", "requests", "storage"), True),
        (("spec", "capacity", "storage"), True),
        (("spec", "hard", "requests.cpu"), True),
        (("spec", "limits", "maxLimitRequestRatio", "cpu"), True),
        (("spec", "limits", "defaultRequest", "memory"), True),
        (("spec", "volumes", "emptyDir", "sizeLimit"), True),
        (("spec", "overhead", "cpu"), True),
        (("data", "cpu"), False),
        (("spec", "replicas"), False),
        (("spec", "containers", "resources", "limits"), False),
    ],
)
def test_quantity_paths(fields, expected):
    assert is_quantity_path(fields) is expected


def test_quantity_rules_only_at_quantity_paths():
    assert patch(cm({"cpu": "0.5"}), cm({"cpu": "500m"})) == [{"op": "replace", "path": "/data/cpu", "value": "0.5"}]


def test_int_float_bool_and_string_stay_distinct():
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2.0, "paused": 1}}
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2, "paused": True}}
    assert patch(d, live) == [
        {"op": "replace", "path": "/spec/replicas", "value": 2.0},
        {"op": "replace", "path": "/spec/paused", "value": 1},
    ]
    assert patch(cm({"a": "1", "b": True}), cm({"a": 1, "b": "true"})) == [
        {"op": "replace", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/b", "value": True},
    ]


def test_zero_values_the_server_omits_equal_absent():
    desired = pod({"stdin": False, "workingDir": "", "env": [{"name": "E", "value": ""}], "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": False, "subPath": ""}]}, hostNetwork=False)
    live = pod({"env": [{"name": "E"}], "volumeMounts": [{"name": "v", "mountPath": "/v"}]})
    assert patch(desired, live) == []


def test_zero_values_that_the_server_keeps_are_compared():
    """Pointer fields keep false: `automountServiceAccountToken: false` is not the default (true)."""
    assert patch(pod({}, automountServiceAccountToken=False), pod({})) == [{"op": "add", "path": "/spec/automountServiceAccountToken", "value": False}]
    # an empty annotation value is a value
    assert patch(cm({"a": "1"}, annotations={"x": ""}), cm({"a": "1"}, annotations={})) == [{"op": "add", "path": "/metadata/annotations/x", "value": ""}]
    assert patch(cm({"a": ""}), cm()) == [{"op": "add", "path": "/data", "value": {"a": ""}}]  # no data map in live
    assert patch(cm({"a": ""}), cm({"b": "x"})) == [{"op": "add", "path": "/data/a", "value": ""}]


def test_zero_values_in_custom_resources_are_compared():
    crd = lambda spec: {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}  # noqa: E731
    assert patch(crd({"readOnly": False}), crd({})) == [{"op": "add", "path": "/spec/readOnly", "value": False}]


@pytest.mark.parametrize("segments, text", [(("metadata", "annotations", "a/b~c"), "/metadata/annotations/a~1b~0c"), (("spec", "x", 0), "/spec/x/0")])
def test_pointer_escaping(segments, text):
    assert pointer(segments) == text
    assert parse_pointer(text) == tuple(str(s) for s in segments)


def test_keys_with_slash_and_tilde_are_escaped_in_ops():
    assert patch(cm({"a": "1"}, labels={"x~y/z": "1"}), cm({"a": "1"}, labels={})) == [{"op": "add", "path": "/metadata/labels/x~0y~1z", "value": "1"}]


def test_tolerations_and_env_from_are_atomic_with_defaults_absorbed():
    tol = [{"key": "k", "operator": "Exists"}]
    live_tol = [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    assert patch(pod({}, tolerations=tol), pod({}, tolerations=live_tol)) == []
    assert patch(pod({}, tolerations=tol), pod({}, tolerations=live_tol + [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}])) == [
        {"op": "replace", "path": "/spec/tolerations", "value": tol}
    ]
    env_from = [{"configMapRef": {"name": "a"}}, {"secretRef": {"name": "b"}}]
    assert patch(pod({"envFrom": env_from}), pod({"envFrom": env_from[::-1]})) == [{"op": "replace", "path": "/spec/containers/0/envFrom", "value": env_from}]


def test_keyed_lists_ignore_order():
    a, b = {"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/b"}
    assert patch(pod({"volumeMounts": [a, b]}), pod({"volumeMounts": [b, a]})) == []


def test_env_order_is_enforced():
    """`$(VAR)` refers to variables defined before it: env is the one keyed list whose order counts."""
    a, b = {"name": "a", "value": "1"}, {"name": "b", "value": "2"}
    assert patch(pod({"env": [a, b]}), pod({"env": [b, a]})) == [{"op": "replace", "path": "/spec/containers/0/env", "value": [a, b]}]


def test_list_without_keys_on_every_item_is_atomic():
    env = [{"name": "a", "value": "1"}, {"value": "nameless"}]
    assert patch(pod({"env": env}), pod({"env": [{"name": "a", "value": "1"}]})) == [{"op": "replace", "path": "/spec/containers/0/env", "value": env}]


def test_init_containers_host_aliases_and_image_pull_secrets_are_keyed():
    desired = pod({}, initContainers=[{"name": "init", "image": "i:2"}], hostAliases=[{"ip": "10.0.0.1", "hostnames": ["a"]}], imagePullSecrets=[{"name": "reg"}])
    live = pod({}, initContainers=[{"name": "init", "image": "i:1", "imagePullPolicy": "IfNotPresent"}], hostAliases=[{"ip": "10.0.0.9", "hostnames": ["z"]}, {"ip": "10.0.0.1", "hostnames": ["a"]}], imagePullSecrets=[{"name": "other"}, {"name": "reg"}])
    assert patch(desired, live) == [{"op": "replace", "path": "/spec/initContainers/0/image", "value": "i:2"}]


def test_volume_mounts_keyed_by_mount_path():
    desired = pod({"volumeMounts": [{"name": "data", "mountPath": "/b"}, {"name": "data", "mountPath": "/a"}]})
    live = pod({"volumeMounts": [{"name": "data", "mountPath": "/a"}, {"name": "data", "mountPath": "/b"}]})
    assert patch(desired, live) == []


def test_finalizers_are_a_set_only_ours_removed():
    live = cm({"a": "1"}, finalizers=["kubernetes.io/pvc-protection", "example.com/cleanup", "example.com/old"])
    before = cm({"a": "1"}, finalizers=["example.com/old", "example.com/cleanup"])
    desired = cm({"a": "1"}, finalizers=["example.com/cleanup", "example.com/new"])
    assert patch(desired, live, fieldset_of(normalize_desired(before))) == [
        {"op": "remove", "path": "/metadata/finalizers/2"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/new"},
    ]
    assert patch(cm({"a": "1"}), live, fieldset_of(normalize_desired(before))) == [
        {"op": "remove", "path": "/metadata/finalizers/2"},
        {"op": "remove", "path": "/metadata/finalizers/1"},
    ]


def test_names_inside_a_crd_schema_are_the_users():
    """`labels`, `limits`, `readOnly` under openAPIV3Schema are property names, not Kubernetes fields."""
    def crd(props):
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": props}}}]},
        }

    before = crd({"labels": {"type": "object"}, "size": {"type": "string"}})
    live = crd({"labels": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, "size": {"type": "string"}})
    assert patch(crd({"size": {"type": "string"}}), live, fieldset_of(normalize_desired(before))) == [
        {"op": "remove", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/labels"}
    ]
    assert patch(crd({"size": {"type": "string"}, "labels": {}}), crd({"size": {"type": "string"}})) == [
        {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/labels", "value": {}}
    ]
