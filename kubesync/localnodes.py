"""The local control plane's simulated nodes: what kwok is told and which Node objects are created.

No kubelet runs on the embedded control plane. kwok ("Kubernetes WithOut Kubelet", SIG Scheduling)
takes its place for the Nodes it manages: it heartbeats them (status and Lease) and moves the pods
the scheduler binds to them through a kubelet's lifecycle, by the Stage documents in
`kubesync/stages/` (a plain `kwok` has no stages of its own). This module is data only: the Node
objects, kwok's configuration file and command line, and when a Node counts as Ready; localcluster
sends the requests and starts the processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from kubesync.quantity import parse_quantity
from kubesync.errors import UsageError

# kwok manages the Nodes carrying this annotation (kwokctl's convention), and only those.
MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
MANAGED_VALUE = "fake"
STAGE_FILES = ("nodes.yaml", "pods.yaml", "simulate.yaml")
LEASE_SECONDS = 40  # a kubelet's default node lease duration
NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


@dataclass(frozen=True)
class NodeShape:
    """How many simulated nodes, and what each offers the scheduler (allocatable = capacity)."""

    count: int = 3
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110

    def __post_init__(self) -> None:
        if self.count < 0:
            raise UsageError(f"--nodes must be 0 or more, not {self.count}")
        if self.pods < 1:
            raise UsageError(f"--node-pods must be at least 1, not {self.pods}")
        for flag, value in (("--node-cpu", self.cpu), ("--node-memory", self.memory)):
            try:
                amount = parse_quantity(value)
            except ValueError:
                raise UsageError(f"{flag} {value!r} is not a Kubernetes quantity (e.g. 4, 3500m, 16Gi)") from None
            if amount <= 0:
                raise UsageError(f"{flag} must be more than 0, not {value!r}")


def node_names(count: int) -> list[str]:
    return [f"kwok-node-{i}" for i in range(count)]


def node_manifest(index: int, shape: NodeShape, kubelet_version: str) -> dict[str, Any]:
    """The `index`th Node as a kubelet registers it: labels, addresses, capacity and allocatable, no
    conditions yet (10.0.0.10 is the first node's InternalIP, the pods' hostIP).

    The API server keeps the status of a created Node, and kwok's node-ready stage keeps what is
    there (nodeInfo's kubeletVersion, so `kubectl get nodes` shows the control plane's version).
    """
    name = node_names(index + 1)[index]
    resources_ = {"cpu": shape.cpu, "memory": shape.memory, "pods": str(shape.pods), "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {MANAGED_ANNOTATION: MANAGED_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "capacity": resources_,
            "allocatable": dict(resources_),
            "addresses": [{"type": "InternalIP", "address": f"10.0.0.{10 + index}"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": kubelet_version, "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def kwok_config() -> str:
    """kwok's --config: every Stage document kubesync ships. Its options go on the command line: a
    KwokConfiguration document replaces kwok's defaults as a whole (parallelism 0 is refused)."""
    stages = resources.files("kubesync") / "stages"
    parts = [(stages / name).read_text(encoding="utf-8") for name in STAGE_FILES]
    return "\n---\n".join(part.strip("\n") + "\n" for part in parts)


def kwok_argv(binary: str, kubeconfig: Path, config: Path) -> list[str]:
    """kwok as a kubelet stand-in for the annotated Nodes, renewing their Leases as a kubelet does.
    Without --server-address or --node-port it serves nothing, so two clusters on one machine never
    compete for a port."""
    return [
        binary,
        f"--kubeconfig={kubeconfig}",
        f"--config={config}",
        f"--manage-nodes-with-annotation-selector={MANAGED_ANNOTATION}={MANAGED_VALUE}",
        f"--node-lease-duration-seconds={LEASE_SECONDS}",
        "--cidr=10.244.0.0/16",
    ]


def is_ready(node: Mapping[str, Any]) -> bool:
    """Ready as the scheduler sees it: the Ready condition is True and no not-ready taint is left
    (the node lifecycle controller removes it shortly after the condition turns True)."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    taints = (node.get("spec") or {}).get("taints") or []
    return ready and not any(t.get("key") in NOT_READY_TAINTS for t in taints)


def not_ready(nodes: list[Mapping[str, Any]], names: list[str]) -> list[str]:
    """The names among `names` not yet Ready (missing ones included), for the wait and its error."""
    ready = {n.get("metadata", {}).get("name") for n in nodes if is_ready(n)}
    return [name for name in names if name not in ready]
