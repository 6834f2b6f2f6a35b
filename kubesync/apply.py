"""Execute a plan: wave by wave, bounded concurrency inside a wave, never a blind overwrite.

Updates are JSON patches that start with a `test` of metadata.resourceVersion. When the object
changed since it was read, the server answers 422 (not 409) with no field causes; we tell that apart
from a real validation error by reading the object again: a new resourceVersion means a conflict,
which is re-diffed and retried with backoff. A real error stops that object, the wave finishes, and
no later wave starts, so the cluster is never left with later waves half-applied.

An error that will not go away (an admission webhook that cannot be called, an exhausted quota, a
full IP range) comes back identical for every object: after `fail_fast_after` objects hit the same
cause, the rest of the wave is not started and the cause is reported once with the objects it hit.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.requests import FieldValidation, Preconditions
from kubesync.logs import ObjectLogger
from kubesync.annotations import Option, options
from kubesync.model import Action, ActionType, Cascade, KubeObject, ObjectRef, PatchType, Plan, ResourceType, Result, json_copy
from kubesync.ordering import waves

log = logging.getLogger(__name__)

# Replan one object against a fresh live copy: returns the new action (or None when it is now
# someone else's). Given by the facade (kubesync.sync); None for saved plans, whose conflicts are stale-plan errors.
Replanner = Callable[[Action, KubeObject | None], Action | None]


@dataclass(frozen=True)
class ApplySettings:
    """How an apply behaves."""

    concurrency: int = 32
    """Writes in flight at once inside one wave (--concurrency). bench/concurrency.py, first sync of 300
    objects on the shared 2-core machine against 1.37: 25.6 s at 4, 24.2 s at 8, 22.6 s at 16, 17.8 s at 32."""

    fail_fast_after: int = 3
    """Objects that may fail with the same persistent cause before the rest of their wave is not started; 0: never stop early."""

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

    field_validation: FieldValidation | None = None
    """How every create and update treats unknown fields (fieldValidation; the facade sets it from --validate)."""

    hook_timeout: float = 600.0
    """Seconds each hook phase may take (--hook-timeout): its hooks created, run and judged (PostSync: with the
    wait for every object to be Healthy first)."""

    force_hooks: bool = False
    """Run the hooks even when the plan has nothing to apply (--force-hooks)."""


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: Result
    message: str = ""
    live: KubeObject | None = field(default=None, compare=False, repr=False)
    """What the server returned for a create or patch, reduced to apiVersion, kind and metadata (uid,
    resourceVersion...; no managedFields): a 10,000-object apply would otherwise hold every body."""
    cause: str = field(default="", compare=False)
    """What makes this failure the same as other objects' ('' when it is the object's own)."""
    phase: str = ""
    """The hook phase (PreSync, ...) when the object is a hook: never recorded as an owned object."""

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


# Persistent causes worth naming: the server says the same thing for every object.
_CAUSES = (
    (re.compile(r'failed calling webhook "([^"]+)"'), 'admission webhook "{}" cannot be called'),
    (re.compile(r"exceeded quota: ([^,\s]+)"), 'ResourceQuota "{}" is exhausted'),
    (re.compile(r"range is full"), "the Service IP range is full"),
)
_REQUEST_PREFIX = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")
_QUOTED = re.compile(r'"[^"]*"')


def cause_of(e: Exception) -> str:
    """The same string for failures that share a cause across objects; '' for an object's own error."""
    if not isinstance(e, errors.ClusterError) or isinstance(e, (errors.ClusterConflict, errors.ClusterInvalid, errors.ClusterNotFound)):
        return ""
    text = str(e)
    for pattern, label in _CAUSES:
        m = pattern.search(text)
        if m:
            return label.format(*m.groups())
    if isinstance(e, errors.ClusterUnreachable) or e.status in (401, 403) or (e.status or 0) >= 500:
        return _QUOTED.sub('"…"', _REQUEST_PREFIX.sub("", text))  # object names differ, the cause does not
    return ""


