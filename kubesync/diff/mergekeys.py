"""Which lists are merged item by item, and by which key: the one table the diff and the fieldset share.

A list whose path matches no rule here is atomic: compared as a whole (desired item i contained in live
item i) and replaced as a whole. The keys follow the strategic-merge-patch and server-side-apply
list keys of the Kubernetes API (`patchMergeKey` / `listMapKeys`); a key field the server defaults
(`protocol` on ports) has its default filled in before items are matched, so a desired port without
a protocol is the live `TCP` port.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["MergeRule", "MERGE_KEYS", "UNORDERED", "merge_rule", "unordered"]


@dataclass(frozen=True)
class MergeRule:
    """Items of the lists at `pattern` are identified by the values of `keys`.

    `pattern` is dotted field names (list indices left out). Plain patterns match the end of a path
    (`containers.ports` matches `spec.template.spec.containers.ports`); a leading `^` anchors at the
    object's root. `kinds`, when given, restricts the rule to those kinds.
    """

    pattern: str
    keys: tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    ordered: bool = False
    """The items' order means something (env: `$(VAR)` refers to variables defined before it), so the
    desired order is enforced, as kubectl does with `$setElementOrder`."""

    @property
    def marker(self) -> str:
        """The fieldset key under which the items are recorded: `@name`, `@containerPort,protocol`, `@=` (a set)."""
        return "@" + ",".join(self.keys) if self.keys else "@="

    def matches(self, fields: tuple[str, ...], kind: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.pattern.startswith("^"):
            return fields == tuple(self.pattern[1:].split("."))
        parts = tuple(self.pattern.split("."))
        return fields[-len(parts):] == parts

    def token(self, item: Any) -> str | None:
        """The item's identity as a string, or None when it is not a map carrying every key.

        A rule without keys describes a set of scalars (finalizers): the item is its own key.
        """
        if not self.keys:
            if isinstance(item, str):
                return item
            return None if isinstance(item, (dict, list)) or item is None else json.dumps(item)
        if not isinstance(item, dict):
            return None
        values = []
        for key in self.keys:
            value = item.get(key, self.defaults.get(key))
            if value is None or isinstance(value, (dict, list)):
                return None
            values.append(value)
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
        return json.dumps(values if len(values) > 1 else values[0], separators=(",", ":"))

    def label(self, item: Any) -> str:
        """How a person reads the item's identity in a path: `[name=web]`, `[port=80,protocol=TCP]`."""
        if not self.keys:
            return f"[{json.dumps(item)}]"
        item = item if isinstance(item, dict) else {}
        return "[" + ",".join(f"{k}={item.get(k, self.defaults.get(k))}" for k in self.keys) + "]"


_TCP = {"protocol": "TCP"}

MERGE_KEYS: tuple[MergeRule, ...] = (
    # pod templates wherever they are embedded (Deployment, StatefulSet, Job, CronJob, Pod, CRDs)
    MergeRule("containers", ("name",)),
    MergeRule("initContainers", ("name",)),
    MergeRule("ephemeralContainers", ("name",)),
    MergeRule("containers.ports", ("containerPort", "protocol"), _TCP),
    MergeRule("initContainers.ports", ("containerPort", "protocol"), _TCP),
    MergeRule("ephemeralContainers.ports", ("containerPort", "protocol"), _TCP),
    MergeRule("env", ("name",), ordered=True),
    MergeRule("volumeMounts", ("mountPath",)),
    MergeRule("volumeDevices", ("devicePath",)),
    MergeRule("volumes", ("name",)),
    MergeRule("imagePullSecrets", ("name",)),
    MergeRule("hostAliases", ("ip",)),
    MergeRule("readinessGates", ("conditionType",)),
    MergeRule("topologySpreadConstraints", ("topologyKey", "whenUnsatisfiable")),
    # Service ports: the server-side-apply keys; a port without protocol is the TCP one
    MergeRule("^spec.ports", ("port", "protocol"), _TCP, kinds=("Service",)),
    # a set: other controllers add finalizers (kubernetes.io/pvc-protection); only ours are removed
    MergeRule("^metadata.finalizers", ()),
    MergeRule("^webhooks", ("name",), kinds=("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")),
    MergeRule("^spec.versions", ("name",), kinds=("CustomResourceDefinition",)),
)
"""Atomic on purpose (no rule): tolerations, envFrom, args, command, RBAC rules, ingress rules and tls,
Endpoints subsets, volumeClaimTemplates, ownerReferences, NetworkPolicy rules, HPA metrics."""


# Atomic lists whose order the server does not keep: equal when their items match one to one in any
# order; still replaced whole. HPAs are stored as autoscaling/v1, where a CPU-utilization metric
# becomes `targetCPUUtilizationPercentage`: read back as v2beta1/v2beta2 it comes last.
UNORDERED: tuple[MergeRule, ...] = (
    MergeRule("^spec.metrics", (), kinds=("HorizontalPodAutoscaler",)),
)


@functools.lru_cache(maxsize=4096)
def unordered(fields: tuple[str, ...], kind: str) -> bool:
    """Is the atomic list at `fields` compared without regard to order (UNORDERED)?"""
    return any(rule.matches(fields, kind) for rule in UNORDERED)


@functools.lru_cache(maxsize=4096)
def merge_rule(fields: tuple[str, ...], kind: str) -> MergeRule | None:
    """The rule for the list at `fields` (the path's map keys, indices left out), or None: atomic.

    Cached: the same few list paths recur in every object, and matching walks the whole table."""
    if not fields:
        return None
    for rule in MERGE_KEYS:
        if rule.matches(fields, kind):
            return rule
    return None
