"""The simulated nodes' data: Node objects, kwok's configuration, when a Node counts as Ready."""

from __future__ import annotations

import pytest
import yaml

from kubesync import localnodes
from kubesync.errors import UsageError
from kubesync.localnodes import NodeShape


def test_default_shape_is_three_realistic_nodes():
    shape = NodeShape()
    assert (shape.count, shape.cpu, shape.memory, shape.pods) == (3, "4", "16Gi", 110)
    assert localnodes.node_names(3) == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]


@pytest.mark.parametrize("kwargs, message", [
    ({"count": -1}, "--nodes must be 0 or more, not -1"),
    ({"cpu": "four"}, "--node-cpu 'four' is not a Kubernetes quantity (e.g. 4, 3500m, 16Gi)"),
    ({"memory": "0"}, "--node-memory must be more than 0, not '0'"),
    ({"pods": 0}, "--node-pods must be at least 1, not 0"),
])
def test_bad_shapes_are_refused_naming_the_flag(kwargs, message):
    with pytest.raises(UsageError) as info:
        NodeShape(**kwargs)
    assert str(info.value) == message


def test_node_manifest_is_what_a_kubelet_registers():
    node = localnodes.node_manifest(1, NodeShape(cpu="8", memory="32Gi", pods=50), "v1.37.2")
    assert node["metadata"]["name"] == "kwok-node-1"
    assert node["metadata"]["annotations"][localnodes.MANAGED_ANNOTATION] == localnodes.MANAGED_VALUE
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "kwok-node-1"
    assert node["spec"] == {}  # no taint of ours: workloads need no toleration
    status = node["status"]
    assert status["allocatable"] == {"cpu": "8", "memory": "32Gi", "pods": "50", "ephemeral-storage": "100Gi"}
    assert status["capacity"] == status["allocatable"] and status["capacity"] is not status["allocatable"]
    assert status["nodeInfo"]["kubeletVersion"] == "v1.37.2"
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.0.0.11"}, {"type": "Hostname", "address": "kwok-node-1"}]


def test_kwok_manages_only_the_annotated_nodes_and_renews_their_leases(tmp_path):
    argv = localnodes.kwok_argv("/bin/kwok", tmp_path / "kubeconfig", tmp_path / "kwok.yaml")
    assert f"--config={tmp_path / 'kwok.yaml'}" in argv
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in argv
    assert "--node-lease-duration-seconds=40" in argv


def test_kwok_config_holds_every_stage():
    docs = list(yaml.safe_load_all(localnodes.kwok_config()))
    stages = {d["metadata"]["name"]: d for d in docs}
    assert all(d["kind"] == "Stage" and d["apiVersion"] == "kwok.x-k8s.io/v1alpha1" for d in stages.values())
    assert set(stages) == {
        "node-ready", "node-heartbeat", "pod-running", "pod-succeeded", "pod-deleted",
        "simulate-crash-loop", "simulate-crash-loop-restart", "simulate-crash-exit",
        "simulate-image-pull-failure", "simulate-image-pull-backoff", "simulate-readiness-failure",
    }


def test_normal_pod_stages_leave_every_simulated_failure_alone():
    """A pod asking for a failure must not also match the stage that makes pods Ready (kwok would
    pick one of the two at random)."""
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(localnodes.kwok_config()) if d.get("kind") == "Stage"}
    simulated = set()
    for name, stage in docs.items():
        for expr in stage["spec"]["selector"]["matchExpressions"]:
            if "kubesync.io/simulate" in expr["key"] and expr["operator"] == "In":
                simulated.update(expr["values"])
    assert simulated == {"crash-loop", "oom-killed", "image-pull-failure", "readiness-failure"}
    for name in ("pod-running", "pod-succeeded"):
        excluded = next(e for e in docs[name]["spec"]["selector"]["matchExpressions"] if "kubesync.io/simulate" in e["key"])
        assert excluded["operator"] == "NotIn" and set(excluded["values"]) == simulated


def node(name, ready="True", taints=()):
    return {"metadata": {"name": name}, "spec": {"taints": [{"key": k, "effect": "NoSchedule"} for k in taints]},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def test_a_node_is_ready_once_the_not_ready_taint_is_gone():
    assert localnodes.is_ready(node("a"))
    assert not localnodes.is_ready(node("a", taints=["node.kubernetes.io/not-ready"]))
    assert not localnodes.is_ready(node("a", ready="Unknown"))
    assert not localnodes.is_ready({"metadata": {"name": "a"}})
    nodes = [node("a"), node("b", taints=["node.kubernetes.io/not-ready"])]
    assert localnodes.not_ready(nodes, ["a", "b", "c"]) == ["b", "c"]