class Repeats:
    """Failures per cause within one wave; trips once one cause has hit `threshold` objects."""

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.first: dict[str, ObjectRef] = {}
        self.counts: dict[str, int] = {}
        self.tripped = ""
        self._lock = threading.Lock()

    def record(self, cause: str, ref: ObjectRef) -> ObjectRef | None:
        """Count one failure; the first object that failed the same way, when it is another one."""
        with self._lock:
            self.counts[cause] = self.counts.get(cause, 0) + 1
            first = self.first.setdefault(cause, ref)
            if self.threshold and self.counts[cause] >= self.threshold and not self.tripped:
                self.tripped = cause
            return None if first == ref else first


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    not_started: list[Action] = field(default_factory=list)
    stopped_by: str = ""
    """The repeated cause that stopped a wave early ('' when none did)."""
    cut_short: int = 0
    """Actions of that wave left unstarted (they are in not_started too)."""

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    def failure_lines(self) -> list[str]:
        """One line per failed object, except that a cause shared by several objects is one line with their count."""
        groups: dict[str, list[Outcome]] = {}
        for o in self.failures:
            groups.setdefault(o.cause or f"own:{id(o)}", []).append(o)
        lines = []
        for cause, items in groups.items():
            first = next((o for o in items if "same failure as" not in o.message), items[0])
            if len(items) == 1:
                lines.append(first.message)
                continue
            others = [str(o.action.ref) for o in items if o is not first]
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            stop = f"; {self.cut_short} more of this wave were not started" if cause == self.stopped_by else ""
            lines.append(f"{len(items)} objects failed the same way{stop}: {first.message} (also {shown})")
        return lines


