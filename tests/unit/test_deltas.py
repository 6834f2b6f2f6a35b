"""Resource deltas: CPU and memory a plan adds or frees, per namespace, and quota warnings."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from kubesync.deltas import (
    Amounts,
    action_states,
    compute_deltas,
    deltas_to_dict,
    format_cpu,
    format_memory,
    pod_amounts,
    quota_warnings,
)
from kubesync.model import Action, ActionType, ObjectRef, Plan

GI, MI = 2**30, 2**20


def c(cpu=None, mem=None, lcpu=None, lmem=None, **extra) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v is not None}
    limits = {k: v for k, v in (("cpu", lcpu), ("memory", lmem)) if v is not None}
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": extra.pop("name", "c"), "image": "x", "resources": resources, **extra}


def workload(kind: str, ns: str, name: str, containers: list[dict], replicas=None, init=None, **spec_extra) -> tuple[ObjectRef, dict]:
    group = {"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps", "Job": "batch", "CronJob": "batch"}.get(kind, "")
    pod = {"containers": containers, **({"initContainers": init} if init else {})}
    if kind == "Pod":
        spec = pod
    elif kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    else:
        spec = {"template": {"spec": pod}, **spec_extra}
        if replicas is not None:
            spec["replicas"] = replicas
    obj = {"apiVersion": f"{group}/v1" if group else "v1", "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}
    return ObjectRef(group, "v1", kind, ns, name), obj


def create(kind, ns, name, containers, **kw) -> Action:
    ref, obj = workload(kind, ns, name, containers, **kw)
    return Action(ActionType.CREATE, ref, desired=obj)


def plan(*actions: Action) -> Plan:
    return Plan("s", "src", "rev", tuple(actions))


def test_quantities_in_cores_and_binary_units():
    d = compute_deltas(plan(create("Deployment", "a", "w", [c("1.5", "1Gi"), c("250m", "512Mi")], replicas=2)))
    ns = d.namespace("a")
    assert ns.before == Amounts()
    assert ns.after.requests_cpu == F(7, 2)  # (1.5 + 0.25) * 2
    assert ns.after.requests_memory == 3 * GI  # (1Gi + 512Mi) * 2
    assert format_cpu(ns.after.requests_cpu) == "3.5"
    assert format_memory(ns.after.requests_memory) == "3Gi"


def test_effective_request_is_max_of_init_and_sum_of_containers():
    spec = {"containers": [c("250m", "256Mi"), c("100m", "64Mi")], "initContainers": [c("1", "128Mi"), c("500m", "1Gi")]}
    a = pod_amounts(spec)
    assert a.requests_cpu == 1  # max(1, 0.5) > 0.35
    assert a.requests_memory == GI  # max(128Mi, 1Gi) > 320Mi


def test_sidecar_init_containers_add_to_both_sides():
    spec = {"containers": [c("200m")], "initContainers": [c("100m", restartPolicy="Always", name="proxy"), c("250m", name="setup")]}
    # the sidecar runs during "setup" (100m + 250m) and alongside the app (100m + 200m)
    assert pod_amounts(spec).requests_cpu == F(35, 100)


def test_overhead_and_request_defaulted_from_limit():
    spec = {"containers": [c(lcpu="2", lmem="1Gi")], "overhead": {"cpu": "100m", "memory": "64Mi"}}
    a = pod_amounts(spec)
    assert a.requests_cpu == F(21, 10) and a.limits_cpu == F(21, 10)
    assert a.requests_memory == GI + 64 * MI


def test_update_compares_live_with_patched_live():
    ref, live = workload("Deployment", "shop", "web", [c("250m", "256Mi")], replicas=3)
    patch = ({"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "500m"},)
    d = compute_deltas(plan(Action(ActionType.UPDATE, ref, patch=patch, live=live)))
    ns = d.namespace("shop")
    assert (ns.before.requests_cpu, ns.after.requests_cpu) == (F(3, 4), F(3, 2))
    assert ns.delta.requests_cpu == F(3, 4) and ns.delta.requests_memory == 0


def test_scale_and_delete_free_resources_per_namespace_and_total():
    ref, live = workload("StatefulSet", "db", "pg", [c("1", "2Gi")], replicas=3)
    scale = Action(ActionType.SCALE, ref, patch=({"op": "replace", "path": "/spec/replicas", "value": 1},), live=live, replicas=(3, 1))
    ref2, live2 = workload("Pod", "shop", "debug", [c("100m", "128Mi")])
    delete = Action(ActionType.DELETE, ref2, live=live2)
    add = create("Deployment", "shop", "api", [c("300m", "128Mi")], replicas=1)
    d = compute_deltas(plan(scale, delete, add))
    assert [n.namespace for n in d.namespaces] == ["db", "shop"]
    assert d.namespace("db").delta.requests_cpu == -2
    assert d.namespace("db").delta.requests_memory == -4 * GI
    assert d.namespace("shop").delta.requests_cpu == F(2, 10)
    assert d.total.delta.requests_cpu == F(-18, 10)
    assert d.total.after.requests_memory == 2 * GI + 128 * MI


def test_scale_without_patch_uses_replicas():
    ref, live = workload("Deployment", "a", "w", [c("1")], replicas=4)
    d = compute_deltas(plan(Action(ActionType.SCALE, ref, live=live, replicas=(4, 0))))
    assert d.namespace("a").after.requests_cpu == 0


def test_job_parallelism_daemonset_cronjob_and_notes():
    job = create("Job", "b", "j", [c("100m")], parallelism=5, completions=3)
    ds = create("DaemonSet", "b", "agent", [c("50m")])
    cron = create("CronJob", "b", "nightly", [c("1")])
    default_replicas = create("Deployment", "b", "d", [c("10m")])
    d = compute_deltas(plan(job, ds, cron, default_replicas))
    assert d.namespace("b").after.requests_cpu == F(3, 10) + F(5, 100) + 1 + F(1, 100)
    assert any("DaemonSet b/agent counted as 1 pod" in n for n in d.notes)
    assert any("CronJob b/nightly" in n for n in d.notes)


def test_noops_and_other_kinds_are_not_counted():
    ref, live = workload("Deployment", "a", "w", [c("1")], replicas=1)
    cm = Action(ActionType.CREATE, ObjectRef("", "v1", "ConfigMap", "a", "x"), desired={"apiVersion": "v1", "kind": "ConfigMap"})
    d = compute_deltas(plan(Action(ActionType.NOOP, ref, live=live, desired=live), cm))
    assert d.empty and d.total.delta == Amounts()


def test_bad_quantity_is_noted_not_raised():
    d = compute_deltas(plan(create("Pod", "a", "p", [c("lots", "1Gi")])))
    assert d.namespace("a").after.requests_memory == GI
    assert any("'lots' is not a quantity" in n for n in d.notes)


def test_patch_that_does_not_apply_falls_back_to_desired():
    ref, live = workload("Deployment", "a", "w", [c("1")], replicas=1)
    _, desired = workload("Deployment", "a", "w", [c("2")], replicas=1)
    bad = ({"op": "replace", "path": "/spec/nope/x", "value": 1},)
    states = action_states(Action(ActionType.UPDATE, ref, patch=bad, live=live, desired=desired))
    assert states.after == desired and "does not apply" in states.note


@pytest.mark.parametrize(
    "value,text",
    [(F(3, 2), "1.5"), (F(1, 4), "250m"), (F(1), "1"), (F(0), "0"), (F(1234, 1000), "1.234"), (F(-1, 2), "-500m"), (F(1, 2000), "0.5m")],
)
def test_format_cpu(value, text):
    assert format_cpu(value) == text


@pytest.mark.parametrize(
    "value,text",
    [(GI + GI // 2, "1.5Gi"), (512 * MI, "512Mi"), (0, "0"), (1000, "1000"), (2048, "2Ki"), (-GI, "-1Gi"), (10**9, "953.674Mi")],
)
def test_format_memory(value, text):
    assert format_memory(F(value)) == text


def test_signed_formatting():
    assert format_cpu(F(1, 4), signed=True) == "+250m"
    assert format_memory(F(-512 * MI), signed=True) == "-512Mi"
    assert format_cpu(F(0), signed=True) == "0"


def quota(ns: str, hard: dict, used: dict | None = None) -> dict:
    q = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute", "namespace": ns}, "spec": {"hard": hard}}
    if used is not None:
        q["status"] = {"hard": hard, "used": used}
    return q


def test_quota_warning_when_used_plus_delta_exceeds_hard():
    d = compute_deltas(plan(create("Deployment", "shop", "api", [c("500m", "1Gi", "1", "2Gi")], replicas=2)))
    quotas = [quota("shop", {"requests.cpu": "2", "limits.memory": "5Gi", "pods": "10"}, {"requests.cpu": "1500m", "limits.memory": "1Gi", "pods": "3"})]
    warnings = quota_warnings(d, quotas)
    assert len(warnings) == 1
    assert "shop/compute" in warnings[0] and "requests.cpu would reach 2.5" in warnings[0] and "+1" in warnings[0] and "hard limit 2" in warnings[0]


def test_quota_aliases_without_status_and_other_namespaces():
    d = compute_deltas(plan(create("Pod", "shop", "p", [c("3", "512Mi")])))
    assert quota_warnings(d, [quota("shop", {"cpu": "2", "memory": "1Gi"})]) == [
        "ResourceQuota shop/compute: cpu would reach 3 (plan adds +3), over the hard limit 2"
    ]
    assert quota_warnings(d, [quota("other", {"cpu": "1"})]) == []


def test_quota_not_warned_when_plan_frees_resources():
    ref, live = workload("Pod", "shop", "p", [c("3")])
    d = compute_deltas(plan(Action(ActionType.DELETE, ref, live=live)))
    assert quota_warnings(d, [quota("shop", {"requests.cpu": "1"}, {"requests.cpu": "5"})]) == []


def test_deltas_to_dict_uses_kubernetes_quantities():
    d = compute_deltas(plan(create("Deployment", "a", "w", [c("250m", "512Mi")], replicas=2)))
    out = deltas_to_dict(d)
    assert out["namespaces"]["a"]["requests.cpu"] == {"before": "0", "after": "500m", "delta": "+500m"}
    assert out["total"]["requests.memory"] == {"before": "0", "after": "1Gi", "delta": "+1Gi"}


def _scale_plan(requests: dict | None):
    from kubesync.model import Action, ActionType, ObjectRef, Plan

    def dep(n):
        c = {"name": "web", "image": "x", **({"resources": {"requests": requests}} if requests else {})}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"replicas": n, "template": {"spec": {"containers": [c]}}}}

    ref = ObjectRef("apps", "v1", "Deployment", "shop", "web")
    patch = ({"op": "replace", "path": "/spec/replicas", "value": 2},)
    return Plan("s", "src", "r", (Action(ActionType.SCALE, ref, 5, patch=patch, live=dep(5), desired=dep(2), replicas=(5, 2)),))


def test_scale_changes_requests_by_replicas_times_requests():
    from kubesync.render.text import render_plan

    plan = _scale_plan({"cpu": "100m", "memory": "64Mi"})
    deltas = compute_deltas(plan)
    out = render_plan(plan, deltas=deltas)
    assert "Resource changes" in out
    assert "shop       500m -> 200m (-300m)" in out and "320Mi -> 128Mi (-192Mi)" in out


def test_no_resource_header_without_rows():
    from kubesync.render.markdown import render_markdown
    from kubesync.render.text import render_plan

    plan = _scale_plan(None)  # a scale of a workload that requests nothing
    deltas = compute_deltas(plan)
    assert deltas.empty
    assert "Resource changes" not in render_plan(plan, deltas=deltas)
    assert "Resource changes" not in render_markdown(plan, deltas)
