"""Pure: what the server's dry runs (kubesync.cluster.dryrun) mean for a plan.

    update the server would store unchanged     -> no-op, with a warning (no drift forever)
    update refused for an immutable field       -> replace (delete, wait until gone, create), risk `immutable`
    create or update the server rejects         -> an error of the plan: file:line, object, the server's reason
    an unknown field (strict field validation,  -> an error of the plan: file:line of the field, object, its
      or the schema where the server has none)     path and the closest known name; a warning with --validate=warn
    dry run forbidden, failed or not possible   -> kept, and the plan says "not validated by the server"

Objects in a namespace the plan itself creates cannot be dry-run (the server answers 404 for the
namespace): the namespace's own create is dry-run, its objects are checked when applied, and the plan
says so once per namespace. The same holds for custom resources whose CRD the plan creates.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable, Mapping

from kubesync.annotations import Option, options
from kubesync.diff import fields as known
from kubesync.model import Action, ActionType, Check, Plan, Risk, Verdict
from kubesync.yamlnodes import FieldLines


CHECKED = (ActionType.CREATE, ActionType.UPDATE)


def created_namespaces(plan: Plan) -> set[str]:
    return {a.ref.name for a in plan.actions if a.type is ActionType.CREATE and a.ref.kind == "Namespace" and not a.ref.group}


def _needs_created(a: Action, created: set[tuple[str, str, str]]) -> str:
    """What an object refers to that only this plan creates, which the server checks on create: a
    binding's role (a non-admin binder gets 404 "role not found"), a Pod's ServiceAccount or PriorityClass."""
    obj = a.desired or {}
    if a.ref.group == "rbac.authorization.k8s.io" and a.ref.kind in ("RoleBinding", "ClusterRoleBinding"):
        role = obj.get("roleRef") or {}
        kind, name = str(role.get("kind") or ""), str(role.get("name") or "")
        if (kind, "" if kind == "ClusterRole" else a.ref.namespace, name) in created:
            return f"{kind}s"
    if a.ref.kind == "Pod" and not a.ref.group:
        spec = obj.get("spec") or {}
        account, priority = str(spec.get("serviceAccountName") or ""), str(spec.get("priorityClassName") or "")
        if account and ("ServiceAccount", a.ref.namespace, account) in created:
            return "ServiceAccounts"
        if priority and ("PriorityClass", "", priority) in created:
            return "PriorityClasses"
    return ""


def to_check(plan: Plan, served) -> tuple[list[Action], dict[str, int]]:
    """The actions to dry-run, in wave order, and those that cannot be yet: {what they wait for: count}.
    `served(action)` tells whether the cluster serves the action's kind today."""
    new_namespaces = created_namespaces(plan)
    created = {(a.ref.kind, a.ref.namespace, a.ref.name) for a in plan.actions if a.type is ActionType.CREATE}
    out, later = [], {}
    for a in plan.actions:
        if a.type not in CHECKED or (a.type is ActionType.UPDATE and a.live is None):
            continue
        needs = _needs_created(a, created) if a.type is ActionType.CREATE else ""
        if Option.NO_VALIDATE in options(_annotations(a.desired)):
            key = "with argocd.argoproj.io/sync-options: Validate=false"
        elif a.ref.namespace in new_namespaces:
            key = f"in namespace {a.ref.namespace}, which this plan creates"
        elif not served(a) and Option.SKIP_DRY_RUN_ON_MISSING in options(_annotations(a.desired)):
            key = f"of {a.ref.api_version} {a.ref.kind}, not served yet (SkipDryRunOnMissingResource=true)"
        elif not served(a):
            key = f"of {a.ref.api_version} {a.ref.kind}, whose CustomResourceDefinition this plan creates"
        elif needs:
            key = f"({a.ref.kind}) referring to {needs} this plan creates"
        else:
            out.append(a)
            continue
        later[key] = later.get(key, 0) + 1
    return out, later


def _where(a: Action) -> str:
    return f"{a.origin}: {a.ref}" if a.origin else str(a.ref)


def unknown_fields(plan: Plan, fields_of: Callable[[Action], "known.Fields | None"], skip=frozenset()) -> tuple[dict, int]:
    """For a server without strict field validation: the unknown fields of every create and update (but
    those in `skip`, which the server validated), read against the kind's schema. Returns
    ({object key: [field path, ...]}, how many objects had a schema to be checked against)."""
    found: dict[tuple, list] = {}
    checked = 0
    for a in plan.actions:
        if a.type not in CHECKED or a.desired is None or a.ref.key in skip:
            continue
        schema = fields_of(a)
        if schema:
            checked += 1
            paths = known.unknown(a.desired, schema)
            if paths:
                found[a.ref.key] = paths
    return found, checked


_UNKNOWN = re.compile(r'unknown field "(.*)"')


