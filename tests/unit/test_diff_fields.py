"""The unknown-field check of servers without strict field validation: the fields a kind knows, read
from OpenAPI v2 (`$ref`s, 1.20), v3 (`allOf: [{$ref}]`, 1.37) and CRD schemas, and the paths of the
fields an object has beyond them, named as the API server names them."""

from __future__ import annotations

import pytest

from kubesync.diff import fields as known
from kubesync.diff.schema import from_crd, from_json, from_openapi, to_json


def ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def v3ref(name: str) -> dict:
    return {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "default": {}}


GVK = "x-kubernetes-group-version-kind"

# The shapes 1.20's /openapi/v2 publishes (cut down): structs with properties, free-form maps,
# IntOrString as a string, RawExtension and FieldsV1 as bare objects.
V2 = {"definitions": {
    "apps.v1.Deployment": {"properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                          "metadata": ref("meta.ObjectMeta"), "spec": ref("apps.v1.DeploymentSpec")},
                           GVK: [{"group": "apps", "version": "v1", "kind": "Deployment"}]},
    "apps.v1.DeploymentSpec": {"properties": {"replicas": {"type": "integer"}, "template": ref("core.v1.PodTemplateSpec"),
                                              "strategy": ref("apps.v1.Strategy")}},
    "apps.v1.Strategy": {"properties": {"rollingUpdate": {"properties": {"maxSurge": ref("intstr.IntOrString")}}}},
    "core.v1.PodTemplateSpec": {"properties": {"metadata": ref("meta.ObjectMeta"), "spec": ref("core.v1.PodSpec")}},
    "core.v1.PodSpec": {"properties": {"containers": {"type": "array", "items": ref("core.v1.Container")},
                                       "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "core.v1.Container": {"properties": {"name": {"type": "string"}, "image": {"type": "string"},
                                         "imagePullPolicy": {"type": "string"},
                                         "resources": {"properties": {"limits": {"type": "object", "additionalProperties":
                                                                                 ref("resource.Quantity")}}}}},
    "meta.ObjectMeta": {"properties": {"name": {"type": "string"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                       "managedFields": {"type": "array", "items": ref("meta.ManagedFieldsEntry")}}},
    "meta.ManagedFieldsEntry": {"properties": {"manager": {"type": "string"}, "fieldsV1": ref("meta.FieldsV1")}},
    "meta.FieldsV1": {"type": "object"},
    "intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "resource.Quantity": {"type": "string"},
    "apps.v1.ControllerRevision": {"properties": {"kind": {"type": "string"}, "data": ref("runtime.RawExtension")},
                                   GVK: [{"group": "apps", "version": "v1", "kind": "ControllerRevision"}]},
    "runtime.RawExtension": {"type": "object"},
}}

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}, "managedFields": [{"manager": "x", "fieldsV1": {"f:spec": {}}}]},
    "spec": {
        "replicas": 2,
        "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"nodeSelector": {"disk": "ssd"},
                              "containers": [{"name": "a", "image": "nginx", "resources": {"limits": {"cpu": "1"}}},
                                             {"name": "b", "image": "nginx", "imagePullPolicy": "Always"}]}},
    },
}


def deployment_fields() -> known.Fields:
    return from_openapi(V2)[("apps/v1", "Deployment")].fields


def unknown(obj, fields) -> list[str]:
    return [known.format_path(p) for p in known.unknown(obj, fields)]


def test_a_valid_object_has_no_unknown_field():
    assert unknown(DEPLOYMENT, deployment_fields()) == []


