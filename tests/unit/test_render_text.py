"""Text rendering: the plan summary and table, and unified YAML diffs like `kubectl diff`."""

from __future__ import annotations


from kubesync.deltas import compute_deltas
from kubesync.model import Action, ActionType, ObjectRef, Plan
from kubesync.render.text import for_display, render_diff, render_plan, summary_line


from tests.unit.golden import plan_fixture as fx  # noqa: E402
DEPLOY = ObjectRef("apps", "v1", "Deployment", "shop", "web")


def deployment(replicas: int = 1, image: str = "web:1") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
    }


def test_plan_text_matches_golden():
    plan = fx.build_plan()
    fx.check_golden("plan.txt", render_plan(plan, color=False, deltas=compute_deltas(plan)))


def test_plan_text_in_colour_matches_golden():
    fx.check_golden("plan.color.txt", render_plan(fx.build_plan(), color=True))


def test_diff_matches_golden():
    fx.check_golden("diff.txt", render_diff(fx.build_plan(), color=False))


def test_no_changes():
    assert render_plan(fx.no_change_plan()) == "No changes. 2 objects in sync.\n"
    assert render_diff(fx.no_change_plan()) == "No changes. 2 objects in sync.\n"
    one = Plan("s", "src", "r", (Action(ActionType.NOOP, DEPLOY),))
    assert summary_line(one) == "No changes. 1 object in sync."


def test_no_changes_still_shows_warnings():
    plan = Plan("s", "src", "r", (), warnings=("something odd",))
    assert render_plan(plan) == "No changes. 0 objects in sync.\n\nWarnings:\n  something odd\n"


def test_summary_line_counts_every_type():
    assert summary_line(fx.build_plan()) == "Plan: 3 to create, 4 to update, 1 to scale, 2 to delete (2 unchanged)."


def test_summary_comes_first_then_table_in_execution_order():
    plan = fx.build_plan()
    lines = render_plan(plan).splitlines()
    assert lines[0].startswith("Plan: ")
    assert lines[2].split() == ["WAVE", "ACTION", "OBJECT", "ORIGIN", "RISKS"]
    table = lines[3 : 3 + len(plan.changes)]
    assert [row.split()[1] for row in table] == [a.type.value for a in plan.changes]
    assert "scale-to-zero" in table[5] and "immutable,image" in table[7]


def test_colour_only_when_asked():
    plan = fx.build_plan()
    assert "\x1b[" not in render_plan(plan, color=False) + render_diff(plan, color=False)
    colored = render_diff(plan, color=True)
    assert "\x1b[1m--- live/apps.v1.Deployment.shop.web\x1b[0m" in colored
    assert "\x1b[31m-      - image: registry.example/web:1.4.2\x1b[0m" in colored
    assert "\x1b[32m+      - image: registry.example/web:1.5.0\x1b[0m" in colored
    assert "\x1b[36m@@ " in colored


def test_server_owned_fields_are_not_shown():
    live = deployment()
    live["metadata"].update(uid="u", resourceVersion="9", generation=3, creationTimestamp="t", selfLink="/x", managedFields=[{"manager": "m"}])
    live["status"] = {"replicas": 1}
    shown = for_display(live)
    assert shown == deployment()
    assert "managedFields" in live["metadata"]  # the input is left alone


def test_update_diff_is_live_against_patched_live():
    live = deployment(image="web:1")
    action = Action(ActionType.UPDATE, DEPLOY, patch=({"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:2"},), live=live)
    out = render_diff(Plan("s", "src", "r", (action,)))
    assert out.splitlines()[:3] == ["--- live/apps.v1.Deployment.shop.web", "+++ desired/apps.v1.Deployment.shop.web", "@@ -8,5 +8,5 @@"]
    assert "-      - image: web:1\n+      - image: web:2\n" in out
    assert out.endswith("Plan: 0 to create, 1 to update, 0 to scale, 0 to delete (0 unchanged).\n")


def test_scale_without_patch_shows_replicas_change():
    action = Action(ActionType.SCALE, DEPLOY, live=deployment(replicas=3), replicas=(3, 1))
    out = render_diff(Plan("s", "src", "r", (action,)))
    assert "-  replicas: 3\n+  replicas: 1\n" in out


def test_update_without_live_shows_the_patch():
    patch = ({"op": "replace", "path": "/spec/replicas", "value": 2},)
    out = render_diff(Plan("s", "src", "r", (Action(ActionType.UPDATE, DEPLOY, patch=patch, desired=deployment(2)),)))
    assert "# live object not recorded in the plan" in out
    assert "#   replace /spec/replicas 2" in out


def test_patch_that_does_not_apply_is_noted():
    patch = ({"op": "remove", "path": "/spec/missing"},)
    action = Action(ActionType.UPDATE, DEPLOY, patch=patch, live=deployment(1), desired=deployment(2))
    out = render_diff(Plan("s", "src", "r", (action,)))
    assert "# the patch does not apply to the live object" in out
    assert "-  replicas: 1\n+  replicas: 2\n" in out


def test_change_only_in_server_fields_says_so():
    patch = ({"op": "add", "path": "/status", "value": {"x": 1}},)
    out = render_diff(Plan("s", "src", "r", (Action(ActionType.UPDATE, DEPLOY, patch=patch, live=deployment()),)))
    assert out.startswith("# apps/v1 Deployment shop/web: no visible difference")
    assert "---" not in out  # no header without hunks: `git apply` would reject it


def test_delete_without_live_object():
    out = render_diff(Plan("s", "src", "r", (Action(ActionType.DELETE, DEPLOY),)))
    assert out.startswith("# live object not recorded in the plan\n# apps/v1 Deployment shop/web: to delete\n")


def test_cluster_scoped_ref_path():
    ns = ObjectRef("", "v1", "Namespace", "", "shop")
    out = render_diff(Plan("s", "src", "r", (Action(ActionType.CREATE, ns, desired={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),)))
    assert out.startswith("--- /dev/null\n+++ desired/v1.Namespace.shop\n@@ -0,0 +1,4 @@\n")


def test_render_dispatches_on_output_format():
    import pytest

    from kubesync.deltas import compute_deltas
    from kubesync.render import FORMATS, render

    plan = fx.build_plan()
    deltas = compute_deltas(plan)
    assert not deltas.empty  # so the next line shows render computing the deltas itself
    assert render(plan, "text") == render_plan(plan, deltas=deltas) != render_plan(plan)
    assert render(plan, "json").startswith("{") and render(plan, "markdown").startswith("<!-- kubesync:plan:shop -->\n### ")
    assert FORMATS == ("text", "json", "yaml", "markdown")
    import json

    import yaml

    assert yaml.safe_load(render(plan, "yaml", generated_at="t")) == json.loads(render(plan, "json", generated_at="t"))
    with pytest.raises(ValueError, match="unknown output format 'toml'"):
        render(plan, "toml")
