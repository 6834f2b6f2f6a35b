"""Pure: what Helm adds to the data flow. Hooks (`helm.sh/hook`, and Argo CD's or kubesync's own
hook annotation on any source) are split from the objects to apply, and chart versions are paired
before and after for plans.

A hook (a certificate Job that runs before an install, a migration before a new Deployment) is not
part of the steady state: applying it as an ordinary object would run a Job on every sync and prune
it afterwards. Hooks therefore travel beside the manifests (`DesiredState.hooks`, `Plan.hooks`) as
data, and kubesync/sync/hooks.py runs them around the apply (kubesync/hooks.py says how).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubesync.hooks import split_hooks
from kubesync.model import Chart, ChartChange, DesiredState, Manifest, Plan


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
