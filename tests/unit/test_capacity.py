"""Capacity: the plan's requests against the nodes (kubesync/capacity.py), its risk and its rendering."""

from __future__ import annotations

import json
from fractions import Fraction as F

import pytest

from kubesync import capacity
from kubesync.deltas import compute_deltas
from kubesync.model import Action, ActionType, Risk
from kubesync.render import render
from kubesync.render.json import plan_to_dict
from tests.unit.test_deltas import c, create, plan, workload
from tests.unit.test_render_json import validator

GI = 2**30


def node(name, cpu="4", memory="16Gi", ready="True", unschedulable=False, taints=(), labels=None):
    return {"metadata": {"name": name, "labels": labels or {"kubernetes.io/hostname": name}},
            "spec": {"unschedulable": unschedulable, "taints": list(taints)},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": ready}]}}


THREE = [node("kwok-node-0"), node("kwok-node-1"), node("kwok-node-2")]


def assess(p, nodes=THREE):
    return capacity.assess(p, compute_deltas(p), nodes)


def test_a_plan_that_fits_says_the_headroom_left():
    p = plan(create("Deployment", "shop", "web", [c("500m", "256Mi")], replicas=3))
    fit = assess(p)
    assert fit.fits and not fit.unfit and fit.over == ()
    assert (fit.allocatable("requests.cpu"), fit.allocatable("requests.memory")) == (12, 48 * GI)
    assert fit.headroom("requests.cpu") == F(21, 2) and fit.headroom("requests.memory") == 48 * GI - 768 * 2**20
    assert capacity.verdict(fit) == [
        "10.5 CPU and 47.25Gi memory left on the nodes (at most: workloads this plan leaves alone are not counted)"]
    assert capacity.flag_unschedulable(p, fit) is p


def test_a_pod_larger_than_any_node_is_unschedulable():
    big = create("Deployment", "shop", "big", [c("64", "1Gi")])
    small = create("Deployment", "shop", "web", [c("100m", "64Mi")])
    p = plan(big, small)
    fit = assess(p)
    assert not fit.fits and [u.ref.name for u in fit.unfit] == ["big"]
    assert fit.over == ()  # pods that fit nowhere take no room from the others
    assert fit.unfit[0].reason == ("one pod requests 64 CPU and 1Gi memory; the largest node offers 4 CPU and 16Gi "
                                   "(0/3 nodes are available: insufficient cpu)")
    flagged = capacity.flag_unschedulable(p, fit)
    assert [a.risks for a in flagged.actions] == [(Risk.UNSCHEDULABLE,), ()]
    assert capacity.verdict(fit) == [f"apps/v1 Deployment shop/big: {fit.unfit[0].reason}"]


def test_the_total_over_the_nodes_flags_the_workloads_that_grow():
    ref, live = workload("Deployment", "shop", "web", [c("2", "1Gi")], replicas=2)
    _, desired = workload("Deployment", "shop", "web", [c("2", "1Gi")], replicas=8)
    grow = Action(ActionType.SCALE, ref, live=live, desired=desired, replicas=(2, 8))
    steady = create("Deployment", "other", "api", [c("100m", "64Mi")])
    p = plan(grow, steady)
    fit = assess(p)
    assert fit.unfit == () and fit.over == ("requests.cpu",)  # each pod fits a node; together they do not
    assert capacity.verdict(fit) == ["the workloads this plan touches would request 16.1 CPU, more than the 12 the nodes offer"]
    # Which pod stays Pending is the scheduler's choice: every workload that grows is flagged.
    assert [a.risks for a in capacity.flag_unschedulable(p, fit).actions] == [(Risk.UNSCHEDULABLE,), (Risk.UNSCHEDULABLE,)]


def test_shrinking_is_never_flagged_even_on_a_full_cluster():
    ref, live = workload("Deployment", "shop", "web", [c("2")], replicas=10)
    _, desired = workload("Deployment", "shop", "web", [c("2")], replicas=9)
    fit = assess(plan(Action(ActionType.SCALE, ref, live=live, desired=desired, replicas=(10, 9))))
    assert fit.fits and fit.headroom("requests.cpu") == -6


def test_only_ready_uncordoned_nodes_count_and_taints_need_tolerations():
    nodes = [node("a", cpu="2"), node("b", cpu="8", ready="False"), node("c", cpu="8", unschedulable=True),
             node("gpu", cpu="16", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}], labels={"pool": "gpu"})]
    p = plan(create("Deployment", "ml", "train", [c("12")]))
    fit = assess(p, nodes)
    assert [n.name for n in fit.nodes] == ["a", "gpu"] and fit.allocatable("requests.cpu") == 2
    assert [u.ref.name for u in fit.unfit] == ["train"]
    tolerating = plan(create("Deployment", "ml", "train", [c("12")], tolerations=None))
    tolerating.actions[0].desired["spec"]["template"]["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
    assert assess(tolerating, nodes).unfit == ()
    selecting = plan(create("Deployment", "ml", "train", [c("1")]))
    selecting.actions[0].desired["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "cpu"}
    assert assess(selecting, nodes).unfit[0].reason == "no node matches its nodeSelector and tolerations (2 nodes)"


def test_no_usable_node_no_capacity():
    p = plan(create("Deployment", "shop", "web", [c("1")]))
    assert assess(p, []) is None and assess(p, [node("a", ready="Unknown")]) is None
    assert capacity.flag_unschedulable(p, None) is p


def test_rendered_in_text_json_and_markdown():
    p = plan(create("Deployment", "shop", "web", [c("500m", "256Mi")], replicas=3),
             create("Deployment", "edge", "proxy", [c("64", "64Mi")]))
    deltas = compute_deltas(p)
    fit = capacity.assess(p, deltas, THREE)
    p = capacity.flag_unschedulable(p, fit)
    text = render(p, "text", deltas=deltas, capacity=fit)
    block = text.split("Capacity (", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block == [
        "3 nodes: 12 CPU and 48Gi allocatable, the largest node 4 CPU and 16Gi):",
        "  NAMESPACE  CPU REQUESTS      MEMORY REQUESTS",
        "  edge       0 -> 64 (533%)    0 -> 64Mi (0%)",
        "  shop       0 -> 1.5 (12%)    0 -> 768Mi (2%)",
        "  (total)    0 -> 65.5 (546%)  0 -> 832Mi (2%)",
        "  unschedulable: apps/v1 Deployment edge/proxy: one pod requests 64 CPU and 64Mi memory; the largest node offers "
        "4 CPU and 16Gi (0/3 nodes are available: insufficient cpu)",
    ]
    data = json.loads(render(p, "json", deltas=deltas, capacity=fit))
    validator().validate(data)
    assert data["capacity"]["fits"] is False and data["capacity"]["over"] == []
    assert data["capacity"]["allocatable"] == {"requests.cpu": "12", "requests.memory": "48Gi"}
    assert data["capacity"]["headroom"] == {"requests.cpu": "-53.5", "requests.memory": "47.188Gi"}
    assert data["capacity"]["unschedulable"][0]["object"] == "apps/v1 Deployment edge/proxy"
    assert [a["risks"] for a in data["actions"]] == [[], ["unschedulable"]]
    markdown = render(p, "markdown", deltas=deltas, capacity=fit)
    assert "#### Capacity" in markdown and "| **Total** | **0 → 65.5 (546%)** | **0 → 832Mi (2%)** |" in markdown
    assert "- **unschedulable**: apps/v1 Deployment edge/proxy: one pod requests 64 CPU" in markdown
    fits = plan(create("Deployment", "shop", "web", [c("500m", "256Mi")], replicas=3))
    assert "Fits: 10.5 CPU and 47.25Gi memory left on the nodes" in render(fits, "markdown", capacity=assess(fits))
    validator().validate(plan_to_dict(fits, capacity=assess(fits)))


@pytest.mark.parametrize("bad", [{"cpu": "lots", "memory": "1Gi"}, {}])
def test_a_node_without_readable_allocatable_offers_nothing(bad):
    broken = node("x")
    broken["status"]["allocatable"] = bad
    nodes = capacity.read_nodes([broken, node("y")])
    assert [(n.name, n.cpu) for n in nodes] == ([("y", 4)] if bad else [("x", 0), ("y", 4)])
