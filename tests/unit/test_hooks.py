"""Pure parts of sync hooks: the run order (phase, wave, kind, name; namespaces and CRDs first), the
name of a generateName hook, the object created, how a hook is judged, and the plan's order with Argo
CD's sync waves (prunes reversed, PruneLast after them)."""

from __future__ import annotations

import threading

from kubesync.apply import ApplyReport, ApplySettings
from kubesync.health import DEGRADED, HEALTHY, PROGRESSING, Health
from kubesync.health.hooks import FAILED, RUNNING, SUCCEEDED, hook_state, last_words, pod_selector
from kubesync.hooks import FINALIZER, HOOK_LABEL, describe, hook_object, hook_of, ordered, plan_title, run_name, runs, steps
from kubesync.model import Action, ActionType, Hook, Manifest, ObjectRef, Origin, Plan
from kubesync.ordering import dependencies_first, order, wave_label, waves, webhooks_last
from kubesync.sync.hookrun import HookRunner, duration
from kubesync.sync.hooks import healthy, hooks_to_run


def obj(kind: str, name: str, annotations: dict | None = None, *, api: str = "v1", namespace: str = "shop", **extra) -> dict:
    meta = {"name": name, "namespace": namespace, "annotations": annotations or {}} if name else \
        {"generateName": "gen-", "namespace": namespace, "annotations": annotations or {}}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def hook(kind: str, name: str, phase: str = "PreSync", *, api: str = "v1", wave: int | None = None, **extra) -> Hook:
    annotations = {"argocd.argoproj.io/hook": phase, **({"argocd.argoproj.io/sync-wave": str(wave)} if wave is not None else {})}
    o = obj(kind, name, annotations, api=api, **extra)
    from kubesync.hooks import manifest_ref

    return hook_of(Manifest(manifest_ref(o), o, Origin("hooks.yaml", 1)))


def test_a_phase_runs_wave_by_wave_in_helms_kind_order_then_by_name():
    hooks = [hook("Job", "b", api="batch/v1"), hook("Job", "a", api="batch/v1"), hook("ServiceAccount", "sa"),
             hook("Job", "early", api="batch/v1", wave=-1), hook("Pod", "post", phase="PostSync"),
             hook("Widget", "w", api="example.com/v1")]
    assert [[h.ref.name for h in step] for step in steps(hooks, "PreSync")] == [["early"], ["sa", "a", "b", "w"]]
    assert [(p, h.ref.name) for p, h in runs(hooks)] == [("PreSync", "early"), ("PreSync", "sa"), ("PreSync", "a"),
                                                         ("PreSync", "b"), ("PreSync", "w"), ("PostSync", "post")]
    assert [h.ref.name for h in ordered(hooks)] == ["early", "sa", "a", "b", "w", "post"]


def test_a_namespace_or_crd_hook_moves_up_to_the_first_hook_that_needs_it():
    ns = hook("Namespace", "jobs", wave=3, namespace="")
    crd = hook("CustomResourceDefinition", "widgets.example.com", api="apiextensions.k8s.io/v1", wave=5, namespace="",
               spec={"group": "example.com", "names": {"kind": "Widget"}})
    job = hook("Job", "migrate", api="batch/v1", wave=-2, namespace="jobs")
    widget = hook("Widget", "w", api="example.com/v1", wave=1)
    assert [[h.ref.name for h in s] for s in steps([widget, crd, job, ns], "PreSync")] == [
        ["jobs", "migrate"], ["widgets.example.com", "w"]]


def test_a_generate_name_hook_is_named_per_run_and_created_as_this_syncs_hook():
    gen = hook("Job", "", api="batch/v1")
    assert str(gen.ref) == "batch/v1 Job shop/gen-<…>" and gen.generate_name == "gen-"
    assert run_name(gen, "sha256:ABCDEF0123", "PreSync", 1700000000) == "gen-abcdef0-presync-1700000000"
    assert run_name(gen, "9f8e7d6c5b4a", "PostSync", 1) == "gen-9f8e7d6-postsync-1"
    named = hook("Job", "migrate", api="batch/v1")
    assert run_name(named, "abc", "PreSync", 1) == "migrate"
    made = hook_object(gen, "gen-x", "shop-sync")
    assert made["metadata"]["name"] == "gen-x" and "generateName" not in made["metadata"]
    assert made["metadata"]["labels"] == {HOOK_LABEL: "shop-sync"} and made["metadata"]["finalizers"] == [FINALIZER]
    assert gen.obj["metadata"].get("name") is None  # the source's object is left as it was


def test_plan_lines_and_title():
    hooks = (hook("Job", "migrate", api="batch/v1", wave=-1),)
    assert describe("PreSync", hooks[0]) == "PreSync   batch/v1 Job shop/migrate  wave -1  BeforeHookCreation  (hooks.yaml:1)"
    change = Action(ActionType.CREATE, ObjectRef("", "v1", "ConfigMap", "shop", "c"))
    assert plan_title(Plan("s", "src", "r", (change,), hooks=hooks)) == "Hooks (run around this apply: 1)"
    assert plan_title(Plan("s", "src", "r", (), hooks=hooks)).startswith("Hooks (not run: nothing to apply; `apply --force-hooks`")
    assert hooks_to_run(Plan("s", "src", "r", (), hooks=hooks), ApplySettings()) == ()
    assert hooks_to_run(Plan("s", "src", "r", (), hooks=hooks), ApplySettings(force_hooks=True)) == hooks
    assert hooks_to_run(Plan("s", "src", "r", (change,), hooks=hooks), ApplySettings(dry_run=True)) == ()