class Applier:
    """Runs one plan. `replan` re-diffs an object after a conflict (None: a saved plan, whose conflicts
    are stale-plan errors); `progress` hears each outcome; `stop`, once set, lets the current wave
    finish and starts no other (a shutdown, a lost leadership)."""

    def __init__(self, cluster: API, discovery, settings: ApplySettings | None = None, replan: Replanner | None = None,
                 progress: Callable[[Outcome], None] | None = None, stop: threading.Event | None = None):
        self.cluster = cluster
        self.discovery = discovery
        self.settings = settings or ApplySettings()
        self.replan = replan
        self.progress = progress or (lambda outcome: None)
        self.stop = stop or threading.Event()

    # -- the plan --------------------------------------------------------------------------------------

    def apply(self, plan: Plan) -> ApplyReport:
        report = ApplyReport()
        steps = waves(plan)
        for i, step in enumerate(steps):
            if self.stop.is_set():
                report.not_started.extend(a for s in steps[i:] for a in s)
                break
            outcomes = self._run_wave(step, report)
            report.outcomes.extend(outcomes)
            if any(o.failed for o in outcomes):
                report.not_started.extend(a for s in steps[i + 1:] for a in s)
                break
        return report

    def _run_wave(self, step: list[Action], report: ApplyReport) -> list[Outcome]:
        """Run one wave's actions concurrently; once a persistent cause repeats, start no more of them."""
        repeats = Repeats(self.settings.fail_fast_after)

        def run(action: Action) -> Outcome | None:
            return None if repeats.tripped else self._run_one(action, repeats)

        with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency), thread_name_prefix="apply") as pool:
            results = list(pool.map(run, step))
        if repeats.tripped:
            report.stopped_by = repeats.tripped
            report.not_started.extend(a for a, o in zip(step, results) if o is None)
            report.cut_short = sum(o is None for o in results)
            log.debug("%d objects failed because %s; the rest of the wave (%d objects) was not started",
                      repeats.counts[repeats.tripped], repeats.tripped, sum(o is None for o in results))
        return [o for o in results if o is not None]

    def _run_one(self, action: Action, repeats: Repeats | None = None) -> Outcome:
        olog = ObjectLogger(log, {"object": str(action.ref)})
        try:
            outcome = self.execute(action)
        except errors.KubesyncError as e:
            origin = f"{action.origin}: " if action.origin else ""
            cause = cause_of(e)
            first = repeats.record(cause, action.ref) if repeats is not None and cause else None
            text = f"same failure as {first}" if first is not None else str(e)
            outcome = Outcome(action, Result.FAILED, f"{origin}{action.ref}: {text}", cause=cause)
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

    def execute(self, action: Action) -> Outcome:
        if action.type is ActionType.CREATE:
            return self._create(action)
        if action.type in (ActionType.UPDATE, ActionType.SCALE):
            return self._with_conflict_retries(action)
        if action.type is ActionType.DELETE:
            return self._delete(action)
        if action.type is ActionType.REPLACE:
            return self._replace(action)
        return Outcome(action, Result.UNCHANGED)

    def _replace(self, action: Action) -> Outcome:
        """Delete (this uid only), wait until it is gone, create it again from the desired state."""
        deleted = self._delete(action)
        if self.settings.dry_run:
            return Outcome(action, Result.REPLACED, "server dry run: deleted, not created again")
        if deleted.message:  # stopped waiting for the deletion (shutting down): do not create over it
            return Outcome(action, Result.FAILED, f"{action.ref}: {deleted.message}; not created again")
        created = self._create(replace(action, type=ActionType.CREATE, uid="", resource_version=""))
        return Outcome(action, Result.REPLACED, "deleted and created again", live=created.live)

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
            created = self.cluster.create(rtype, action.desired, dry_run=self.settings.dry_run,
                                          field_validation=self.settings.field_validation)
        except errors.ClusterConflict:
            # Someone created it since we planned: treat it like any other changed object.
            live = self.cluster.get(rtype, ref.namespace, ref.name)
            return self._replanned(action, live, "created by someone else since the plan")
        if ref.kind == "CustomResourceDefinition" and not self.settings.dry_run:
            self._wait_established(rtype, ref)
        return Outcome(action, Result.CREATED, live=_written(created))

    def _wait_established(self, rtype: ResourceType, ref: ObjectRef) -> None:
        deadline = time.monotonic() + self.settings.crd_timeout
        while time.monotonic() < deadline:
            crd = self.cluster.get(rtype, "", ref.name) or {}
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
                live = self.cluster.get(rtype, current.ref.namespace, current.ref.name)
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
        if Option.REPLACE in options(((action.desired or {}).get("metadata") or {}).get("annotations") or {}):
            return self._put(rtype, action)
        body = [{"op": "test", "path": "/metadata/resourceVersion", "value": action.resource_version}, *action.patch]
        live = self.cluster.patch(rtype, action.ref.namespace, action.ref.name, body, PatchType.JSON, dry_run=self.settings.dry_run,
                                  field_validation=self.settings.field_validation)
        return Outcome(action, Result.PATCHED, live=_written(live))

    def _put(self, rtype: ResourceType, action: Action) -> Outcome:
        """Argo CD's Replace=true: the whole desired object, as `kubectl replace` sends it, at the
        resourceVersion planned against (a change since is a conflict, re-diffed like a patch's)."""
        body = json_copy(action.desired or {})
        body.setdefault("metadata", {})["resourceVersion"] = action.resource_version
        live = self.cluster.put(rtype, body, dry_run=self.settings.dry_run, field_validation=self.settings.field_validation)
        return Outcome(action, Result.PATCHED, "replaced in full (Replace=true)", live=_written(live))

    def _scale(self, action: Action) -> Outcome:
        rtype = self.rtype(action.ref)
        want = action.replicas[1] if action.replicas else None
        body = {"metadata": {"resourceVersion": action.resource_version}, "spec": {"replicas": want}}
        self.cluster.patch(rtype, action.ref.namespace, action.ref.name, body, PatchType.MERGE, subresource="scale",
                           dry_run=self.settings.dry_run)
        return Outcome(action, Result.SCALED, f"{action.replicas[0]} -> {want}" if action.replicas else "")

    def _delete(self, action: Action) -> Outcome:
        rtype = self.rtype(action.ref)
        try:
            self.cluster.delete(rtype, action.ref.namespace, action.ref.name, cascade=self.settings.propagation_policy,
                                preconditions=Preconditions(uid=action.uid), dry_run=self.settings.dry_run)
        except errors.ClusterNotFound:
            return Outcome(action, Result.DELETED, "already gone")
        except errors.ClusterConflict as e:
            raise errors.ClusterConflict(f"uid changed since the plan (re-created by someone else?); not deleted: {e}") from e
        note = "" if self.settings.dry_run else self._wait_gone(rtype, action)
        return Outcome(action, Result.DELETED, note)

    def _wait_gone(self, rtype: ResourceType, action: Action) -> str:
        """'' once the object is gone; a note when we stopped waiting because of a shutdown."""
        deadline = time.monotonic() + self.settings.delete_timeout
        while time.monotonic() < deadline:
            live = self.cluster.get(rtype, action.ref.namespace, action.ref.name)
            if live is None or live.get("metadata", {}).get("uid") != action.uid:
                return ""
            if self.stop.wait(0.25):
                return "deletion requested; stopped waiting for it to finish (shutting down)"
        raise errors.Timeout(f"still terminating after {self.settings.delete_timeout:.0f}s (finalizers?)")
