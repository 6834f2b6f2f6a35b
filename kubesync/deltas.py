"""Resource deltas: what a plan adds to or frees from the CPU and memory a namespace asks for.

Pure: a Plan in, a Deltas value out. Only the workloads the plan creates, changes or deletes are
counted, so ``before``/``after`` cover those objects and not the whole namespace; ``delta`` is what the
plan itself changes. ``quota_warnings`` adds the delta to a ResourceQuota's ``status.used``.

Pods per workload (the table ``WORKLOADS``): spec.replicas for Deployment, StatefulSet, ReplicaSet
and ReplicationController (default 1); Job min(parallelism, completions) (default 1); Pod, CronJob
(one Job at a time) and DaemonSet (one pod per node: counted as 1, noted) count 1.
A pod's effective request per resource follows the scheduler:
max(max(init containers), sum(containers)) + spec.overhead, with sidecar init containers
(restartPolicy: Always) added to both sides as from Kubernetes 1.28; a container with a limit and no
request gets request = limit, as the API server defaults it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable

import jsonpatch
import jsonpointer

from kubesync.quantity import parse_quantity
from kubesync.model import Action, ActionType, KubeObject, ObjectRef, Plan

CPU = ("requests.cpu", "limits.cpu")
MEMORY = ("requests.memory", "limits.memory")
RESOURCES = ("requests.cpu", "limits.cpu", "requests.memory", "limits.memory")
# ResourceQuota spellings that mean the same as ours ("cpu" is "requests.cpu").
QUOTA_ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory"}


# ---------------------------------------------------------------- the states an action moves between


@dataclass(frozen=True)
class States:
    """An action's object before and after it runs (None: absent); `note` says why it is approximate."""

    before: KubeObject | None
    after: KubeObject | None
    note: str = ""


def action_states(action: Action) -> States:
    """Before = live; after = live with the patch applied (update, scale), desired (create), None (delete).

    Shared by the renderers and `compute_deltas`. Never raises: a patch that does not apply to the live
    object falls back to `desired` with a note.
    """
    t = action.type
    if t is ActionType.CREATE:
        return States(None, action.desired)
    if t is ActionType.DELETE:
        return States(action.live, None, "" if action.live is not None else "live object not recorded in the plan")
    if t is ActionType.REPLACE:  # the object is created again from the desired state
        return States(action.live, action.desired)
    if t is ActionType.NOOP:
        same = action.live if action.live is not None else action.desired
        return States(same, same)
    if action.live is None:
        return States(None, action.desired, "live object not recorded in the plan")
    note = ""
    try:
        after = jsonpatch.apply_patch(action.live, [dict(op) for op in action.patch])
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
        after, note = action.desired, f"the patch does not apply to the live object ({e}); showing the desired object"
    if t is ActionType.SCALE and action.replicas and action.replicas[1] is not None and isinstance(after, dict):
        spec = after.get("spec")
        if isinstance(spec, dict) and spec.get("replicas") != action.replicas[1]:
            after = {**after, "spec": {**spec, "replicas": action.replicas[1]}}
    return States(action.live, after, note)


# ---------------------------------------------------------------- amounts


@dataclass(frozen=True)
class Amounts:
    """CPU in cores and memory in bytes, as exact fractions."""

    requests_cpu: Fraction = Fraction(0)
    limits_cpu: Fraction = Fraction(0)
    requests_memory: Fraction = Fraction(0)
    limits_memory: Fraction = Fraction(0)

    @staticmethod
    def _attr(resource: str) -> str:
        return resource.replace(".", "_")

    def __getitem__(self, resource: str) -> Fraction:
        return getattr(self, self._attr(QUOTA_ALIASES.get(resource, resource)))

    @classmethod
    def of(cls, values: dict[str, Fraction]) -> "Amounts":
        return cls(**{cls._attr(r): Fraction(values.get(r, 0)) for r in RESOURCES})

    def _combine(self, other: "Amounts", fn: Callable[[Fraction, Fraction], Fraction]) -> "Amounts":
        return Amounts(*(fn(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self)))

    def __add__(self, other: "Amounts") -> "Amounts":
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other: "Amounts") -> "Amounts":
        return self._combine(other, lambda a, b: a - b)

    def times(self, n: int | Fraction) -> "Amounts":
        return Amounts(*(getattr(self, f.name) * n for f in dataclasses.fields(self)))

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))


ZERO = Amounts()


@dataclass(frozen=True)
class NamespaceDelta:
    namespace: str  # "" in the total
    before: Amounts = ZERO
    after: Amounts = ZERO

    @property
    def delta(self) -> Amounts:
        return self.after - self.before


@dataclass(frozen=True)
class Deltas:
    """Per-namespace sums (sorted by namespace) and their total, over the workloads a plan touches."""

    namespaces: tuple[NamespaceDelta, ...] = ()
    total: NamespaceDelta = NamespaceDelta("")
    notes: tuple[str, ...] = ()

    def namespace(self, name: str) -> NamespaceDelta | None:
        return next((n for n in self.namespaces if n.namespace == name), None)

    @property
    def empty(self) -> bool:
        return not self.namespaces


