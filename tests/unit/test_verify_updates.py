"""The plan's server dry runs: no-ops dropped, rejected objects an error, immutable updates replaced,
a refused check reported, never silent; the decisions themselves (kubesync.validate) are pure."""

from __future__ import annotations

import logging
from dataclasses import replace

from kubesync import errors
import pytest

from kubesync.cluster.api import Client
from kubesync.sync.plan import verify_plan
from kubesync.model import Action, ActionType, ObjectRef, Origin, Plan, ResourceType, Risk
from kubesync.model import Check, Verdict
from kubesync.validate import judge, to_check, unattended, unknown_fields
from kubesync.cluster.client import error_for
from kubesync.cluster.dryrun import strict_fields
from kubesync.diff import fields as known
from kubesync.settings import Validation
from kubesync.sync.plan import FieldCheck
from kubesync.yamlnodes import FieldLines

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

    def __init__(self, warned=None, **answers):
        self.answers = answers
        self.warned = warned or {}  # name -> the Warning headers of its answer
        self.sent = []

    def request(self, method, path, **kwargs):
        self.sent.append((method, path, kwargs.get("query")))
        name = path.rsplit("/", 1)[1]
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        kwargs["warnings"].extend(self.warned.get(name, ()))
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


# ------------------------------------------------------------------ unknown fields (--validate)

CM_TEXT = """\
# the config
apiVersion: v1
kind: ConfigMap
metadata: {name: conf, namespace: shop}
dta:
  b: "2"
"""
CM_DESIRED = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "shop"}, "dta": {"b": "2"}}


def typo_update() -> Action:
    return replace(update("conf"), origin=Origin("cm.yaml", 2), desired=CM_DESIRED,
                   patch=({"op": "add", "path": "/dta", "value": {"b": "2"}},))


CM_FIELDS = known.build({"type": "object", "properties": {k: {"type": "string"} for k in ("apiVersion", "kind", "data")} | {
    "metadata": {"type": "object", "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}}}}},
    structural=True)


def test_a_strict_refusal_names_each_unknown_field_at_its_line_with_the_closest_name():
    dump = '{\\"apiVersion\\":\\"v1\\",\\"data\\":{\\"password\\":\\"s3cret\\"}}'
    message = f' "" is invalid: patch: Invalid value: "{dump}": strict decoding error: unknown field "dta"'
    refusal = error_for(422, {"message": message, "details": {"causes": [{"message": message, "field": "patch"}]}}, "PATCH", "/x")
    assert "s3cret" not in str(refusal) and "s3cret" not in str(refusal.causes)  # the patched object is never quoted
    cluster = Answers(conf=refusal)
    fields = FieldCheck(lambda a: CM_FIELDS, server_checks=True, texts={"cm.yaml": CM_TEXT})
    with pytest.raises(errors.PlanInvalid) as e:
        verify_plan(Client(cluster), Discovery(), Plan("s", "src", "r", (typo_update(),)), fields=fields)
    assert e.value.problems == ['cm.yaml:5: v1 ConfigMap shop/conf: unknown field "dta" (did you mean "data"?)']
    assert str(e.value).startswith("the server rejects 1 object(s) of the plan (server-side dry run); nothing was applied")
    assert [q["fieldValidation"] for _, _, q in cluster.sent] == ["Strict"]


def test_with_validate_warn_the_servers_warnings_are_the_plans():
    answer = {**LIVE, "metadata": {**LIVE["metadata"], "name": "conf"}}
    cluster = Answers(warned={"conf": ['unknown field "dta"', "v1 ConfigMap is deprecated"]}, conf=answer)
    fields = FieldCheck(lambda a: CM_FIELDS, server_checks=True, texts={"cm.yaml": CM_TEXT})
    plan = verify_plan(Client(cluster), Discovery(), Plan("s", "src", "r", (typo_update(),)), validation=Validation.WARN, fields=fields)
    assert plan.warnings[:2] == ('cm.yaml:5: v1 ConfigMap shop/conf: unknown field "dta" (did you mean "data"?): the server drops '
                                 "it (--validate=warn)", "cm.yaml:2: v1 ConfigMap shop/conf: the server warns: v1 ConfigMap is deprecated")
    assert [q["fieldValidation"] for _, _, q in cluster.sent] == ["Warn"]


def test_a_server_without_strict_validation_has_unknown_fields_found_in_its_schema():
    answer = {**LIVE, "metadata": {**LIVE["metadata"], "name": "conf"}}  # 1.20 accepts the patch and drops the field
    fields = FieldCheck(lambda a: CM_FIELDS, server_checks=False, texts={"cm.yaml": CM_TEXT})
    with pytest.raises(errors.PlanInvalid) as e:
        verify_plan(Client(Answers(conf=answer)), Discovery(), Plan("s", "src", "r", (typo_update(),)), fields=fields)
    assert e.value.problems == ['cm.yaml:5: v1 ConfigMap shop/conf: unknown field "dta" (did you mean "data"?)']
    assert "(unknown fields checked against the server's schema: Kubernetes before 1.25 has no strict field validation)" in str(e.value)
    plan = verify_plan(Client(Answers(conf=answer)), Discovery(), Plan("s", "src", "r", (typo_update(),)),
                       validation=Validation.WARN, fields=fields)
    assert 'cm.yaml:5: v1 ConfigMap shop/conf: unknown field "dta" (did you mean "data"?): the server drops it (--validate=warn)' \
        in plan.warnings


def test_what_a_strict_server_could_not_dry_run_is_checked_against_the_schema():
    ns, inside = _create("Namespace", "new"), replace(_create("ConfigMap", "c", "new"), desired={**CM_DESIRED, "metadata": {"name": "c"}})
    checked = replace(_create("ConfigMap", "d", "x"), desired={**CM_DESIRED, "metadata": {"name": "d"}})
    found, n = unknown_fields(Plan("s", "src", "r", (ns, inside, checked)), lambda a: CM_FIELDS, skip={ns.ref.key, checked.ref.key})
    assert (found, n) == ({inside.ref.key: [("dta",)]}, 1)


def test_strict_errors_are_read_from_the_servers_message():
    create = ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", '
              'unknown field "spec.template.spec.containers[0].imagePullPolice"')
    assert strict_fields(create) == ("spec.replica", "spec.template.spec.containers[0].imagePullPolice")
    assert strict_fields('json: cannot unmarshal string into Go struct field "spec.replicas"') == ()


FILE = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
  dta: {}
- apiVersion: apps/v1
  kind: Deployment
  spec:
    template:
      spec:
        containers:
        - name: a
        - {name: b, imagePullPolice: Always}
---
{"apiVersion": "v1", "kind": "Service",
 "spec": {"ports": [{"port": 80,
   "protocl": "TCP"}]}}
"""


@pytest.mark.parametrize("doc_line, path, line", [
    (4, ("dta",), 7),
    (8, ("spec", "template", "spec", "containers", 1, "imagePullPolice"), 15),
    (8, ("spec", "template", "spec", "containers", 1), 15),
    (17, ("spec", "ports", 0, "protocl"), 19),
    (8, ("spec", "nothing", "here"), 10),  # the deepest part found
    (9, ("spec",), None),  # no object starts there
])
def test_the_line_of_a_field_is_found_in_the_files_text(doc_line, path, line):
    assert FieldLines({"f.yaml": FILE}).line("f.yaml", doc_line, path) == line
    assert FieldLines({}).line("f.yaml", doc_line, path) is None
