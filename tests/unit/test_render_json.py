"""JSON rendering: the stable, schema-checked plan document, and saved plans read back exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

import kubesync
from kubesync import planfile
from kubesync.deltas import compute_deltas
from kubesync.errors import UsageError
from kubesync.model import Action, ActionType, ObjectRef, Plan
from kubesync.render.json import SCHEMA, plan_from_dict, plan_to_dict, render_json


from tests.unit.golden import plan_fixture as fx  # noqa: E402
SCHEMA_FILE = Path(kubesync.__file__).parent / "schema" / "plan.v1.json"


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def golden_json() -> str:
    plan = fx.build_plan()
    return render_json(plan, compute_deltas(plan), generated_at=fx.GENERATED_AT)


def test_json_matches_golden_byte_for_byte():
    fx.check_golden("plan.json", golden_json())


def test_golden_plan_validates_against_the_schema():
    v = validator()
    v.validate(json.loads(golden_json()))
    plan = fx.build_plan()
    v.validate(plan_to_dict(plan, mask=False))  # the saved form too
    v.validate(plan_to_dict(fx.no_change_plan()))
    v.validate(json.loads(json.dumps(plan_to_dict(Plan("s", "", "", ())))))
    saved = {**plan_to_dict(plan, mask=False), "source_spec": {"path": "manifests"}, "namespace": "shop"}
    v.validate(saved)  # what `plan --out` writes
    assert plan_from_dict(saved) == plan


def test_schema_rejects_a_broken_plan():
    data = json.loads(golden_json())
    data["actions"][0]["type"] = "explode"
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(data)


def test_top_level_shape():
    data = json.loads(golden_json())
    assert data["schema"] == SCHEMA == "kubesync.io/plan/v1"
    assert set(data) == {"schema", "sync", "source", "revision", "generated_at", "masked", "summary", "actions", "would_prune", "conflicts", "warnings", "deltas",
                         "capacity", "charts", "hooks"}
    assert data["summary"] == {"create": 3, "update": 4, "scale": 1, "replace": 0, "delete": 2, "noop": 2, "changes": 10, "would_prune": 0}
    assert data["charts"][0] == {"name": "redis", "before": "17.3.0", "after": "17.4.1"}
    assert data["hooks"][0]["phases"] == ["PreSync"] and data["hooks"][0]["wave"] == -5
    assert data["hooks"][0]["said"] == "helm.sh/hook: pre-install,pre-upgrade"
    assert data["generated_at"] == fx.GENERATED_AT and data["masked"] is True
    assert data["deltas"]["namespaces"]["shop"]["requests.cpu"] == {"before": "5.65", "after": "3.9", "delta": "-1.75"}


def test_output_is_stable():
    text = golden_json()
    assert text == golden_json()
    assert text.endswith("}\n") and text.startswith('{\n  "actions": [')
    assert render_json(fx.build_plan())  # generated_at and deltas are optional


def action_fields(a: Action) -> dict:
    return {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}


def test_saved_plan_round_trips_exactly():
    plan = fx.build_plan()
    back = plan_from_dict(json.loads(json.dumps(plan_to_dict(plan, mask=False, generated_at=fx.GENERATED_AT))))
    assert back == plan
    for original, loaded in zip(plan.actions, back.actions):
        expected = action_fields(original)
        if expected["live"] is not None:  # managedFields is the one thing not kept
            expected["live"] = {**expected["live"], "metadata": {k: v for k, v in expected["live"]["metadata"].items() if k != "managedFields"}}
        assert action_fields(loaded) == expected
        assert type(loaded.patch) is tuple and type(loaded.risks) is tuple
    assert back.actions[6].replicas == (3, 0)
    assert back.actions[2].desired["data"]["password"] == fx.b64(fx.NEW_PASSWORD)  # Secret values kept for apply


def test_plan_to_dict_does_not_share_or_mutate_input():
    plan = fx.build_plan()
    data = plan_to_dict(plan, mask=False)
    data["actions"][1]["desired"]["data"]["LOG_LEVEL"] = "debug"
    assert plan.actions[1].desired["data"]["LOG_LEVEL"] == "info"


def test_masked_plan_cannot_be_applied():
    with pytest.raises(UsageError, match="masked.*v1 Secret shop/db-credentials.*--out"):
        plan_from_dict(json.loads(golden_json()))


def test_masked_plan_without_secret_writes_loads():
    plan = Plan("s", "src", "r", (Action(ActionType.CREATE, ObjectRef("", "v1", "ConfigMap", "a", "b"), desired={"apiVersion": "v1", "kind": "ConfigMap"}),))
    assert plan_from_dict(plan_to_dict(plan)) == plan


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d.update(schema="other/v9"), "schema is 'other/v9'"),
        (lambda d: d.pop("actions"), "missing 'actions'"),
        (lambda d: d["actions"][0].pop("ref"), r"actions\[0\]: missing 'ref'"),
        (lambda d: d["actions"][0].update(type="explode"), r"actions\[0\]: 'explode' is not a valid ActionType"),
        (lambda d: d["actions"][0]["ref"].update(name=3), r"actions\[0\].ref.name: expected str"),
        (lambda d: d["actions"][0].update(wave="soon"), r"actions\[0\]: invalid literal"),
        (lambda d: d["actions"][0].update(replicas=[1, 2]), r"actions\[0\]: 'list' object has no attribute"),
    ],
)
def test_invalid_plan_files_are_refused_with_a_reason(mutate, message):
    data = plan_to_dict(fx.build_plan(), mask=False)
    mutate(data)
    with pytest.raises(UsageError, match=message):
        plan_from_dict(data)


def test_invalid_json_is_refused(tmp_path):
    (tmp_path / "plan.json").write_text("{not json")
    with pytest.raises(UsageError, match="plan.json: not a kubesync plan \\(invalid JSON"):
        planfile.read(str(tmp_path / "plan.json"))


def test_dates_from_yaml_are_written_as_iso_strings():
    import datetime

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"when": datetime.date(2024, 1, 2)}}
    plan = Plan("s", "src", "r", (Action(ActionType.CREATE, ObjectRef("", "v1", "ConfigMap", "a", "b"), desired=cm),))
    assert '"when": "2024-01-02"' in render_json(plan)
