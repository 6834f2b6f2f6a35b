"""The plan's server dry run of each update: no-ops dropped, a refused check reported, never silent."""

from __future__ import annotations

import logging

from kubesync import errors
from kubesync.apply import verify_updates
from kubesync.model import Action, ActionType, ObjectRef, Origin, Plan, ResourceType

CM = ResourceType(group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True)
LIVE = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "shop", "resourceVersion": "7"},
        "data": {"a": "1"}}


class Discovery:
    def resource_for(self, api_version, kind):
        return CM if kind == "ConfigMap" else None


class Answers:
    """The server's answer to each dry-run PATCH, by object name (an exception is raised)."""

    def __init__(self, **answers):
        self.answers = answers
        self.sent = []

    def request(self, method, path, **kwargs):
        self.sent.append((method, path, kwargs.get("query")))
        answer = self.answers[path.rsplit("/", 1)[1]]
        if isinstance(answer, Exception):
            raise answer
        return answer


def update(name: str) -> Action:
    ref = ObjectRef("", "v1", "ConfigMap", "shop", name)
    return Action(ActionType.UPDATE, ref, origin=Origin("cm.yaml", 3), patch=({"op": "add", "path": "/data/b", "value": "2"},),
                  live={**LIVE, "metadata": {**LIVE["metadata"], "name": name}})


def test_an_update_the_server_would_not_store_becomes_a_noop_with_a_warning():
    unchanged = {**LIVE, "metadata": {**LIVE["metadata"], "name": "same", "resourceVersion": "8"}}
    changed = {**LIVE, "metadata": {**LIVE["metadata"], "name": "real"}, "data": {"a": "1", "b": "2"}}
    cluster = Answers(same=unchanged, real=changed)
    plan = verify_updates(cluster, Discovery(), Plan("s", "src", "r", (update("same"), update("real"))))
    assert [a.type for a in plan.actions] == [ActionType.NOOP, ActionType.UPDATE]
    assert plan.warnings == ("cm.yaml:3: v1 ConfigMap shop/same: the server ignores /data/b (unknown field, disabled feature "
                             "or omitted default); nothing to change",)
    assert {q["dryRun"] for _, _, q in cluster.sent} == {"All"}


def test_a_forbidden_check_keeps_the_update_and_says_so_on_the_plan_and_in_the_log(caplog):
    cluster = Answers(conf=errors.ClusterUnauthorized("PATCH ...: forbidden: User cannot patch", status=403))
    with caplog.at_level(logging.WARNING):
        plan = verify_updates(cluster, Discovery(), Plan("s", "src", "r", (update("conf"),)))
    assert [a.type for a in plan.actions] == [ActionType.UPDATE]
    assert plan.warnings == ("cm.yaml:3: v1 ConfigMap shop/conf: not verified by the server: forbidden "
                             "(a dry run of the update was refused)",)
    assert "shop/conf: the server dry run of the update was refused" in caplog.text


def test_other_failures_leave_the_plan_as_it_was_for_apply_to_report():
    cluster = Answers(conf=errors.ClusterInvalid("PATCH ...: invalid", status=422))
    plan = Plan("s", "src", "r", (update("conf"),))
    assert verify_updates(cluster, Discovery(), plan) is plan