# ---------------------------------------------------------------- workloads and pods


def _template(path: tuple[str, ...]) -> Callable[[KubeObject], Any]:
    def get(obj: KubeObject) -> Any:
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    return get


def _replicas(obj: KubeObject) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _job_pods(spec: dict) -> int:
    parallelism = spec.get("parallelism")
    parallelism = 1 if parallelism is None else int(parallelism)
    completions = spec.get("completions")
    return parallelism if completions is None else min(parallelism, int(completions))


POD_SPEC = _template(("spec",))
TEMPLATE_SPEC = _template(("spec", "template", "spec"))
# (group, kind) -> (pod spec, pods per object, note). Kinds not listed hold no pods.
WORKLOADS: dict[tuple[str, str], tuple[Callable[[KubeObject], Any], Callable[[KubeObject], int], str]] = {
    ("", "Pod"): (POD_SPEC, lambda o: 1, ""),
    ("apps", "Deployment"): (TEMPLATE_SPEC, _replicas, ""),
    ("apps", "StatefulSet"): (TEMPLATE_SPEC, _replicas, ""),
    ("apps", "ReplicaSet"): (TEMPLATE_SPEC, _replicas, ""),
    ("", "ReplicationController"): (TEMPLATE_SPEC, _replicas, ""),
    ("apps", "DaemonSet"): (TEMPLATE_SPEC, lambda o: 1, "DaemonSet {ref} counted as 1 pod (it runs one per matching node)"),
    ("batch", "Job"): (TEMPLATE_SPEC, lambda o: _job_pods(o.get("spec") or {}), ""),
    ("batch", "CronJob"): (
        _template(("spec", "jobTemplate", "spec", "template", "spec")),
        lambda o: 1,
        "CronJob {ref} counted as 1 pod (one run at a time)",
    ),
}


