"""Capacity: does what a plan asks for fit the cluster's nodes?

Pure arithmetic on the plan's resource deltas (kubesync/deltas.py) and one LIST of Nodes, which the
facade passes in. Two questions, both on CPU and memory requests (what the scheduler reserves;
limits do not count):

- In total and per namespace, the requests of the workloads the plan touches, before and after,
  against the allocatable of the nodes open to ordinary pods (Ready, not cordoned, no NoSchedule or
  NoExecute taint). What is left is the plan's headroom. Requests of workloads the plan leaves
  alone are not counted (that would take a LIST of every pod): the headroom is an upper bound.
- Per workload, whether one pod fits on any one node (its requests against that node's allocatable,
  with the pod's nodeSelector and tolerations honoured). A pod that fits no node is never
  scheduled: the scheduler would say "0/3 nodes are available: 3 Insufficient cpu". Such a workload,
  and every workload that grows while the total (less the pods that fit nowhere) goes over what the
  nodes offer, is flagged `unschedulable` (Risk.UNSCHEDULABLE, usable with --fail-on): which of
  those stays Pending is the scheduler's choice.

Affinity, topology spread and the pods count are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from kubesync.deltas import (
    WORKLOADS,
    Deltas,
    NamespaceDelta,
    action_states,
    format_cpu,
    format_memory,
    pod_amounts,
    workload_amounts,
)
from kubesync.quantity import parse_quantity
from kubesync.model import Action, ActionType, ObjectRef, Plan, Risk

BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
RESOURCES = ("requests.cpu", "requests.memory")


@dataclass(frozen=True)
class Node:
    """What one node offers the scheduler."""

    name: str
    cpu: Fraction
    memory: Fraction
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, Any], ...]

    @property
    def open(self) -> bool:
        """Open to a pod without tolerations."""
        return not any(t.get("effect") in BLOCKING_EFFECTS for t in self.taints)


@dataclass(frozen=True)
class Unfit:
    """A workload whose pods fit no node."""

    ref: ObjectRef
    cpu: Fraction
    memory: Fraction
    reason: str
    total: tuple[Fraction, Fraction] = (Fraction(0), Fraction(0))
    """CPU and memory all its pods request: never scheduled, they take no room from the others."""


@dataclass(frozen=True)
class Capacity:
    nodes: tuple[Node, ...]
    """Ready, uncordoned nodes; `open_nodes` is the part ordinary pods may use."""
    namespaces: tuple[NamespaceDelta, ...]
    total: NamespaceDelta
    unfit: tuple[Unfit, ...] = ()
    over: tuple[str, ...] = ()
    """Resources ("requests.cpu", "requests.memory") whose total after the plan exceeds the allocatable."""

    @property
    def open_nodes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.open)

    def allocatable(self, resource: str) -> Fraction:
        return sum((_offer(n, resource) for n in self.open_nodes), Fraction(0))

    def largest(self, resource: str) -> Fraction:
        return max((_offer(n, resource) for n in self.open_nodes), default=Fraction(0))

    def headroom(self, resource: str) -> Fraction:
        return self.allocatable(resource) - self.total.after[resource]

    @property
    def fits(self) -> bool:
        return not self.unfit and not self.over


def _offer(node: Node, resource: str) -> Fraction:
    return node.cpu if resource == "requests.cpu" else node.memory


def read_nodes(items: Iterable[Mapping[str, Any]]) -> tuple[Node, ...]:
    """Nodes the scheduler may use (Ready, not cordoned), with their allocatable, from a LIST."""
    out = []
    for item in items:
        meta, spec, status = item.get("metadata") or {}, item.get("spec") or {}, item.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if not ready or spec.get("unschedulable"):
            continue
        allocatable = status.get("allocatable") or {}
        try:
            cpu, memory = (parse_quantity(allocatable.get(r, "0")) for r in ("cpu", "memory"))
        except ValueError:
            continue  # a node reporting garbage offers nothing we can count on
        out.append(Node(str(meta.get("name") or "?"), cpu, memory, meta.get("labels") or {}, tuple(spec.get("taints") or ())))
    return tuple(sorted(out, key=lambda n: n.name))


def _tolerates(tolerations: list[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _can_host(node: Node, pod_spec: Mapping[str, Any]) -> bool:
    """The node's labels satisfy the pod's nodeSelector and the pod tolerates its blocking taints."""
    selector = pod_spec.get("nodeSelector") or {}
    if any(node.labels.get(k) != v for k, v in selector.items()):
        return False
    tolerations = list(pod_spec.get("tolerations") or [])
    return all(_tolerates(tolerations, t) for t in node.taints if t.get("effect") in BLOCKING_EFFECTS)


def _unfit(action: Action, nodes: tuple[Node, ...]) -> Unfit | None:
    """Unfit when one pod of the workload, after the plan, fits no node that may host it."""
    after = action_states(action).after
    entry = WORKLOADS.get((action.ref.group, action.ref.kind))
    if entry is None or not isinstance(after, dict):
        return None
    spec_of, pods_of, _ = entry
    pod_spec = spec_of(after)
    try:
        if not isinstance(pod_spec, dict) or pods_of(after) <= 0:
            return None
    except (TypeError, ValueError):
        return None
    need = pod_amounts(pod_spec)
    cpu, memory = need.requests_cpu, need.requests_memory
    hosts = [n for n in nodes if _can_host(n, pod_spec)]
    if any(n.cpu >= cpu and n.memory >= memory for n in hosts):
        return None
    if not hosts:
        reason = f"no node matches its nodeSelector and tolerations ({len(nodes)} nodes)"
    else:
        short = [r for r, want, have in (("cpu", cpu, max(n.cpu for n in hosts)), ("memory", memory, max(n.memory for n in hosts))) if want > have]
        best = max(hosts, key=lambda n: (n.cpu, n.memory))
        reason = (f"one pod requests {format_cpu(cpu)} CPU and {format_memory(memory)} memory; the largest node "
                  f"offers {format_cpu(best.cpu)} CPU and {format_memory(best.memory)} "
                  f"(0/{len(nodes)} nodes are available: insufficient {' and '.join(short) or 'cpu and memory together'})")
    whole = workload_amounts(action.ref, after, [])
    return Unfit(action.ref, cpu, memory, reason, (whole.requests_cpu, whole.requests_memory))


def assess(plan: Plan, deltas: Deltas, node_items: Iterable[Mapping[str, Any]]) -> Capacity | None:
    """The plan's requests against the nodes; None when the cluster shows no usable node (nothing to compare with)."""
    nodes = read_nodes(node_items)
    if not nodes:
        return None
    unfit = tuple(u for a in plan.changes if a.type is not ActionType.DELETE and (u := _unfit(a, nodes)) is not None)
    partial = Capacity(nodes, deltas.namespaces, deltas.total, unfit)
    placed = {r: deltas.total.after[r] - sum((u.total[i] for u in unfit), Fraction(0)) for i, r in enumerate(RESOURCES)}
    over = tuple(r for r in RESOURCES if placed[r] > partial.allocatable(r) and deltas.total.delta[r] > 0)
    return replace(partial, over=over)


