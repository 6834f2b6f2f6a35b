"""Markdown rendering: a pull-request comment that fits GitHub's limit."""

from __future__ import annotations

import re

from kubesync.deltas import compute_deltas
from kubesync.model import Action, ActionType, ObjectRef, Origin, Plan, Risk
from kubesync.render.markdown import GITHUB_LIMIT, escape, fence_for, order_for_review, render_markdown, short_revision


from tests.unit.golden import plan_fixture as fx  # noqa: E402


def cm(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}, "data": {"v": value}}


def create(name: str, value: str, **kw) -> Action:
    return Action(ActionType.CREATE, ObjectRef("", "v1", "ConfigMap", "a", name), desired=cm(name, value), **kw)


def test_markdown_matches_golden():
    plan = fx.build_plan()
    fx.check_golden("plan.md", render_markdown(plan, compute_deltas(plan)))


def test_title_summary_table_and_risk_callout():
    out = render_markdown(fx.build_plan())
    assert out.startswith("<!-- kubesync:plan:shop -->\n### kubesync plan: shop @ 3f2a9c1\n")
    assert "| Create | Update | Scale | Delete | Unchanged |\n|---:|---:|---:|---:|---:|\n| 3 | 4 | 1 | 2 | 2 |\n" in out
    assert "> [!WARNING]\n> **6 risky changes**" in out
    assert "> - **scale** apps/v1 Deployment shop/worker: scale-to-zero" in out
    assert "Resource changes" not in out  # only when deltas are given


def test_sections_deletions_first_then_risky_then_rest():
    plan = fx.build_plan()
    names = re.findall(r"<summary><b>(\w+)</b> <code>([^<]+)</code>", render_markdown(plan))
    assert names[:2] == [("delete", "v1 ConfigMap shop/legacy"), ("delete", "v1 Secret shop/old-token")]
    assert [n for _, n in names[2:6]] == [
        "rbac.authorization.k8s.io/v1 Role shop/reader",
        "apps/v1 Deployment shop/web",
        "apps/v1 Deployment shop/worker",
        "batch/v1 Job shop/migrate",
    ]
    assert len(names) == len(plan.changes)
    assert [str(a.ref) for a in order_for_review(plan.actions)] == [n for _, n in names]


def test_no_changes():
    out = render_markdown(fx.no_change_plan())
    assert out == ("<!-- kubesync:plan:shop -->\n### kubesync plan: shop @ 3f2a9c1\n\n"
                   "<sub>Sync **shop** · source manifests-example/shop · revision 3f2a9c1</sub>\n\n**No changes. 2 objects in sync.**\n")


def test_cells_escape_pipes_and_backticks():
    assert escape("a|b`c`") == r"a\|b\`c\`"
    assert escape("two\nlines") == "two lines"
    plan = Plan("sync|`x`", "src", "r", (create("x", "y", risks=(Risk.IMAGE,), origin=Origin("dir/a|b.yaml", 2)),), warnings=("pipe | and `tick`",))
    out = render_markdown(plan)
    assert r"### kubesync plan: sync\|\`x\`" in out
    assert r"- pipe \| and \`tick\`" in out
    assert "dir/a|b.yaml:2" in out  # inside HTML <summary>, not a table: HTML-escaped only


def test_diff_containing_a_fence_gets_a_longer_fence():
    assert fence_for("plain") == "```"
    assert fence_for("a ``` b ````` c") == "``````"
    out = render_markdown(Plan("s", "src", "r", (create("doc", "```\ncode\n```\n"),)))
    assert "````diff\n" in out and "\n````\n" in out


def test_short_revision():
    assert short_revision("3f2a9c1d8e7b6a5f") == "3f2a9c1"
    assert short_revision("sha256:abcdef0123456789") == "abcdef0"
    assert short_revision("v1.2.3") == "v1.2.3"


def test_long_plan_is_truncated_with_a_note():
    big = "x" * 2000
    plan = Plan("s", "src", "r", tuple(create(f"cm-{i:03d}", "\n".join([big] * 5)) for i in range(100)))
    out = render_markdown(plan)
    assert len(out) <= GITHUB_LIMIT
    assert "> [!NOTE]\n> This comment was cut to fit GitHub's 65536-character limit" in out
    assert "Run `kubesync plan` for the full plan." in out
    shown = out.count("<details>")
    assert 0 < shown < 100
    assert f"{100 - shown} of 100 diffs are not shown" in out or "the last diff shown is partial" in out
    assert "- create v1 ConfigMap a/cm-099" in out or "…and" in out
    assert out.count("<details>") == out.count("</details>")  # no section cut in half


def test_truncation_keeps_a_partial_diff_and_fences_balanced():
    lines = "\n".join(f"line {i}" for i in range(3000))
    plan = Plan("s", "src", "r", (create("one", "short"), create("huge", lines)))
    out = render_markdown(plan, max_chars=8000)
    assert len(out) <= 8000
    assert "the last diff shown is partial" in out
    assert re.search(r"# … \d+ more lines not shown", out)
    assert out.count("```") % 2 == 0
    assert "0 of 2 diffs are not shown" in out


def test_tiny_limit_never_exceeded():
    plan = fx.build_plan()
    for limit in (1000, 2000, 5000):
        out = render_markdown(plan, compute_deltas(plan), max_chars=limit)
        assert len(out) <= limit and "cut to fit" in out
