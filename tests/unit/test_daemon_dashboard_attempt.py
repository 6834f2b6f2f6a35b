"""The dashboard tells the truth about a failing sync: the current attempt (revision, commit, stage,
error), that attempt's plan and the objects' live state, never an older attempt's facts; the overview's
one-line reasons, destinations and totals; identical consecutive failures folded.

Workers are records of what a daemon's worker holds, filled through the same History calls the
reporter makes (the reporter's own tests: test_daemon_reporter.py); the browser and the real control
plane: tests/e2e/test_dashboard.py.
"""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import jsonschema
import pytest

from kubesync.config import SyncConfig
from kubesync.daemon.history import APPLYING, History, Run
from kubesync.daemon.http import StatusServer
from kubesync.daemon.state import SyncStatus
from kubesync.daemon.election.leader import AlwaysLeader
from kubesync.daemon.web import api, views
from kubesync.daemon.web.app import Hooks, build_app
from kubesync.health import Health, HealthStatus
from kubesync.model import Action, ActionType, CommitInfo, ObjectRef, Plan
from kubesync.sources import SourceSpec
from kubesync.sync import Planned
from tests.unit.test_daemon_dashboard import call

NS = ObjectRef("", "v1", "Namespace", "", "shop")
CM = ObjectRef("", "v1", "ConfigMap", "shop", "conf")
BAD = ObjectRef("", "v1", "ConfigMap", "shop", "bad")
OLD, NEW = "a" * 40, "b" * 40
COMMIT = CommitInfo(NEW, "Raise the quota <script>alert(1)</script>", "Ann Example <ann@example.com>", time.time() - 60)


def planned(revision: str, *actions: Action) -> Planned:
    return Planned(Plan("shop", "repo@main", revision, tuple(actions)), [], None, [])


def namespace_live() -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}, "status": {"phase": "Active"}}


def worker(name="shop", state="failed", revision=OLD, error="", **sync) -> SimpleNamespace:
    return SimpleNamespace(sync=SyncConfig(name=name, source=SourceSpec(repo="https://git.example/infra.git", ref="main"), **sync),
                           status=SyncStatus(state=state, revision=revision, error=error, runs=1), history=History(),
                           next_run=0.0)


def first_attempt(w) -> None:
    """Revision OLD: its plan created the namespace and the ConfigMap; the apply did it all."""
    w.history.attempting(time.time() - 300, OLD, None, read=True)
    first = planned(OLD, Action(ActionType.CREATE, NS, wave=0), Action(ActionType.CREATE, CM, wave=2,
                    patch=({"op": "add", "path": "/data", "value": {"a": "1"}},)))
    w.history.planned = first
    w.history.update(planned=first)


@pytest.fixture
def failing():
    """Paused at NEW: the first attempt's plan found the namespace missing; the namespace exists now
    (the watch says so); the current attempt's plan failed (the server refused an object)."""
    w = worker(error="v1 ConfigMap shop/bad: the server refused it: data: Invalid value")
    first_attempt(w)
    w.history.seen(str(NS), Health(HealthStatus.HEALTHY, ""))
    w.history.seen(str(CM), Health(HealthStatus.HEALTHY, ""))
    w.history.attempting(time.time() - 5, NEW, COMMIT, read=True)
    w.history.update(error=w.status.error)
    for i in range(8):
        w.history.record(Run(time.time() - 40 + i, 0.2, ("retry",), "error", (), NEW, w.status.error, "PlanError"))
    return w


def serve(workers):
    hooks = Hooks(health=lambda: (True, {}), ready=lambda: (True, {}), metrics=lambda: b"", trigger=lambda s: None,
                  syncs=lambda: {w.sync.name for w in workers}, workers=lambda: workers)
    return StatusServer("127.0.0.1:0", build_app(hooks)).start()


def validate(doc, schema_name):
    jsonschema.validate(doc, {**api.document(), "$ref": f"#/components/schemas/{schema_name}"})


def test_a_failing_syncs_document_is_its_current_attempt_with_live_objects_never_the_first_plan(failing):
    doc = views.detail(failing)
    validate(doc, "SyncDetail")
    assert doc["attempt"]["revision"] == NEW and doc["attempt"]["commit"]["author"] == "Ann Example <ann@example.com>"
    assert doc["attempt"]["stage"] == "planning" and not doc["attempt"]["planned"] and "Invalid value" in doc["attempt"]["error"]
    rows = {r["object"]: r for r in doc["objects"]}
    assert rows[str(NS)]["health"] == "Healthy" and rows[str(NS)]["sync"] == "Unknown"  # not "Missing": it exists
    assert doc["diff"] == "" and doc["revision"] is None  # the first attempt's plan is not this attempt's
    assert doc["trying"]["revision"] == NEW and doc["failing"]


