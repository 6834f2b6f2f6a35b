"""The plan's server dry runs: no-ops dropped, rejected objects an error, immutable updates replaced,
a refused check reported, never silent; the decisions themselves (kubesync.validate) are pure."""

from __future__ import annotations

import logging

from kubesync import errors
import pytest

from kubesync.cluster.api import Client
from kubesync.sync.plan import verify_plan
from kubesync.model import Action, ActionType, ObjectRef, Origin, Plan, ResourceType, Risk
from kubesync.model import Check, Verdict
from kubesync.validate import judge, to_check, unattended

CM = ResourceType(group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True)
LIVE = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "shop", "resourceVersion": "7"},
        "data": {"a": "1"}}


class Discovery:
    def resource_for(self, api_version, kind):
        return CM if kind == "ConfigMap" else None


def verify_updates(answers, discovery, plan):
    return verify_plan(Client(answers), discovery, plan)


class Answers:
    """The server's answer to each dry-run PATCH, by object name (an exception is raised): a connection
    under a real Client, as cluster.client.Cluster is."""

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
    assert plan.warnings == ("cm.yaml:3: v1 ConfigMap shop/conf: not validated by the server: forbidden",)
    assert "shop/conf: the server dry run of the update was refused" in caplog.text


def test_an_invalid_object_is_an_error_of_the_plan_naming_file_line_and_reason():
    body = {"message": 'ConfigMap "conf" is invalid: data[b c]: Invalid value: "b c": a valid config key must consist of ...'}
    cluster = Answers(conf=errors.ClusterInvalid("PATCH ...: invalid", status=422, body=body))
    with pytest.raises(errors.PlanInvalid) as e:
        verify_updates(cluster, Discovery(), Plan("s", "src", "r", (update("conf"),)))
    assert e.value.problems == ['cm.yaml:3: v1 ConfigMap shop/conf: the server would reject this update: ' + body["message"]]


def test_an_unreachable_server_keeps_the_update_and_says_it_was_not_validated():
    cluster = Answers(conf=errors.ClusterTransient("PATCH /x: HTTP 503", status=503))
    plan = verify_updates(cluster, Discovery(), Plan("s", "src", "r", (update("conf"),)))
    assert [a.type for a in plan.actions] == [ActionType.UPDATE]
    assert plan.warnings == ("cm.yaml:3: v1 ConfigMap shop/conf: not validated by the server: PATCH /x: HTTP 503",)


def _create(kind, name, ns="", group="", version="v1"):
    return Action(ActionType.CREATE, ObjectRef(group, version, kind, ns, name), origin=Origin("app.yaml", 1),
                  desired={"apiVersion": version, "kind": kind, "metadata": {"name": name}})


def test_objects_in_a_namespace_the_plan_creates_are_checked_when_applied():
    plan = Plan("s", "src", "r", (_create("Namespace", "shop"), _create("ConfigMap", "a", "shop"), _create("ConfigMap", "b", "other"),
                                  _create("Widget", "w", "other", group="example.com")))
    actions, later = to_check(plan, served=lambda a: a.ref.kind != "Widget")
    assert [a.ref.name for a in actions] == ["shop", "b"]
    assert later == {"in namespace shop, which this plan creates": 1,
                     "of example.com/v1 Widget, whose CustomResourceDefinition this plan creates": 1}
    checked, problems = judge(plan, {a.ref.key: Check(Verdict.CHANGES) for a in actions}, later)
    assert problems == [] and checked.actions == plan.actions
    assert checked.warnings == (
        "1 object(s) in namespace shop, which this plan creates: validated by the server only when applied",
        "1 object(s) of example.com/v1 Widget, whose CustomResourceDefinition this plan creates: validated by the server only when applied",
    )


def test_a_binding_to_a_role_the_plan_creates_is_checked_when_applied():
    role = _create("Role", "reader", "x", group="rbac.authorization.k8s.io")
    binding = Action(ActionType.CREATE, ObjectRef("rbac.authorization.k8s.io", "v1", "RoleBinding", "x", "b"),
                     desired={"roleRef": {"kind": "Role", "name": "reader"}})
    actions, later = to_check(Plan("s", "src", "r", (role, binding)), served=lambda a: True)
    assert actions == [role] and later == {"(RoleBinding) referring to Roles this plan creates": 1}


def test_every_rejected_object_is_listed_at_once():
    plan = Plan("s", "src", "r", (_create("ConfigMap", "a", "gone"), _create("Service", "b", "x"), _create("ConfigMap", "c", "x")))
    checks = {plan.actions[0].ref.key: Check(Verdict.INVALID, 'namespaces "gone" not found'),
              plan.actions[1].ref.key: Check(Verdict.INVALID, "spec.ports: Required value"),
              plan.actions[2].ref.key: Check(Verdict.CHANGES)}
    _, problems = judge(plan, checks)
    assert problems == ['app.yaml:1: v1 ConfigMap gone/a: the server would reject this create: namespaces "gone" not found',
                        "app.yaml:1: v1 Service x/b: the server would reject this create: spec.ports: Required value"]


def test_an_update_refused_for_an_immutable_field_becomes_a_replacement():
    a = update("conf")
    checked, problems = judge(Plan("s", "src", "r", (a,)), {a.ref.key: Check(Verdict.IMMUTABLE, "spec.selector: field is immutable")})
    (r,) = checked.actions
    assert problems == [] and r.type is ActionType.REPLACE and r.risks == (Risk.IMMUTABLE,)
    assert "field is immutable" in r.note and checked.counts()["replace"] == 1


def test_unattended_runs_replace_only_objects_that_opt_in():
    a = update("conf")
    allowed = Action(ActionType.REPLACE, ObjectRef("", "v1", "ConfigMap", "shop", "ok"),
                     desired={"metadata": {"annotations": {"kubesync.io/replace": "allowed"}}})
    plan = Plan("s", "src", "r", (Action(ActionType.REPLACE, a.ref, origin=a.origin, desired={"metadata": {}}), allowed))
    left, skipped = unattended(plan)
    assert [x.ref.name for x in left.actions] == ["ok"]
    assert skipped == ['cm.yaml:3: v1 ConfigMap shop/conf: needs to be replaced (deleted and created again); skipped: unattended '
                       'replacement needs the annotation kubesync.io/replace: "allowed" (or run `kubesync apply`)']


def test_the_same_reason_for_many_objects_is_one_warning():
    webhook = errors.ClusterError('PATCH /x: failed calling webhook "deny.example.com": connection refused', status=500)
    cluster = Answers(a=webhook, b=webhook, c=webhook)
    plan = verify_updates(cluster, Discovery(), Plan("s", "src", "r", (update("a"), update("b"), update("c"))))
    assert [a.type for a in plan.actions] == [ActionType.UPDATE] * 3
    assert plan.warnings == ('cm.yaml:3: v1 ConfigMap shop/a (and 2 more object(s) for the same reason): not validated by the '
                             'server: PATCH /x: failed calling webhook "deny.example.com": connection refused',)