def test_typos_are_found_at_any_depth_and_in_every_list_item():
    obj = {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replica": 2}}
    obj["spec"]["template"] = {"spec": {"containers": [{"name": "a"}, {"name": "b", "imagePullPolice": "Always"}]}}
    obj["metadata"] = {"name": "web", "lables": {"a": "b"}}
    assert unknown(obj, deployment_fields()) == [
        "metadata.lables", "spec.replica", "spec.template.spec.containers[1].imagePullPolice"]


def test_free_form_maps_take_any_key_and_check_their_values():
    fields = deployment_fields()
    obj = {"spec": {"template": {"spec": {"nodeSelector": {"any.key/at-all": "v"},
                                          "containers": [{"resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "1"}}}]}}}}
    assert unknown(obj, fields) == []
    # a value that is an object where the schema says string: a type error for the server, not an unknown field
    assert unknown({"spec": {"template": {"spec": {"nodeSelector": {"k": {"deep": 1}}}}}}, fields) == []


def test_int_or_string_raw_extension_and_fields_v1_say_nothing_of_what_they_hold():
    assert unknown({"spec": {"strategy": {"rollingUpdate": {"maxSurge": {"odd": 1}}}}}, deployment_fields()) == []
    revision = from_openapi(V2)[("apps/v1", "ControllerRevision")].fields
    assert unknown({"kind": "ControllerRevision", "data": {"anything": {"at": ["all"]}}}, revision) == []


def test_openapi_v3_allof_refs_are_followed():
    doc = {"components": {"schemas": {
        "Deployment": {"properties": {"kind": {"type": "string"}, "spec": v3ref("DeploymentSpec")},
                       GVK: [{"group": "apps", "version": "v1", "kind": "Deployment"}]},
        "DeploymentSpec": {"properties": {"replicas": {"type": "integer", "default": 0},
                                          "template": v3ref("PodTemplateSpec")}},
        "PodTemplateSpec": {"properties": {"spec": v3ref("PodSpec")}},
        "PodSpec": {"properties": {"containers": {"type": "array", "items": v3ref("Container")}}},
        "Container": {"properties": {"name": {"type": "string", "default": ""}}},
    }}}
    fields = from_openapi(doc)[("apps/v1", "Deployment")].fields
    obj = {"kind": "Deployment", "spec": {"replica": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    assert unknown(obj, fields) == ["spec.replica", "spec.template.spec.containers[0].image"]


def crd(schema: dict, **spec) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}], **spec}}


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {
            "size": {"x-kubernetes-int-or-string": True},
            "parts": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}},
                                                 "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["n"]}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "limits": {"type": "object", "additionalProperties": {"type": "object", "properties": {"max": {"type": "integer"}}}},
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                       "properties": {"mode": {"type": "object", "properties": {"name": {"type": "string"}}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
            "pod": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {"type": "object", "properties": {
                "image": {"type": "string"}}}}},
            "empty": {"type": "object"},
        }},
    },
}


def widget_fields() -> known.Fields:
    return from_crd(crd(WIDGET_SCHEMA))[("example.com/v1", "Widget")].fields


def test_custom_resources_follow_their_structural_schema():
    fields = widget_fields()
    good = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}, "annotations": {}},
            "spec": {"size": "50%", "parts": [{"n": 1}, {"n": 2}], "labels": {"any": "x"}, "limits": {"cpu": {"max": 2}},
                     "config": {"free": {"form": 1}, "mode": {"name": "x"}},
                     "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"anything": 1}},
                     "pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}}, "spec": {"image": "x"}},
                     "empty": {}}}
    assert unknown(good, fields) == []
    bad = {"kind": "Widget", "spek": {}, "spec": {"parts": [{"n": 1, "m": 2}], "limits": {"cpu": {"maks": 1}},
                                                  "config": {"mode": {"nmae": "x"}}, "pod": {"spec": {"imgae": "x"}},
                                                  "empty": {"x": 1}}}
    assert unknown(bad, fields) == ["spek", "spec.parts[0].m", "spec.limits.cpu.maks", "spec.config.mode.nmae",
                                    "spec.pod.spec.imgae", "spec.empty.x"]


def test_a_crd_that_keeps_unknown_fields_checks_nothing():
    kept = crd(WIDGET_SCHEMA, preserveUnknownFields=True)  # as 1.20 serves a v1beta1 CRD through v1
    assert from_crd(kept)[("example.com/v1", "Widget")].fields is None
    v1beta1 = {**crd(WIDGET_SCHEMA), "apiVersion": "apiextensions.k8s.io/v1beta1"}  # its default keeps every field
    assert from_crd(v1beta1)[("example.com/v1", "Widget")].fields is None
    pruned = {**v1beta1, "spec": {**v1beta1["spec"], "preserveUnknownFields": False}}
    assert from_crd(pruned)[("example.com/v1", "Widget")].fields is not None


# 1.20's JSONSchemaProps: recursive, with the custom-marshalled "or" types published as empty schemas.
P = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
CRD_V2 = {"definitions": {
    P + "CustomResourceDefinition": {"properties": {"kind": {"type": "string"}, "spec": ref(P + "Spec")},
                                     GVK: [{"group": "apiextensions.k8s.io", "version": "v1", "kind": "CustomResourceDefinition"}]},
    P + "Spec": {"properties": {"versions": {"type": "array", "items": ref(P + "Version")}}},
    P + "Version": {"properties": {"name": {"type": "string"}, "schema": ref(P + "Validation")}},
    P + "Validation": {"properties": {"openAPIV3Schema": ref(P + "JSONSchemaProps")}},
    P + "JSONSchemaProps": {"properties": {
        "type": {"type": "string"}, "default": ref(P + "JSON"),
        "properties": {"type": "object", "additionalProperties": ref(P + "JSONSchemaProps")},
        "items": ref(P + "JSONSchemaPropsOrArray"), "additionalProperties": ref(P + "JSONSchemaPropsOrBool"),
        "x-kubernetes-preserve-unknown-fields": {"type": "boolean"}}},
    P + "JSONSchemaPropsOrArray": {}, P + "JSONSchemaPropsOrBool": {}, P + "JSON": {},
}}