def test_an_attempts_apply_outcomes_and_the_watch_correct_its_plan(failing):
    w = failing
    w.history.attempting(time.time(), NEW, COMMIT, read=True)
    attempt_plan = planned(NEW, Action(ActionType.CREATE, NS), Action(ActionType.CREATE, BAD, wave=2))
    w.history.update(planned=attempt_plan)
    w.history.update(stage=APPLYING)
    w.history.applied(str(NS), "created", "")
    w.history.applied(str(BAD), "failed", "v1 ConfigMap shop/bad: Invalid value")
    w.history.update(error="1 object failed")
    rows = {r["object"]: r for r in views.rows(w)}
    assert (rows[str(NS)]["sync"], rows[str(NS)]["health"]) == ("Synced", "Healthy")
    assert rows[str(BAD)]["sync"] == "OutOfSync" and "Invalid value" in rows[str(BAD)]["reason"]
    assert "shop/bad" in views.diff_text(w)  # the plan of this attempt
    w.history.seen(str(NS), None)  # deleted since
    assert {r["object"]: r["health"] for r in views.rows(w)}[str(NS)] == "Missing"


def test_a_source_that_cannot_be_read_keeps_the_last_objects_with_an_unknown_sync_state(failing):
    failing.history.attempting(time.time(), NEW, None, read=False)
    doc = views.detail(failing)
    assert doc["attempt"]["stage"] == "reading the source"
    assert {r["sync"] for r in doc["objects"]} == {"Unknown"} and {r["health"] for r in doc["objects"]} == {"Healthy"}


def test_the_sync_page_shows_the_attempt_its_commit_live_state_and_folds_repeated_errors(failing):
    server = serve([failing])
    try:
        status, page, _ = call(server, "/syncs/shop")
    finally:
        server.stop()
    assert status == 200
    attempt = page[page.index('id="attempt"'):page.index("<h2>Objects")]
    assert NEW[:12] in attempt and "Raise the quota &lt;script&gt;" in attempt and "<script>alert" not in page
    assert "Ann Example &lt;ann@example.com&gt;" in attempt and "Failed while planning" in attempt
    ns_row = re.search(r'<tr data-object="v1 Namespace shop">.*?</tr>', page, re.S).group(0)
    assert 'data-health="Healthy"' in ns_row and "Missing" not in ns_row
    assert "No plan of revision " + NEW[:12] in page
    assert page.count('data-repeats="8"') == 1 and "same error &times;8" in page


def test_the_overview_says_why_in_one_line_where_each_sync_applies_and_the_totals():
    broken = worker("billing", error="cm.yaml:3: invalid YAML: " + "x" * 400, context="prod", namespace="billing")
    broken.history.attempting(time.time(), NEW, COMMIT, read=False)
    broken.history.record(Run(time.time(), 0.1, ("git",), "error", (), NEW, broken.status.error, "ManifestError"))
    new = worker("fresh", state="failed", revision="", error="cannot poll https://git.example/infra.git: refused")
    drifted = worker("web", state="drifted")
    drifted.status = SyncStatus(state="drifted", revision=OLD, runs=1, drifted=frozenset({"x", "y"}))
    fine = worker("api", state="synced")
    docs = views.sync_list([fine, drifted, new, broken])
    validate({**docs, "election": AlwaysLeader().report()}, "SyncList")  # the API adds who writes
    assert docs["totals"] == {"syncs": 4, "Failed": 1, "Paused": 1, "OutOfSync": 1, "Unknown": 0, "Synced": 1}
    assert docs["failed"] == ["billing", "fresh"]
    by = {d["name"]: d for d in docs["syncs"]}
    assert by["billing"]["state"] == "Paused" and by["billing"]["destination"] == {"context": "prod", "namespace": "billing"}
    assert by["billing"]["reason"].startswith("cm.yaml:3: invalid YAML") and len(by["billing"]["reason"]) <= views.REASON_CHARS
    assert by["billing"]["trying"]["revision"] == NEW and by["api"]["trying"] is None
    assert by["web"]["reason"] == "2 object(s) changed in the cluster; self-heal is off" and by["api"]["reason"] == ""
    server = serve([fine, drifted, new, broken])
    try:
        page = call(server, "/")[1]
        listed = json.loads(call(server, "/api/v1/syncs")[1])
    finally:
        server.stop()
    assert listed["totals"] == docs["totals"]
    assert re.search(r"4 syncs:.*1 failed.*1 paused.*1 out of sync.*1 synced", page, re.S)
    reasons = re.findall(r'<div class="reason [^"]*" data-reason title="[^"]*">([^<]*)</div>', page)
    assert len(reasons) == 3 and all("\n" not in r for r in reasons)
    assert "prod" in page and "cannot poll https://git.example/infra.git: refused" in page


def test_runs_fold_only_identical_consecutive_failures():
    runs = [{"started": float(t), "result": r, "error": e, "error_type": "X", "revision": "r"}
            for t, r, e in [(9, "error", "a"), (8, "error", "a"), (7, "error", "b"), (6, "success", ""), (5, "error", "b")]]
    folded = views.fold_runs(runs)
    assert [(f["error"], f["repeats"], f["started"], f["since"]) for f in folded] == [
        ("a", 2, 9.0, 8.0), ("b", 1, 7.0, 7.0), ("", 1, 6.0, 6.0), ("b", 1, 5.0, 5.0)]