def _container(c: Any, notes: list[str], where: str) -> dict[str, Fraction]:
    resources = (c.get("resources") or {}) if isinstance(c, dict) else {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    out: dict[str, Fraction] = {}
    for name in ("cpu", "memory"):
        for kind, values, fallback in (("requests", requests, limits), ("limits", limits, None)):
            raw = values.get(name)
            if raw is None and fallback is not None:
                raw = fallback.get(name)  # the API server defaults a missing request to the limit
            if raw is None:
                continue
            try:
                out[f"{kind}.{name}"] = Fraction(parse_quantity(raw))
            except ValueError as e:  # a bad quantity must not break a plan's rendering
                notes.append(f"{where}: {kind}.{name} {raw!r} is not a quantity ({e}); counted as 0")
    return out


def pod_amounts(pod_spec: Any, notes: list[str] | None = None, where: str = "pod") -> Amounts:
    """The effective requests and limits of one pod: max(init, sum(containers)) + overhead, per resource."""
    notes = notes if notes is not None else []
    if not isinstance(pod_spec, dict):
        return ZERO
    name = lambda c: c.get("name", "?") if isinstance(c, dict) else "?"  # noqa: E731
    containers = [_container(c, notes, f"{where} container {name(c)}") for c in pod_spec.get("containers") or []]
    inits = [(c, _container(c, notes, f"{where} initContainer {name(c)}")) for c in pod_spec.get("initContainers") or []]
    overhead = _container({"resources": {"requests": pod_spec.get("overhead") or {}, "limits": pod_spec.get("overhead") or {}}}, notes, f"{where} overhead")
    result: dict[str, Fraction] = {}
    for r in RESOURCES:
        sidecars = Fraction(0)
        init_peak = Fraction(0)
        for c, amounts in inits:
            value = amounts.get(r, Fraction(0))
            if isinstance(c, dict) and c.get("restartPolicy") == "Always":  # a sidecar keeps running
                sidecars += value
                init_peak = max(init_peak, sidecars)
            else:
                init_peak = max(init_peak, value + sidecars)
        regular = sum((a.get(r, Fraction(0)) for a in containers), Fraction(0)) + sidecars
        result[r] = max(init_peak, regular) + overhead.get(r, Fraction(0))
    return Amounts.of(result)


def workload_amounts(ref: ObjectRef, obj: KubeObject | None, notes: list[str]) -> Amounts:
    """What all pods of one workload object ask for (zero for other kinds or an absent object)."""
    entry = WORKLOADS.get((ref.group, ref.kind))
    if entry is None or not isinstance(obj, dict):
        return ZERO
    spec_of, pods_of, note = entry
    if note:
        text = note.format(ref=ref.short)
        if text not in notes:
            notes.append(text)
    try:
        pods = pods_of(obj)
    except (TypeError, ValueError):
        notes.append(f"{ref}: replica count is not a number; counted as 1")
        pods = 1
    return pod_amounts(spec_of(obj), notes, str(ref)).times(max(pods, 0))


def compute_deltas(plan: Plan) -> Deltas:
    """Sum requests and limits (times pods) of the workloads the plan creates, changes or deletes."""
    notes: list[str] = []
    before: dict[str, Amounts] = {}
    after: dict[str, Amounts] = {}
    for action in plan.actions:
        if action.type is ActionType.NOOP or (action.ref.group, action.ref.kind) not in WORKLOADS:
            continue
        states = action_states(action)
        if states.note:
            notes.append(f"{action.ref}: {states.note}")
        ns = action.ref.namespace
        before[ns] = before.get(ns, ZERO) + workload_amounts(action.ref, states.before, notes)
        after[ns] = after.get(ns, ZERO) + workload_amounts(action.ref, states.after, notes)
    # A namespace whose touched workloads request and limit nothing has no row (and no table without rows).
    namespaces = tuple(NamespaceDelta(ns, before[ns], after[ns]) for ns in sorted(before) if before[ns] or after[ns])
    total = NamespaceDelta("", sum((n.before for n in namespaces), ZERO), sum((n.after for n in namespaces), ZERO))
    return Deltas(namespaces, total, tuple(notes))


# ---------------------------------------------------------------- quotas


def quota_warnings(deltas: Deltas, quotas: Iterable[KubeObject]) -> list[str]:
    """Warnings for ResourceQuotas that the plan would push over `spec.hard`.

    The projected use is `status.used` + the plan's delta; without `status.used` it is the plan's
    `after` (a lower bound). Only cpu and memory requests/limits are checked; quota scopes are ignored.
    """
    out: list[str] = []
    for quota in quotas:
        meta = quota.get("metadata") or {}
        ns_delta = deltas.namespace(str(meta.get("namespace") or ""))
        if ns_delta is None:
            continue
        hard = (quota.get("spec") or {}).get("hard") or {}
        used = (quota.get("status") or {}).get("used") or {}
        for key in sorted(hard):
            resource = QUOTA_ALIASES.get(key, key)
            if resource not in RESOURCES:
                continue
            change = ns_delta.delta[resource]
            try:
                limit = Fraction(parse_quantity(hard[key]))
                projected = Fraction(parse_quantity(used[key])) + change if key in used else ns_delta.after[resource]
            except ValueError as e:
                out.append(f"ResourceQuota {ns_delta.namespace}/{meta.get('name', '?')}: cannot read {key} ({e})")
                continue
            if change > 0 and projected > limit:
                fmt = format_cpu if resource in CPU else format_memory
                out.append(
                    f"ResourceQuota {ns_delta.namespace}/{meta.get('name', '?')}: {key} would reach "
                    f"{fmt(projected)} (plan adds {fmt(change, signed=True)}), over the hard limit {fmt(limit)}"
                )
    return out


# ---------------------------------------------------------------- formatting


def _decimal(value: Fraction, places: int) -> str:
    scaled = round(value * 10**places)  # round half to even on an exact fraction
    whole, frac = divmod(abs(scaled), 10**places)
    text = str(whole)
    if frac:
        text += "." + str(frac).rjust(places, "0").rstrip("0")
    return ("-" if scaled < 0 else "") + text


def _signed(text: str, value: Fraction, signed: bool) -> str:
    return "+" + text if signed and value > 0 else text


def format_cpu(cores: Fraction, signed: bool = False) -> str:
    """Cores below 1 as millicores (``250m``), from 1 core as a decimal (``1.5``)."""
    cores = Fraction(cores)
    if cores and abs(cores) < 1:
        text = _decimal(cores * 1000, 3) + "m"
    else:
        text = _decimal(cores, 3)
    return _signed(text, cores, signed)


BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def format_memory(size: Fraction, signed: bool = False) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1, up to 3 decimals: ``1.5Gi``, ``512Mi``."""
    size = Fraction(size)
    for suffix, unit in BINARY:
        if abs(size) >= unit:
            return _signed(_decimal(size / unit, 3) + suffix, size, signed)
    return _signed(_decimal(size, 0), size, signed)


def format_amount(resource: str, value: Fraction, signed: bool = False) -> str:
    return (format_cpu if QUOTA_ALIASES.get(resource, resource) in CPU else format_memory)(value, signed)


def deltas_to_dict(deltas: Deltas) -> dict:
    """JSON-ready: quantities as Kubernetes strings, per resource before/after/delta."""

    def entry(n: NamespaceDelta) -> dict:
        return {
            r: {
                "before": format_amount(r, n.before[r]),
                "after": format_amount(r, n.after[r]),
                "delta": format_amount(r, n.delta[r], signed=True),
            }
            for r in RESOURCES
        }

    return {
        "namespaces": {n.namespace: entry(n) for n in deltas.namespaces},
        "total": entry(deltas.total),
        "notes": list(deltas.notes),
    }