def test_cel_rules_are_unknown_at_any_depth_of_a_crd_on_a_server_that_predates_them():
    fields = from_openapi(CRD_V2)[("apiextensions.k8s.io/v1", "CustomResourceDefinition")].fields
    rule = [{"rule": "self.a > 0"}]
    schema = {"type": "object", "x-kubernetes-validations": rule, "properties": {"spec": {
        "type": "object", "default": {"free": {"x-kubernetes-validations": "not a schema"}},
        "properties": {"parts": {"type": "array", "items": {"type": "object", "x-kubernetes-validations": rule}},
                       "map": {"type": "object", "additionalProperties": {"type": "object", "x-kubernetes-validations": rule}},
                       "tuple": {"items": [{"type": "string", "x-kubernetes-validations": rule}]},
                       "flag": {"additionalProperties": True}}}}}
    obj = {"kind": "CustomResourceDefinition", "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}]}}
    root = "spec.versions[0].schema.openAPIV3Schema"
    assert unknown(obj, fields) == [
        f"{root}.x-kubernetes-validations",
        f"{root}.properties.spec.properties.parts.items.x-kubernetes-validations",
        f"{root}.properties.spec.properties.map.additionalProperties.x-kubernetes-validations",
        f"{root}.properties.spec.properties.tuple.items[0].x-kubernetes-validations",
    ]


def test_the_graph_is_bounded_and_a_bound_checks_nothing_below_it():
    deep = {"type": "object", "properties": {}}
    node = deep
    for _ in range(known.MAX_DEPTH + 5):
        child = {"type": "object", "properties": {}}
        node["properties"]["d"] = child
        node = child
    fields = known.build(deep, structural=True)
    obj = {}
    cur = obj
    for _ in range(known.MAX_DEPTH + 5):
        cur["d"] = {}
        cur = cur["d"]
    cur["typo"] = 1
    assert unknown(obj, fields) == []  # past the depth bound: ANY, never a false "unknown"
    wide = {"type": "object", "properties": {f"p{i}": {"type": "object", "properties": {"x": {"type": "string"}}}
                                             for i in range(known.MAX_NODES + 10)}}
    assert len(known.build(wide, structural=True).nodes) <= known.MAX_NODES
    many = {f"t{i}": 1 for i in range(100)}
    assert len(known.unknown(many, known.build({"type": "object", "properties": {"a": {"type": "string"}}}, structural=True))) \
        == known.MAX_FOUND


def test_the_known_fields_survive_the_disk_cache_and_a_corrupt_one_is_refused():
    schema = from_openapi(V2)[("apps/v1", "Deployment")]
    back = from_json(to_json(schema))
    assert back is not None and back.fields.nodes == schema.fields.nodes
    assert from_json({**to_json(schema), "fields": [[{"a": 99}, None, None, 0]]}) is None
    assert from_json({k: v for k, v in to_json(schema).items() if k != "fields"}) is None  # an older format: read again


@pytest.mark.parametrize("text, path", [
    ("spec.replica", ("spec", "replica")),
    ("spec.template.spec.containers[1].imagePullPolice", ("spec", "template", "spec", "containers", 1, "imagePullPolice")),
    ("metadata.labels.app.kubernetes.io/name", ("metadata", "labels", "app.kubernetes.io/name")),
    ("spec.nope", None),
])
def test_the_servers_field_names_are_matched_against_the_object(text, path):
    obj = {"metadata": {"labels": {"app.kubernetes.io/name": "x"}},
           "spec": {"replica": 1, "template": {"spec": {"containers": [{}, {"imagePullPolice": "x"}]}}}}
    assert known.parse_path(obj, text) == path
    if path:
        assert known.format_path(path) == text


def test_a_typo_gets_the_closest_known_name_a_newer_field_none():
    fields = deployment_fields()
    assert known.suggest(fields, ("spec", "replica")) == "replicas"
    assert known.suggest(fields, ("spec", "template", "spec", "containers", 0, "imagePullPolice")) == "imagePullPolicy"
    assert known.suggest(fields, ("spec", "minReadySeconds")) == ""
    assert known.suggest(None, ("spec", "replica")) == ""