def flag_unschedulable(plan: Plan, capacity: Capacity | None) -> Plan:
    """The plan with Risk.UNSCHEDULABLE on every workload that fits no node, and, when the total goes
    over what the nodes offer, on every workload whose requests grow in that resource."""
    if capacity is None or capacity.fits:
        return plan
    flagged = {u.ref for u in capacity.unfit}
    for action in plan.changes:
        if capacity.over and (action.ref.group, action.ref.kind) in WORKLOADS and _grows(action, capacity.over):
            flagged.add(action.ref)
    actions = tuple(
        replace(a, risks=a.risks + (Risk.UNSCHEDULABLE,)) if a.ref in flagged and Risk.UNSCHEDULABLE not in a.risks else a
        for a in plan.actions
    )
    return replace(plan, actions=actions)


def _grows(action: Action, resources: tuple[str, ...]) -> bool:
    states, notes = action_states(action), []
    before = workload_amounts(action.ref, states.before, notes)
    after = workload_amounts(action.ref, states.after, notes)
    return any(after[r] > before[r] for r in resources)


def capacity_summary(capacity: Capacity) -> str:
    """`12 CPU and 48Gi allocatable, the largest node 4 CPU and 16Gi`: the nodes' side, for people."""
    cpu, mem = RESOURCES
    return (f"{format_cpu(capacity.allocatable(cpu))} CPU and {format_memory(capacity.allocatable(mem))} allocatable, "
            f"the largest node {format_cpu(capacity.largest(cpu))} CPU and {format_memory(capacity.largest(mem))}")


def share_cell(capacity: Capacity, n: NamespaceDelta, resource: str, arrow: str = "->") -> str:
    """`100m -> 2.1 (18%)`: before and after, and the after's share of the allocatable."""
    fmt = format_cpu if resource == "requests.cpu" else format_memory
    total = capacity.allocatable(resource)
    share = f" ({round(100 * n.after[resource] / total)}%)" if total else ""
    return f"{fmt(n.before[resource])} {arrow} {fmt(n.after[resource])}{share}"


def verdict(capacity: Capacity) -> list[str]:
    """When it fits, one line with the headroom; else one line per workload or resource that does not."""
    cpu, mem = RESOURCES
    if capacity.fits:
        return [f"{format_cpu(capacity.headroom(cpu))} CPU and {format_memory(capacity.headroom(mem))} memory left on the nodes "
                "(at most: workloads this plan leaves alone are not counted)"]
    out = [f"{u.ref}: {u.reason}" for u in capacity.unfit]
    for r in capacity.over:
        fmt, word = (format_cpu, "CPU") if r == cpu else (format_memory, "memory")
        out.append(f"the workloads this plan touches would request {fmt(capacity.total.after[r])} {word}, "
                   f"more than the {fmt(capacity.allocatable(r))} the nodes offer")
    return out


def capacity_to_dict(capacity: Capacity) -> dict:
    """JSON-ready: quantities as Kubernetes strings (schema plan.v1.json, `capacity`)."""
    fmt = lambda r, v: format_cpu(v) if r == "requests.cpu" else format_memory(v)  # noqa: E731

    def entry(n: NamespaceDelta) -> dict:
        return {r: {"before": fmt(r, n.before[r]), "after": fmt(r, n.after[r])} for r in RESOURCES}

    return {
        "nodes": len(capacity.nodes),
        "allocatable": {r: fmt(r, capacity.allocatable(r)) for r in RESOURCES},
        "largest_node": {r: fmt(r, capacity.largest(r)) for r in RESOURCES},
        "namespaces": {n.namespace: entry(n) for n in capacity.namespaces},
        "total": entry(capacity.total),
        "headroom": {r: fmt(r, capacity.headroom(r)) for r in RESOURCES},
        "fits": capacity.fits,
        "unschedulable": [{"object": str(u.ref), "reason": u.reason} for u in capacity.unfit],
        "over": list(capacity.over),
    }
