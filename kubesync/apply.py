"""Execute a plan: wave by wave, bounded concurrency inside a wave, never a blind overwrite.

Updates are JSON patches that start with a `test` of metadata.resourceVersion. When the object
changed since it was read, the server answers 422 (not 409) with no field causes; we tell that apart
from a real validation error by reading the object again: a new resourceVersion means a conflict,
which is re-diffed and retried with backoff. A real error stops that object, the wave finishes, and
no later wave starts, so the cluster is never left with later waves half-applied.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.client import JSON_PATCH, MERGE_PATCH
from kubesync.cluster.dryrun import Verdict, check_update
from kubesync.logs import ObjectLogger
from kubesync.model import Action, ActionType, Cascade, Result, KubeObject, ObjectRef, Plan, ResourceType
from kubesync.plan import waves

log = logging.getLogger(__name__)

# Replan one object against a fresh live copy: returns the new action (or None when it is now
# someone else's). Given by the facade (kubesync.sync); None for saved plans, whose conflicts are stale-plan errors.
Replanner = Callable[[Action, KubeObject | None], Action | None]


@dataclass(frozen=True)
class ApplySettings:
    """How an apply behaves."""

    concurrency: int = 8
    """Writes in flight at once inside one wave."""

    conflict_backoff: tuple[float, ...] = (0.1, 0.3, 0.7, 1.5, 3.0)
    """Sleeps between re-diff-and-retry attempts after a resourceVersion conflict."""

    dry_run: bool = False
    """Server-side dry run: every write carries dryRun=All; nothing is persisted."""

    propagation_policy: Cascade = Cascade.BACKGROUND
    """How deletions cascade to dependents: Background, Foreground or Orphan."""

    delete_timeout: float = 120.0
    """Seconds to wait for a deleted object to go away."""

    crd_timeout: float = 60.0
    """Seconds to wait for a CRD to be Established before creating its custom resources."""


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: Result
    message: str = ""
    live: KubeObject | None = field(default=None, compare=False, repr=False)
    """What the server returned for a create or patch, reduced to apiVersion, kind and metadata (uid,
    resourceVersion...; no managedFields): a 10,000-object apply would otherwise hold every body."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "result", Result(self.result))  # also accepts the plain string

    @property
    def failed(self) -> bool:
        return self.result is Result.FAILED


def _written(obj: KubeObject | None) -> KubeObject | None:
    if not isinstance(obj, dict):
        return obj
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta}


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    not_started: list[Action] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]


