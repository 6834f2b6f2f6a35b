"""Pure: what Helm adds to the data flow. Chart hooks are split from the objects to apply, and chart
versions are paired before and after for plans.

A `helm.sh/hook` object (a certificate Job that runs before an install, a test Pod) is not part of
the release's steady state: applying it as an ordinary object would run a Job on every sync and
prune it afterwards. Hooks therefore travel beside the manifests (`DesiredState.hooks`,
`Plan.hooks`) as data; the hooks issue (27) runs them, until then plans list them as skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubesync.model import Chart, ChartChange, DesiredState, Hook, Manifest, Plan

HOOK_ANNOTATION = "helm.sh/hook"
HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"
HOOK_DELETE_POLICY_ANNOTATION = "helm.sh/hook-delete-policy"


def _words(value: object) -> tuple[str, ...]:
    return tuple(w.strip() for w in str(value or "").split(",") if w.strip())


def _weight(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0  # Helm treats an unparsable weight as 0 too


def hook_of(m: Manifest) -> Hook | None:
    """The hook a manifest is (None when it is an ordinary object)."""
    annotations = (m.obj.get("metadata") or {}).get("annotations") or {}
    phases = _words(annotations.get(HOOK_ANNOTATION))
    if not phases:
        return None
    return Hook(m.ref, phases, m.origin, _weight(annotations.get(HOOK_WEIGHT_ANNOTATION, "0")),
                _words(annotations.get(HOOK_DELETE_POLICY_ANNOTATION)), m.obj)


def split_hooks(manifests: Iterable[Manifest]) -> tuple[tuple[Manifest, ...], tuple[Hook, ...]]:
    """(objects to apply, hooks), each in source order."""
    objects: list[Manifest] = []
    hooks: list[Hook] = []
    for m in manifests:
        hook = hook_of(m)
        if hook is None:
            objects.append(m)
        else:
            hooks.append(hook)
    return tuple(objects), tuple(hooks)


def desired_state(manifests: Iterable[Manifest], source: str, revision: str, warnings: Iterable[str] = (),
                  charts: Iterable[Chart] = ()) -> DesiredState:
    """A DesiredState with its hooks set apart (every source builds its state here)."""
    objects, hooks = split_hooks(manifests)
    return DesiredState(objects, source, revision, tuple(warnings), tuple(charts), hooks)


def chart_changes(before: Iterable[Chart], after: Iterable[Chart]) -> tuple[ChartChange, ...]:
    """Each chart's version before and after, by name, sorted; a chart on one side only shows "" on the other."""
    old = {c.name: c.version for c in before}
    new = {c.name: c.version for c in after}
    return tuple(ChartChange(name, old.get(name, ""), new.get(name, "")) for name in sorted(old.keys() | new.keys()))


def charts_after(plan: Plan) -> tuple[Chart, ...]:
    """The charts a plan applies (recorded in the inventory: the next plan's "before")."""
    return tuple(Chart(c.name, c.after) for c in plan.charts if c.after)


def hook_line(hook: Hook) -> str:
    """One line for people: `pre-install,pre-upgrade batch/v1 Job ns/x (chart templates/job.yaml)`."""
    weight = f", weight {hook.weight}" if hook.weight else ""
    return f"{','.join(hook.phases)}: {hook.ref} ({hook.origin}{weight})"
