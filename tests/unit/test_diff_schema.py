"""List and map rules read from OpenAPI v2/v3 documents and CRD schemas, and the diff they drive.

The documents below keep the shapes the API servers publish: v2 `definitions` with plain `$ref`s
(1.20), v3 `components.schemas` with `allOf: [{$ref}]` wrappers and Go zero values as `default` (1.37).
"""

from __future__ import annotations

import copy

from kubesync.diff import diff, fieldset_of, normalize_desired
from kubesync.diff.schema import KindSchema, from_crd, from_json, from_openapi, to_json
from tests.support.manifests import crd

V2 = {
    "definitions": {
        "io.k8s.api.core.v1.Service": {
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.ServiceSpec"}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Service", "version": "v1"}],
        },
        "io.k8s.api.core.v1.ServiceSpec": {
            "properties": {
                "ports": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.ServicePort"},
                          "x-kubernetes-list-map-keys": ["port", "protocol"], "x-kubernetes-list-type": "map",
                          "x-kubernetes-patch-merge-key": "port", "x-kubernetes-patch-strategy": "merge"},
                "selector": {"type": "object", "additionalProperties": {"type": "string"}},
                "externalIPs": {"type": "array", "items": {"type": "string"}},
            },
        },
        "io.k8s.api.core.v1.ServicePort": {"properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}},
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": {
            "properties": {"gracePeriodSeconds": {"type": "integer"}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "DeleteOptions", "version": "v1"}],
        },
    }
}

V3 = {
    "components": {
        "schemas": {
            "io.k8s.api.apps.v1.Deployment": {
                "properties": {"kind": {"type": "string"},
                               "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}], "default": {}}},
                "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
            },
            "io.k8s.api.apps.v1.DeploymentSpec": {
                "properties": {"template": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}], "default": {}}},
            },
            "io.k8s.api.core.v1.PodSpec": {
                "properties": {
                    "containers": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}], "default": {}},
                                   "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map",
                                   "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
                    "tolerations": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"},
                    "readinessGates": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"},
                },
            },
            "io.k8s.api.core.v1.Container": {
                "properties": {
                    "name": {"type": "string", "default": ""},
                    "ports": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ContainerPort"}], "default": {}},
                              "x-kubernetes-list-map-keys": ["containerPort", "protocol"], "x-kubernetes-list-type": "map"},
                    "env": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "default": ""}}},
                            "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"},
                },
            },
            "io.k8s.api.core.v1.ContainerPort": {
                "properties": {"containerPort": {"type": "integer", "default": 0}, "protocol": {"type": "string", "default": "TCP"}},
            },
        }
    }
}

CRD = crd("example.com", "Route", {
    "backends": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "port"],
                 "items": {"type": "object", "required": ["name"], "properties": {
                     "name": {"type": "string"}, "port": {"type": "integer", "default": 80},
                     "weight": {"type": "integer", "default": 1}}}},
    "hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
    "rules": {"type": "array", "items": {"type": "object"}},
    "env": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "object"}},
    "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    "owners": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
})
CRD["spec"]["versions"].append({"name": "v0", "served": False, "storage": False, "schema": {"openAPIV3Schema": {"type": "object"}}})


def route(**spec) -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Route", "metadata": {"name": "r", "namespace": "ns"}, "spec": spec}


def ops(desired: dict, live: dict, schema: KindSchema | None, previous: dict | None = None) -> list:
    fs = fieldset_of(normalize_desired(previous or desired), schema=schema)
    return list(diff(desired, live, fs, schema=schema).patch)


# ----------------------------------------------------------------------------- reading documents


def test_v2_document_gives_list_map_keys_sets_and_free_form_maps():
    found = from_openapi(V2)
    assert set(found) == {("v1", "Service")}  # DeleteOptions is listed for every group: not an object we sync
    service = found[("v1", "Service")]
    assert service.lists[("spec", "ports")] == {"type": "map", "keys": ["port", "protocol"], "mergeKey": "port"}
    assert service.maps == {("spec", "selector"): "granular"}
    assert ("spec", "externalIPs") not in service.lists  # the schema says nothing: the tables answer
    rule = service.merge_rule(("spec", "ports"), "Service")
    assert rule.keys == ("port", "protocol") and rule.defaults == {"protocol": "TCP"}  # the table's default kept


def test_v3_document_follows_allof_refs_and_ignores_zero_value_defaults():
    deployment = from_openapi(V3)[("apps/v1", "Deployment")]
    ports = deployment.lists[("spec", "template", "containers", "ports")]
    assert ports == {"type": "map", "keys": ["containerPort", "protocol"], "defaults": {"protocol": "TCP"}}
    assert "defaults" not in deployment.lists[("spec", "template", "containers")]  # `name: ""` is no default
    assert deployment.merge_rule(("spec", "template", "tolerations"), "Deployment") is None


