"""No format ever prints a Secret value, raw or base64 (only the saved plan file keeps them)."""

from __future__ import annotations

import functools
import json

import pytest

from kubesync.deltas import compute_deltas
from kubesync.model import Action, ActionType, ObjectRef, Plan
from kubesync.render import render
from kubesync.render.json import plan_to_dict, render_json
from kubesync.render.markdown import render_markdown
from kubesync.render.text import render_diff, render_plan


from tests.unit.golden import plan_fixture as fx  # noqa: E402


def leaky_plan() -> Plan:
    """The golden plan, plus free text that quotes a Secret value and a patch-only Secret update."""
    plan = fx.build_plan()
    patch_only = Action(
        ActionType.UPDATE,
        ObjectRef("", "v1", "Secret", "shop", "patch-only"),
        patch=({"op": "add", "path": "/stringData", "value": {"k": fx.API_TOKEN}}, {"op": "replace", "path": "/data/p", "value": fx.b64(fx.OLD_TOKEN)}),
        note=f"rotating {fx.OLD_TOKEN}",
    )
    return Plan(
        plan.sync,
        plan.source,
        plan.revision,
        plan.actions + (patch_only,),
        conflicts=plan.conflicts + (f"v1 Secret shop/x: value {fx.b64(fx.NEW_PASSWORD)} owned elsewhere",),
        warnings=plan.warnings + (f"server said: bad value {fx.OLD_PASSWORD}",),
    )


@functools.cache
def leaky_outputs() -> dict[str, str]:
    return outputs(leaky_plan())


def outputs(plan: Plan) -> dict[str, str]:
    deltas = compute_deltas(plan)
    return {
        "text": render_plan(plan, color=False, deltas=deltas),
        "text-color": render_plan(plan, color=True),
        "diff": render_diff(plan, color=False),
        "diff-color": render_diff(plan, color=True),
        "json": render_json(plan, deltas, generated_at=fx.GENERATED_AT),
        "json-undeltaed": render_json(plan),
        "markdown": render_markdown(plan, deltas),
        "markdown-truncated": render_markdown(plan, deltas, max_chars=3000),
        **{f"render-{fmt}": render(plan, fmt, color=True, deltas=deltas) for fmt in ("text", "json", "markdown")},
    }


@pytest.mark.parametrize("fmt", sorted(leaky_outputs()))
def test_no_secret_value_in_any_output(fmt):
    out = leaky_outputs()[fmt]
    for value in fx.forbidden_strings():
        assert value not in out, f"{fmt} output shows a Secret value"
    assert "***" in out or fmt == "markdown-truncated"
    assert "sha256" not in out and "(sha" not in out, f"{fmt} output carries a hash of a Secret value"


def test_secret_changes_stay_visible():
    diff = render_diff(fx.build_plan())
    section = diff[diff.index("live/v1.Secret.shop.db-credentials") :]
    assert "-  password: '***'" in section and "+  password: '*** (changed)'" in section
    assert "   username: '*** (unchanged)'" in section  # unchanged: a context line, same marker both sides


def test_saved_plan_keeps_secret_values_for_apply():
    saved = json.dumps(plan_to_dict(fx.build_plan(), mask=False))
    assert fx.b64(fx.NEW_PASSWORD) in saved and fx.API_TOKEN in saved
    assert '"masked": false' in saved