class Applier:
    def __init__(self, cluster: API, discovery, settings: ApplySettings | None = None, replan: Replanner | None = None,
                 progress: Callable[[Outcome], None] | None = None):
        self.cluster = cluster
        self.discovery = discovery
        self.settings = settings or ApplySettings()
        self.replan = replan
        self.progress = progress or (lambda outcome: None)
        self.stop = threading.Event()

    # -- the plan --------------------------------------------------------------------------------------

    def apply(self, plan: Plan) -> ApplyReport:
        report = ApplyReport()
        steps = waves(plan)
        for i, step in enumerate(steps):
            if self.stop.is_set():
                report.not_started.extend(a for s in steps[i:] for a in s)
                break
            with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency), thread_name_prefix="apply") as pool:
                outcomes = list(pool.map(self._run_one, step))
            for o in outcomes:
                report.outcomes.append(o)
            if any(o.failed for o in outcomes):
                report.not_started.extend(a for s in steps[i + 1:] for a in s)
                break
        return report

    def _run_one(self, action: Action) -> Outcome:
        olog = ObjectLogger(log, {"object": str(action.ref)})
        try:
            outcome = self.execute(action)
        except errors.KubesyncError as e:
            origin = f"{action.origin}: " if action.origin else ""
            outcome = Outcome(action, Result.FAILED, f"{origin}{action.ref}: {e}")
        except Exception as e:  # a bug must not hide the rest of the wave's results
            olog.exception("unexpected error")
            outcome = Outcome(action, Result.FAILED, f"{action.ref}: unexpected {type(e).__name__}: {e}")
        olog.debug("%s %s", outcome.result, outcome.message)
        self.progress(outcome)
        return outcome

    # -- one action ------------------------------------------------------------------------------------

    def rtype(self, ref: ObjectRef) -> ResourceType:
        rtype = self.discovery.resource_for(ref.api_version, ref.kind)
        if rtype is None:
            raise errors.ResolveError(f"the cluster does not serve {ref.api_version} {ref.kind}")
        return rtype

    def _query(self) -> dict:
        return {"dryRun": "All"} if self.settings.dry_run else {}

    def execute(self, action: Action) -> Outcome:
        if action.type is ActionType.CREATE:
            return self._create(action)
        if action.type in (ActionType.UPDATE, ActionType.SCALE):
            return self._with_conflict_retries(action)
        if action.type is ActionType.DELETE:
            return self._delete(action)
        return Outcome(action, Result.UNCHANGED)

    def _wait_for_type(self, ref: ObjectRef) -> ResourceType:
        """A custom resource created in the run that creates its CRD: wait until the CRD is served."""
        deadline = time.monotonic() + self.settings.crd_timeout
        while True:
            rtype = self.discovery.resource_for(ref.api_version, ref.kind)
            if rtype is not None:
                return rtype
            if time.monotonic() > deadline:
                raise errors.ResolveError(
                    f"{ref.api_version} {ref.kind} was not served within {self.settings.crd_timeout:.0f}s "
                    "(is its CustomResourceDefinition Established?)"
                )
            time.sleep(0.5)
            self.discovery.invalidate(ref.api_version)

    def _create(self, action: Action) -> Outcome:
        ref = action.ref
        if self.discovery.resource_for(ref.api_version, ref.kind) is None:
            if self.settings.dry_run:
                return Outcome(action, Result.SKIPPED, "its CustomResourceDefinition is only created by this apply; not validated in a dry run")
            self.discovery.invalidate(ref.api_version)
        rtype = self._wait_for_type(ref)
        try:
            created = self.cluster.request("POST", rtype.path(ref.namespace), body=action.desired, query=self._query())
        except errors.ClusterConflict:
            # Someone created it since we planned: treat it like any other changed object.
            live = self.cluster.get_or_none(rtype.path(ref.namespace, ref.name))
            return self._replanned(action, live, "created by someone else since the plan")
        if ref.kind == "CustomResourceDefinition" and not self.settings.dry_run:
            self._wait_established(rtype, ref)
        return Outcome(action, Result.CREATED, live=_written(created))

    def _wait_established(self, rtype: ResourceType, ref: ObjectRef) -> None:
        deadline = time.monotonic() + self.settings.crd_timeout
        path = rtype.path("", ref.name)
        while time.monotonic() < deadline:
            crd = self.cluster.get(path)
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            time.sleep(0.2)
        raise errors.Timeout(f"CustomResourceDefinition {ref.name} not Established within {self.settings.crd_timeout:.0f}s")

    def _replanned(self, action: Action, live: KubeObject | None, why: str) -> Outcome:
        if self.replan is None:
            raise errors.ClusterConflict(f"{why}; the saved plan is stale, plan again")
        new = self.replan(action, live)
        if new is None:
            raise errors.OwnershipConflict(f"{why}, and it is not ours to change; left alone")
        return self.execute(new)

    def _with_conflict_retries(self, action: Action) -> Outcome:
        """Write; on a conflict back off, re-read, re-diff and write again at once.

        The backoff comes before the re-read, never between the read and the write: against a busy
        writer, a patch built on a read taken before a sleep is stale every time.
        """
        current = action
        backoff = self.settings.conflict_backoff
        for n in range(len(backoff) + 1):
            try:
                if current.type is ActionType.SCALE:
                    return self._scale(current)
                return self._patch(current)
            except (errors.ClusterConflict, errors.ClusterInvalid) as e:
                if isinstance(e, errors.ClusterInvalid) and e.causes:
                    raise  # the object itself is invalid: the server's message says why
                if n == len(backoff):
                    raise errors.ClusterConflict(
                        f"still changing concurrently after {n + 1} attempts; not overwritten, try again"
                    ) from e
                if self.replan is not None:
                    time.sleep(backoff[n])
                rtype = self.rtype(current.ref)
                live = self.cluster.get_or_none(rtype.path(current.ref.namespace, current.ref.name))
                seen = (live or {}).get("metadata", {}).get("resourceVersion")
                if isinstance(e, errors.ClusterInvalid) and seen == current.resource_version:
                    raise  # nothing changed under us: the 422 is about the object itself
                if self.replan is None:
                    raise errors.ClusterConflict(
                        f"changed in the cluster since the plan (resourceVersion {current.resource_version} -> {seen}); "
                        "the saved plan is stale, plan again"
                    ) from e
                log.info("[%s] changed concurrently (resourceVersion %s -> %s); re-diffing (attempt %d)",
                         current.ref, current.resource_version, seen, n + 1)
                new = self.replan(current, live)
                if new is None:
                    raise errors.OwnershipConflict("changed concurrently and is no longer ours; left alone") from e
                if new.type is ActionType.NOOP:
                    return Outcome(action, Result.UNCHANGED, "already in the desired state after a concurrent change")
                if new.type is ActionType.CREATE:
                    return self._create(new)
                current = new
        raise AssertionError("unreachable")

    def _patch(self, action: Action) -> Outcome:
        rtype = self.rtype(action.ref)
        body = [{"op": "test", "path": "/metadata/resourceVersion", "value": action.resource_version}, *action.patch]
        live = self.cluster.request(
            "PATCH", rtype.path(action.ref.namespace, action.ref.name), body=body, content_type=JSON_PATCH, query=self._query()
        )
        return Outcome(action, Result.PATCHED, live=_written(live))

    def _scale(self, action: Action) -> Outcome:
        rtype = self.rtype(action.ref)
        want = action.replicas[1] if action.replicas else None
        body = {"metadata": {"resourceVersion": action.resource_version}, "spec": {"replicas": want}}
        path = rtype.path(action.ref.namespace, action.ref.name) + "/scale"
        self.cluster.request("PATCH", path, body=body, content_type=MERGE_PATCH, query=self._query())
        return Outcome(action, Result.SCALED, f"{action.replicas[0]} -> {want}" if action.replicas else "")

    def _delete(self, action: Action) -> Outcome:
        rtype = self.rtype(action.ref)
        path = rtype.path(action.ref.namespace, action.ref.name)
        body = {"propagationPolicy": self.settings.propagation_policy, "preconditions": {"uid": action.uid}}
        try:
            self.cluster.request("DELETE", path, body=body, query=self._query())
        except errors.ClusterNotFound:
            return Outcome(action, Result.DELETED, "already gone")
        except errors.ClusterConflict as e:
            raise errors.ClusterConflict(f"uid changed since the plan (re-created by someone else?); not deleted: {e}") from e
        note = "" if self.settings.dry_run else self._wait_gone(path, action)
        return Outcome(action, Result.DELETED, note)

    def _wait_gone(self, path: str, action: Action) -> str:
        """'' once the object is gone; a note when we stopped waiting because of a shutdown."""
        deadline = time.monotonic() + self.settings.delete_timeout
        while time.monotonic() < deadline:
            live = self.cluster.get_or_none(path)
            if live is None or live.get("metadata", {}).get("uid") != action.uid:
                return ""
            if self.stop.wait(0.25):
                return "deletion requested; stopped waiting for it to finish (shutting down)"
        raise errors.Timeout(f"still terminating after {self.settings.delete_timeout:.0f}s (finalizers?)")


