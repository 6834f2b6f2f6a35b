"""Ignore rules: JSON pointers (with `*`) and field managers read from live `managedFields`."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import jsonpatch
import yaml

from kubesync.diff import IgnoreMatcher, diff, fieldset_of, normalize_desired
from kubesync.diff.normalize import managed_paths

LIVE = Path(__file__).parent / "fixtures" / "live"


def live(name: str) -> dict:
    return yaml.safe_load((LIVE / f"{name}.yaml").read_text())


@dataclass(frozen=True)
class Rule:
    paths: tuple = ()
    managers: tuple = ()


def ops(desired, live_obj, last=None, ignore=()):
    result = list(diff(desired, live_obj, last, ignore=ignore).patch)
    patched = jsonpatch.apply_patch(live_obj, result)
    assert list(diff(desired, patched, fieldset_of(normalize_desired(desired), ignore=ignore, live=patched), ignore=ignore).patch) == []
    return result


def deployment_from_live() -> dict:
    """The live Deployment as a user would have written it (server fields stripped)."""
    d = normalize_desired(live("deployment"))
    d["metadata"].pop("annotations")
    return d


def test_pointer_rule_ignores_a_field_and_keeps_it_out_of_the_fieldset():
    d = deployment_from_live()
    d["spec"]["replicas"] = 5
    rules = [Rule(paths=("/spec/replicas",))]
    assert ops(d, live("deployment"), ignore=rules) == []
    assert "replicas" not in fieldset_of(d, ignore=rules).tree["spec"]
    assert ops(d, live("deployment")) == [{"op": "replace", "path": "/spec/replicas", "value": 5}]


def test_ignored_field_gone_from_desired_is_not_removed():
    d = deployment_from_live()
    before = copy.deepcopy(d)
    del d["spec"]["revisionHistoryLimit"]
    assert ops(d, live("deployment"), fieldset_of(before), ignore=[Rule(paths=("/spec/revisionHistoryLimit",))]) == []
    assert ops(d, live("deployment"), fieldset_of(before)) == [{"op": "remove", "path": "/spec/revisionHistoryLimit"}]


def test_annotation_pointer_with_escaped_slash():
    lv = live("deployment")
    d = deployment_from_live()
    d["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "7"}
    assert ops(d, lv, ignore=[Rule(paths=("/metadata/annotations/deployment.kubernetes.io~1revision",))]) == []


def test_star_matches_any_list_index_or_map_key():
    d = deployment_from_live()
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:9"
    d["spec"]["template"]["metadata"]["labels"]["app"] = "other"
    rules = [Rule(paths=("/spec/template/spec/containers/*/image", "/spec/template/metadata/labels/*"))]
    assert ops(d, live("deployment"), ignore=rules) == []


def test_whole_object_ignored_with_the_empty_pointer():
    d = deployment_from_live()
    d["spec"]["replicas"] = 9
    assert ops(d, live("deployment"), ignore=[Rule(paths=("",))]) == []


def test_manager_rule_from_the_fixture_managed_fields():
    d = deployment_from_live()
    d["spec"]["replicas"] = 1
    d["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "0"}
    assert ops(d, live("deployment"), ignore=[Rule(managers=("kube-controller-manager",))]) == []
    assert ops(d, live("deployment"), ignore=[Rule(managers=("kube-*",))]) == []
    assert len(ops(d, live("deployment"), ignore=[Rule(managers=("someone-else",))])) == 2


def test_manager_owned_keyed_items_are_resolved_to_live_indices():
    lv = live("deployment")
    lv["metadata"]["managedFields"].append(
        {
            "manager": "vault-injector",
            "operation": "Update",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:env": {'k:{"name":"LOG_LEVEL"}': {".": {}, "f:value": {}}}}}}}}},
        }
    )
    d = deployment_from_live()
    d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "trace"
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert ops(d, lv, ignore=[Rule(managers=("vault-injector",))]) == [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:2"}
    ]


def test_managed_paths_parses_fields_v1():
    obj = {
        "metadata": {
            "finalizers": ["a", "b"],
            "managedFields": [
                {
                    "manager": "m",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {"f:finalizers": {"v:\"b\"": {}}, "f:labels": {".": {}, "f:x": {}}},
                        "f:spec": {
                            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}}, 'k:{"port":1,"protocol":"TCP"}': {"f:name": {}}},
                            "f:list": {"i:1": {}},
                            "f:gone": {"f:deeper": {}},
                        },
                    },
                },
                {"manager": "other", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:x": {}}}},
            ],
        },
        "spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 80, "protocol": "TCP", "name": "http"}], "list": [1, 2]},
    }
    assert sorted(managed_paths(obj, ["m"]), key=str) == sorted(
        [("metadata", "finalizers", 1), ("metadata", "labels", "x"), ("spec", "ports", 1, "name"), ("spec", "list", 1), ("spec", "gone", "deeper")],
        key=str,
    )


def test_atomic_list_replaced_keeps_the_ignored_field_live_value():
    lv = live("ingress")
    lv["spec"]["rules"][0]["host"] = "set-by-a-controller.example.com"
    d = normalize_desired(live("ingress"))
    d["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/v2"
    result = ops(d, lv, ignore=[Rule(paths=("/spec/rules/*/host",))])
    assert len(result) == 1 and result[0]["path"] == "/spec/rules"
    assert result[0]["value"][0]["host"] == "set-by-a-controller.example.com"
    assert result[0]["value"][0]["http"]["paths"][0]["path"] == "/v2"


def test_struct_removed_whole_keeps_an_ignored_field_inside_it():
    d = deployment_from_live()
    before = copy.deepcopy(d)
    before["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"x": 1}, "podAntiAffinity": {"y": 2}}
    lv = live("deployment")
    lv["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"x": 3}, "podAntiAffinity": {"y": 2}}
    rules = [Rule(paths=("/spec/template/spec/affinity/nodeAffinity",))]
    assert ops(d, lv, fieldset_of(before), ignore=rules) == [{"op": "remove", "path": "/spec/template/spec/affinity/podAntiAffinity"}]
    assert ops(d, lv, fieldset_of(before)) == [{"op": "remove", "path": "/spec/template/spec/affinity"}]


def test_matcher_accepts_rules_without_managers_or_paths():
    class OnlyPaths:
        paths = ["/a"]

    m = IgnoreMatcher([OnlyPaths()], {})
    assert m.ignored(("a", "b")) and not m.ignored(("b",)) and m.below(("a",)) is False and m.below(()) is True
    assert not IgnoreMatcher([], None)