def job(conditions=(), *, deleting=False, kind="Job") -> dict:
    meta = {"name": "migrate", "namespace": "shop", **({"deletionTimestamp": "2024-01-01T00:00:00Z"} if deleting else {})}
    return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta,
            "spec": {"selector": {"matchLabels": {"controller-uid": "u1"}}},
            "status": {"conditions": [{"type": t, "status": "True", **extra} for t, extra in conditions]}}


def test_a_hook_is_judged_by_its_health_even_while_terminating():
    assert hook_state(job([("Complete", {})], deleting=True))[0] == SUCCEEDED  # ttlSecondsAfterFinished: 0
    state, why = hook_state(job([("Failed", {"reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"})]))
    assert state == FAILED and why == "job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    assert hook_state(job())[0] == RUNNING
    assert hook_state(None) == (FAILED, "deleted before it finished")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}}
    assert hook_state(role)[0] == SUCCEEDED  # no health rules: done once it exists
    assert pod_selector(job()) == "controller-uid=u1"


def test_the_newest_pods_last_container_explains_it():
    def pod(name, created, state):
        return {"metadata": {"name": name, "creationTimestamp": created},
                "spec": {"restartPolicy": "Never"},
                "status": {"phase": "Failed" if "terminated" in state else "Pending",
                           "containerStatuses": [{"name": "run", "state": state}]}}

    old = pod("migrate-a", "2024-01-01T00:00:00Z", {"terminated": {"exitCode": 1, "reason": "Error"}})
    new = pod("migrate-b", "2024-01-01T00:01:00Z", {"terminated": {"exitCode": 3, "reason": "Error", "message": "no table"}})
    assert last_words([old, new]) == "pod migrate-b: container run exited with code 3 (Error): no table"
    stuck = pod("p", "2024-01-01T00:00:00Z", {"waiting": {"reason": "ErrImagePull", "message": "not found"}})
    assert last_words([stuck]) == "pod p: container run: ErrImagePull: not found"
    assert last_words([]) == ""


def test_postsync_waits_for_health_and_a_degraded_object_fails_it():
    runner = HookRunner(None, None, "s", "r", ApplySettings(hook_timeout=60), lambda _: None, threading.Event(), "ns", interval=0)
    web = ObjectRef("apps", "v1", "Deployment", "shop", "web")
    answers = iter([{web: Health(PROGRESSING, "1 of 2")}, {web: Health(HEALTHY)}])
    assert healthy(runner, [web], float("inf"), ApplyReport(), check=lambda: next(answers))
    report = ApplyReport()
    assert not healthy(runner, [web], float("inf"), report, check=lambda: {web: Health(DEGRADED, "crash")})
    (failure,) = report.failures
    assert failure.phase == "PostSync" and failure.message == \
        "apps/v1 Deployment shop/web: is Degraded: Degraded: crash; PostSync hooks not run"


def test_durations_read_as_written():
    assert [duration(s) for s in (600, 90, 5, 3600)] == ["10m", "1m30s", "5s", "60m"]


def action(name, kind="ConfigMap", type=ActionType.CREATE, wave=3, sync_wave=0, annotations=None, **extra):
    ref = ObjectRef("", "v1", kind, "shop" if kind != "Namespace" else "", name)
    body = {"metadata": {"annotations": annotations or {}}}
    live = body if type is ActionType.DELETE else None
    return Action(type, ref, wave, desired=None if live else body, live=live, sync_wave=sync_wave, **extra)


def test_sync_waves_order_before_the_kinds_and_prunes_reverse_them():
    plan = Plan("s", "src", "r", order([
        action("late", sync_wave=1), action("plain"), action("web", kind="Pod", wave=5, sync_wave=-1),
        action("d0", type=ActionType.DELETE), action("d2", type=ActionType.DELETE, sync_wave=2),
        action("last", type=ActionType.DELETE, sync_wave=5, annotations={"argocd.argoproj.io/sync-options": "PruneLast=true"}),
    ]))
    assert [a.ref.name for a in plan.actions] == ["web", "plain", "late", "d2", "d0", "last"]
    assert [[a.ref.name for a in step] for step in waves(plan)] == [["web"], ["plain"], ["late"], ["d2"], ["d0"], ["last"]]
    assert [wave_label(a) for a in plan.actions[:3]] == ["-1:5", "3", "1:3"]


def test_a_namespace_moves_to_the_first_wave_of_its_objects_and_webhooks_stay_last():
    ns = action("shop", kind="Namespace", wave=0, sync_wave=2)
    early = action("early", sync_wave=-1)
    moved = {a.ref.name: a.sync_wave for a in dependencies_first([ns, early])}
    assert moved == {"shop": -1, "early": -1}
    hook_config = Action(ActionType.CREATE, ObjectRef("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "", "v"), 6)
    last = webhooks_last([hook_config, action("late", sync_wave=4)])
    assert (last[0].sync_wave, last[0].wave) == (4, 7)