def verify_updates(cluster: API, discovery, plan: Plan, concurrency: int = 8) -> Plan:
    """Turn updates the server would store as no change into no-ops, with a warning.

    A field the server drops (a misspelled or unknown field, a disabled feature, zero values it
    omits) would otherwise be planned again on every run and look like drift forever. Each update
    is sent once with dryRun=All; only its result is compared, nothing is written. An update our
    credentials may not dry-run is kept and says so on the plan.
    """
    updates = [a for a in plan.actions if a.type is ActionType.UPDATE and a.live is not None]
    if not updates:
        return plan

    def check(action: Action) -> Verdict:
        rtype = discovery.resource_for(action.ref.api_version, action.ref.kind)
        return Verdict.FAILED if rtype is None else check_update(cluster, rtype, action)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        verdicts = {a.ref.key: v for a, v in zip(updates, pool.map(check, updates))}
    if not any(v in (Verdict.NO_EFFECT, Verdict.FORBIDDEN) for v in verdicts.values()):
        return plan
    actions, warnings = [], list(plan.warnings)
    for a in plan.actions:
        verdict = verdicts.get(a.ref.key) if a.type is ActionType.UPDATE else None
        origin = f"{a.origin}: " if a.origin else ""
        if verdict is Verdict.NO_EFFECT:
            paths = ", ".join(op["path"] for op in a.patch)
            warnings.append(f"{origin}{a.ref}: the server ignores {paths} (unknown field, disabled feature or "
                            "omitted default); nothing to change")
            a = replace(a, type=ActionType.NOOP, patch=(), risks=(), note="")
        elif verdict is Verdict.FORBIDDEN:
            warnings.append(f"{origin}{a.ref}: not verified by the server: forbidden (a dry run of the update was refused)")
        actions.append(a)
    return replace(plan, actions=tuple(actions), warnings=tuple(warnings))
