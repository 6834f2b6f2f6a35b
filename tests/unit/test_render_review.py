"""A review shows every deletion and says where and how the plan applies (issue 24): what a sync with prune
on would delete is listed, counted and flagged in text, JSON and Markdown; the Markdown carries a marker a
bot can find, the cluster and context, and how to apply."""

from __future__ import annotations

import json

import jsonschema

from kubesync.commands.common import gate_exit
from kubesync.model import Action, ActionType, ObjectRef, Plan, Review, Risk
from kubesync.render import render
from kubesync.render.json import SCHEMA, plan_from_dict, plan_to_dict
from tests.unit.test_render_json import validator

GONE = ObjectRef("rbac.authorization.k8s.io", "v1", "Role", "shop", "reader")
KEPT = ObjectRef("", "v1", "ConfigMap", "shop", "conf")
PLAN = Plan("shop", "git@example.com:org/infra.git", "3f2a9c1d8e7b", (Action(ActionType.NOOP, KEPT),),
            would_prune=(Action(ActionType.DELETE, GONE, uid="u1", risks=(Risk.DELETE,)),))
REVIEW = Review(context="prod", server="https://10.0.0.1:6443", cluster_id="1a2b3c4d-5e6f", apply_with="kubesync apply --plan plan.json")


def test_text_counts_and_lists_what_a_prune_would_delete():
    out = render(PLAN, "text", review=REVIEW)
    assert out.splitlines()[0] == "No changes. 1 object in sync. 1 would be pruned by a sync with prune on."
    assert "Would be pruned by a sync with prune on (this plan does not delete them; --prune would):" in out
    assert "  rbac.authorization.k8s.io/v1 Role shop/reader  risks: delete" in out


def test_json_carries_them_apart_from_the_actions_and_validates():
    doc = json.loads(render(PLAN, "json", review=REVIEW))
    validator().validate(doc)
    assert doc["summary"]["would_prune"] == 1 and doc["summary"]["delete"] == 0
    assert [(a["type"], a["object"], a["risks"]) for a in doc["would_prune"]] == [
        ("delete", "rbac.authorization.k8s.io/v1 Role shop/reader", ["delete"])]
    assert doc["target"] == {"context": "prod", "server": "https://10.0.0.1:6443", "cluster_id": "1a2b3c4d-5e6f"}
    assert doc["apply_with"] == "kubesync apply --plan plan.json"
    again = plan_from_dict(plan_to_dict(PLAN, mask=False))
    assert again.would_prune == PLAN.would_prune and not again.changes  # never applied from a saved plan


def test_markdown_has_a_marker_the_target_the_deletion_and_how_to_apply():
    out = render(PLAN, "markdown", review=REVIEW)
    lines = out.splitlines()
    assert lines[0] == "<!-- kubesync:plan:shop -->"
    assert ("<sub>Sync **shop** · context **prod** · cluster https://10.0.0.1:6443 (1a2b3c4d) · "
            "source git@example.com:org/infra.git · revision 3f2a9c1</sub>") in lines
    assert "> - **delete (with prune on)** rbac.authorization.k8s.io/v1 Role shop/reader: delete" in lines
    assert "- rbac.authorization.k8s.io/v1 Role shop/reader" in lines
    assert out.endswith("#### How to apply\n\n`kubesync apply --plan plan.json`\n")


def test_fail_on_delete_counts_what_a_prune_would_delete():
    class Args:
        fail_on, exit_code = "delete", True

    assert gate_exit(PLAN, Args()) == 1
    Args.fail_on = ""
    assert gate_exit(PLAN, Args()) == 0  # nothing this plan applies changes: exit 0, not 2
    assert SCHEMA == "kubesync.io/plan/v1"