class FieldReport:
    """How unknown fields are told (--validate): the line of the field in its file, its path as the server
    writes it, the closest known name; errors of the plan, or warnings with `warn`."""

    def __init__(self, texts: Mapping[str, str] | None = None, fields_of: Callable[[Action], object] | None = None,
                 found: Mapping[tuple, list] | None = None, warn: bool = False):
        self.lines = FieldLines(texts or {})
        self.fields_of = fields_of or (lambda a: None)
        self.found = found or {}
        self.warn = warn

    def describe(self, a: Action, field) -> str:
        """`web.yaml:7: apps/v1 Deployment shop/web: unknown field "spec.replica" (did you mean "replicas"?)`;
        `field` is a path (from the schema) or the server's name of it."""
        path = field if isinstance(field, tuple) else known.parse_path(a.desired, field)
        where = str(a.origin or "")
        if a.origin and a.origin.line and path:
            line = self.lines.line(a.origin.path, a.origin.line, path)
            where = f"{a.origin.path}:{line}" if line else where
        hint = known.suggest(self.fields_of(a), path) if path else ""
        name = known.format_path(path) if path else field
        return f'{where + ": " if where else ""}{a.ref}: unknown field "{name}"' + (f' (did you mean "{hint}"?)' if hint else "")

    def of(self, a: Action, check: Check | None) -> tuple[list[str], list[str]]:
        """(the unknown fields of one object, described; the server's other warnings about it)."""
        named = list(check.fields) if check else []
        others = []
        for w in check.warnings if check else ():
            m = _UNKNOWN.fullmatch(w)
            if m:
                named.append(m.group(1))
            else:
                others.append(f"{_where(a)}: the server warns: {w}")
        return [self.describe(a, f) for f in named] + [self.describe(a, p) for p in self.found.get(a.ref.key, ())], others


def judge(plan: Plan, checks: Mapping[tuple, Check], later: Mapping[str, int] | None = None,
          fields: FieldReport | None = None) -> tuple[Plan, list[str]]:
    """The plan the checks leave, and the problems that make it an error (all of them, in plan order)."""
    actions, warnings, problems = [], list(plan.warnings), []
    unvalidated: dict[str, list[Action]] = {}  # reason -> actions: one webhook or quota says the same for every object
    fields = fields or FieldReport()
    for a in plan.actions:
        check = checks.get(a.ref.key) if a.type in CHECKED else None
        verdict = check.verdict if check else None
        unknown, told = fields.of(a, check) if a.type in CHECKED else ([], [])
        if fields.warn:
            warnings += [f"{u}: the server drops it (--validate=warn)" for u in unknown] + told
        elif unknown:
            problems += unknown
            actions.append(a)
            continue
        if verdict is Verdict.NO_EFFECT and a.type is ActionType.UPDATE:
            paths = ", ".join(op["path"] for op in a.patch)
            warnings.append(f"{_where(a)}: the server ignores {paths} (unknown field, disabled feature or "
                            "omitted default); nothing to change")
            a = replace(a, type=ActionType.NOOP, patch=(), risks=(), note="")
        elif verdict is Verdict.IMMUTABLE:
            risks = tuple(dict.fromkeys((*a.risks, Risk.IMMUTABLE)))
            a = replace(a, type=ActionType.REPLACE, risks=risks,
                        note=f"replaced (deleted, then created again): the server refuses the update: {check.reason}")
        elif verdict is Verdict.INVALID:
            problems.append(f"{_where(a)}: the server would reject this {a.type.value}: {check.reason}")
        elif verdict in (Verdict.FORBIDDEN, Verdict.FAILED):
            unvalidated.setdefault(check.reason, []).append(a)
        actions.append(a)
    for reason, items in unvalidated.items():
        others = f" (and {len(items) - 1} more object(s) for the same reason)" if len(items) > 1 else ""
        warnings.append(f"{_where(items[0])}{others}: not validated by the server: {reason}")
    for what, n in sorted((later or {}).items()):
        warnings.append(f"{n} object(s) {what}: validated by the server only when applied")
    return replace(plan, actions=tuple(actions), warnings=tuple(warnings)), problems


REPLACE_ANNOTATION = "kubesync.io/replace"


def _annotations(obj) -> dict:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def replace_allowed(action: Action) -> bool:
    """Opted in to an unattended replacement: kubesync.io/replace: "allowed", Flux's force: Enabled or
    Argo CD's Force=true."""
    annotations = _annotations(action.desired)
    return str(annotations.get(REPLACE_ANNOTATION, "")).lower() == "allowed" or Option.FORCE in options(annotations)


def unattended(plan: Plan) -> tuple[Plan, list[str]]:
    """For runs nobody confirms (the daemon): replacements of objects not opted in (`kubesync.io/replace:
    "allowed"`, Flux's `force: Enabled`, Argo CD's `Force=true`) and prunes of objects asking for a
    confirmation (Argo CD's `Prune=confirm`) are left out, and reported."""
    actions, skipped = [], []
    for a in plan.actions:
        if a.type is ActionType.REPLACE and not replace_allowed(a):
            skipped.append(f"{_where(a)}: needs to be replaced (deleted and created again); skipped: unattended "
                           "replacement needs the annotation kubesync.io/replace: \"allowed\" (or run `kubesync apply`)")
            continue
        if a.type is ActionType.DELETE and Option.PRUNE_CONFIRM in options(_annotations(a.live)):
            skipped.append(f"{_where(a)}: gone from the source; not pruned: Prune=confirm needs a person "
                           "(run `kubesync apply --prune` and confirm)")
            continue
        actions.append(a)
    return replace(plan, actions=tuple(actions), warnings=plan.warnings + tuple(skipped)), skipped