def test_schema_overrides_the_table_where_it_speaks_and_keeps_env_order():
    deployment = from_openapi(V3)[("apps/v1", "Deployment")]
    # readinessGates: the table keys them by conditionType, the server says atomic
    assert deployment.merge_rule(("spec", "template", "readinessGates"), "Deployment") is None
    env = deployment.merge_rule(("spec", "template", "containers", "env"), "Deployment")
    assert env.keys == ("name",) and env.ordered  # `$(VAR)` order: only the table knows
    # silent schema: the table
    assert deployment.merge_rule(("spec", "template", "volumes"), "Deployment").keys == ("name",)


def test_crd_schema_per_served_version():
    found = from_crd(CRD)
    assert set(found) == {("example.com/v1", "Route")}
    schema = found[("example.com/v1", "Route")]
    backends = schema.merge_rule(("spec", "backends"), "Route")
    assert backends.keys == ("name", "port") and backends.defaults == {"port": 80}
    assert schema.merge_rule(("spec", "hosts"), "Route").keys == ()  # a set
    assert schema.merge_rule(("spec", "env"), "Route") is None  # atomic, although the table keys `env`
    assert schema.merge_rule(("spec", "rules"), "Route") is None
    assert schema.maps == {("spec", "tags"): "granular", ("spec", "owners"): "atomic"}
    assert schema.open == {("spec", "extra")}


def test_recursive_and_hostile_schemas_end():
    doc = {"definitions": {"a.Loop": {
        "properties": {"kind": {"type": "string"}, "next": {"$ref": "#/definitions/a.Loop"},
                       "items": {"type": "array", "items": {"$ref": "#/definitions/a.Loop"}, "x-kubernetes-list-type": "set"},
                       "dangling": {"$ref": "#/definitions/nowhere"}},
        "x-kubernetes-group-version-kind": [{"group": "x.io", "kind": "Loop", "version": "v1"}]}}}
    schema = from_openapi(doc)[("x.io/v1", "Loop")]
    assert schema.lists == {("items",): {"type": "set"}}
    deep: dict = {"type": "object"}
    node = deep
    for _ in range(500):
        node["properties"] = {"a": {"type": "object"}}
        node = node["properties"]["a"]
    crd = copy.deepcopy(CRD)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = deep
    assert from_crd(crd)[("example.com/v1", "Route")].lists == {}
    assert from_crd({"spec": "nonsense"}) == {} and from_openapi({"definitions": []}) == {}


def test_cache_form_round_trips():
    schema = from_crd(CRD)[("example.com/v1", "Route")]
    back = from_json(to_json(schema))
    assert back.lists == schema.lists and back.maps == schema.maps and back.open == schema.open
    assert from_json({"lists": 3}) is None


# ----------------------------------------------------------------------------- the diff it drives

SCHEMA = from_crd(CRD)[("example.com/v1", "Route")]


def test_list_map_entry_added_by_another_writer_stays():
    desired = route(backends=[{"name": "web", "port": 8080, "weight": 2}])
    live = route(backends=[{"name": "web", "port": 8080, "weight": 2}, {"name": "canary", "port": 8080, "weight": 1}])
    assert ops(desired, live, SCHEMA) == []
    # without the schema, the list is atomic and the other writer's entry would be wiped
    assert ops(desired, live, None) == [{"op": "replace", "path": "/spec/backends", "value": [{"name": "web", "port": 8080, "weight": 2}]}]


def test_list_map_items_are_matched_by_key_with_schema_defaults():
    desired = route(backends=[{"name": "web", "weight": 5}])  # port defaulted to 80 by the server
    live = route(backends=[{"name": "canary", "port": 80, "weight": 1}, {"name": "web", "port": 80, "weight": 1}])
    assert ops(desired, live, SCHEMA) == [{"op": "replace", "path": "/spec/backends/1/weight", "value": 5}]


def test_list_map_entry_we_set_and_dropped_is_removed_alone():
    before = route(backends=[{"name": "web", "port": 80}, {"name": "old", "port": 80}])
    desired = route(backends=[{"name": "web", "port": 80}])
    live = route(backends=[{"name": "web", "port": 80}, {"name": "other", "port": 80}, {"name": "old", "port": 80}])
    assert ops(desired, live, SCHEMA, previous=before) == [{"op": "remove", "path": "/spec/backends/2"}]


def test_set_keeps_foreign_members_and_atomic_list_is_replaced():
    desired = route(hosts=["a.example.com"], env=[{"name": "A"}])
    live = route(hosts=["b.example.com", "a.example.com"], env=[{"name": "A"}, {"name": "B"}])
    assert ops(desired, live, SCHEMA) == [{"op": "replace", "path": "/spec/env", "value": [{"name": "A"}]}]


def test_atomic_free_form_map_is_removed_whole_granular_one_key_by_key():
    before = route(tags={"team": "a"}, owners={"alice": "x"})
    desired = route()
    live = route(tags={"team": "a", "foreign": "b"}, owners={"alice": "x", "bob": "y"})
    assert ops(desired, live, SCHEMA, previous=before) == [
        {"op": "remove", "path": "/spec/tags/team"},
        {"op": "remove", "path": "/spec/owners"},
    ]
