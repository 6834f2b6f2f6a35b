"""Sync hooks against the real control plane, whose kwok nodes run the hooks' pods (and fail them on
demand with kubesync.io/simulate): the order of the phases read from the server, a failing PreSync hook
stopping the sync and running SyncFail, the delete policies, generateName hooks once per run, a hook
that never finishes timing out, hooks never pruned, and ingress-nginx's own hook Jobs."""

from __future__ import annotations

import time

import pytest

from kubesync import errors
from kubesync.apply import ApplySettings
from kubesync.hooks import FINALIZER, HOOK_LABEL, record_name
from kubesync.model import CONFIGMAPS, ActionType
from kubesync.sync import raise_for_failures
from tests.support.events import DEPLOYMENTS, JOBS, ServerEvents
from tests.support.fixtures import require_simulated_nodes
from tests.support.harness import SyncHarness
from tests.support.manifests import configmap, deployment, job, write

pytestmark = pytest.mark.integration



def hook(name: str, phase: str, *, policy: str | None = None, wave: int | None = None, **job_options) -> dict:
    annotations = {"argocd.argoproj.io/hook": phase}
    if policy:
        annotations["argocd.argoproj.io/hook-delete-policy"] = policy
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    return job(name, annotations=annotations, **job_options)


def sync(client, tmp_path, namespace, files: dict, **options) -> SyncHarness:
    require_simulated_nodes()
    return SyncHarness(client, write(tmp_path / "src", files), f"h-{namespace[-6:]}", namespace, **options)


def run(h: SyncHarness, timeout: float = 120, **settings):
    """Plan and apply as `kubesync apply` does: (planned, report, the steps told along the way)."""
    told: list = []
    planned = h.plan()
    report = h.pipeline.apply(planned, ApplySettings(hook_timeout=timeout, **settings), progress=told.append)
    return planned, report, told


def condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c.get("type") == kind and c.get("status") == "True"), None)


def hook_jobs(client, namespace: str, sync_name: str) -> list[dict]:
    return client.list(JOBS, namespace, selector=f"{HOOK_LABEL}={sync_name}").items


def test_a_presync_job_completes_before_the_deployment_is_created(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {"hook.yaml": hook("migrate", "PreSync"), "web.yaml": deployment("web")})
    events = ServerEvents(client, namespace, JOBS, DEPLOYMENTS)
    planned, report, told = run(h)
    raise_for_failures(report)
    done = events.first("Job", "migrate", when=lambda o: condition(o, "Complete"))
    created = events.first("Deployment", "web", type="ADDED")
    assert done is not None and created is not None, events.events
    assert done.revision < created.revision  # etcd's order: the Job was complete before the Deployment existed
    migrate = client.get(JOBS, namespace, "migrate")
    web = client.get(DEPLOYMENTS, namespace, "web")
    assert migrate["status"]["completionTime"] <= web["metadata"]["creationTimestamp"]
    assert FINALIZER not in (migrate["metadata"].get("finalizers") or [])  # released once its outcome was read
    assert [str(s) for s in told if not hasattr(s, "result")][:1] == ["PreSync phase: started (1 hook(s))"]
    # Never owned: not in the inventory, not labelled as the sync's object, no action of the plan.
    assert migrate["metadata"]["labels"][HOOK_LABEL] == h.base.name
    assert "kubesync.io/sync" not in migrate["metadata"]["labels"]
    assert not any(a.ref.kind == "Job" for a in planned.plan.actions)
    record = client.get(CONFIGMAPS, namespace, record_name(h.base.name))
    assert record["data"]["result"] == "succeeded" and '"object": "batch/v1 Job ' + namespace + '/migrate"' in record["data"]["hooks"]


def test_a_failing_presync_job_stops_the_sync_and_runs_syncfail(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {
        "hooks.yaml": [hook("migrate", "PreSync", simulate="crash-loop"), hook("notify", "SyncFail")],
        "app.yaml": [configmap("conf", {"a": "1"}), deployment("web")],
    })
    planned, report, told = run(h)
    with pytest.raises(errors.ApplyFailed) as failed:
        raise_for_failures(report)
    text = str(failed.value)
    assert f"batch/v1 Job {namespace}/migrate: PreSync hook failed: job failed: BackoffLimitExceeded" in text, text
    assert "container run exited with code 1 (Error)" in text, text  # the pod's last container says why
    assert "2 action(s) not started" in text or "not started" in text, text
    assert client.get(CONFIGMAPS, namespace, "conf") is None and client.get(DEPLOYMENTS, namespace, "web") is None
    notify = client.get(JOBS, namespace, "notify")
    assert notify is not None and condition(notify, "Complete"), notify
    steps = [str(s) for s in told if not hasattr(s, "result")]
    assert "PreSync phase: failed" in steps and "SyncFail phase: succeeded" in steps, steps
    assert client.get(CONFIGMAPS, namespace, record_name(h.base.name))["data"]["result"] == "failed"


def test_a_postsync_job_runs_only_once_the_deployment_is_available(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {"web.yaml": deployment("web", replicas=2), "smoke.yaml": hook("smoke", "PostSync")})
    events = ServerEvents(client, namespace, JOBS, DEPLOYMENTS)
    _, report, _ = run(h)
    raise_for_failures(report)
    available = events.first("Deployment", "web", when=lambda o: condition(o, "Available")
                             and (o.get("status") or {}).get("availableReplicas") == 2)
    smoke = events.first("Job", "smoke", type="ADDED")
    assert available is not None and smoke is not None, events.events
    assert available.revision < smoke.revision
    web = client.get(DEPLOYMENTS, namespace, "web")
    assert condition(web, "Available")["lastTransitionTime"] <= smoke.obj["metadata"]["creationTimestamp"]


def test_delete_policies_hook_succeeded_is_gone_and_before_hook_creation_is_replaced(client, namespace, tmp_path):
    files = {"hooks.yaml": [hook("once", "PreSync", policy="HookSucceeded"), hook("again", "PreSync")],
             "conf.yaml": configmap("conf", {"v": "1"})}
    h = sync(client, tmp_path, namespace, files)
    _, report, told = run(h)
    raise_for_failures(report)
    assert client.get(JOBS, namespace, "once") is None
    assert f"PreSync hook batch/v1 Job {namespace}/once: deleted: HookSucceeded" in [str(s) for s in told]
    first = client.get(JOBS, namespace, "again")
    assert condition(first, "Complete") and not first["metadata"].get("deletionTimestamp")
    write(h.folder, {"conf.yaml": configmap("conf", {"v": "2"})})
    _, report, _ = run(h)
    raise_for_failures(report)
    second = client.get(JOBS, namespace, "again")
    assert second["metadata"]["uid"] != first["metadata"]["uid"] and condition(second, "Complete")


def test_generate_name_hooks_run_once_per_run_and_not_without_changes(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {"hook.yaml": hook("migrate-", "PreSync", generate_name=True),
                                           "conf.yaml": configmap("conf", {"v": "1"})})
    planned, report, _ = run(h)
    raise_for_failures(report)
    (first,) = hook_jobs(client, namespace, h.base.name)
    revision = planned.plan.revision.split(":")[-1][:7]
    assert first["metadata"]["name"].startswith(f"migrate-{revision}-presync-".lower()), first["metadata"]["name"]
    planned, report, _ = run(h)  # nothing changed: no hook
    assert not planned.plan.has_changes and len(hook_jobs(client, namespace, h.base.name)) == 1
    write(h.folder, {"conf.yaml": configmap("conf", {"v": "2"})})
    planned, report, _ = run(h)
    raise_for_failures(report)
    names = sorted(j["metadata"]["name"] for j in hook_jobs(client, namespace, h.base.name))
    assert len(names) == 2 and first["metadata"]["name"] in names


def test_force_hooks_runs_them_without_changes(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {"hook.yaml": hook("check", "PostSync", policy="HookSucceeded"),
                                           "conf.yaml": configmap("conf")})
    raise_for_failures(run(h)[1])
    planned, report, told = run(h, force_hooks=True)
    raise_for_failures(report)
    assert not planned.plan.has_changes
    assert f"PostSync hook batch/v1 Job {namespace}/check: deleted: HookSucceeded" in [str(s) for s in told]


def test_a_hook_that_never_finishes_times_out_with_its_pods_words(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {"hook.yaml": hook("stuck", "PreSync", simulate="image-pull-failure"),
                                           "conf.yaml": configmap("conf")})
    started = time.monotonic()
    _, report, told = run(h, timeout=6)
    took = time.monotonic() - started
    with pytest.raises(errors.ApplyFailed) as failed:
        raise_for_failures(report)
    text = str(failed.value)
    assert f"batch/v1 Job {namespace}/stuck: PreSync hook failed: did not finish within 6s (--hook-timeout)" in text, text
    assert "ErrImagePull" in text or "ImagePullBackOff" in text, text
    assert "PreSync phase: timed out" in [str(s) for s in told]
    assert client.get(CONFIGMAPS, namespace, "conf") is None
    assert took < 60, took  # the phase gave up at its deadline (plus the pods' words and the cleanup)


def test_hooks_are_never_pruned_nor_owned(client, namespace, tmp_path):
    h = sync(client, tmp_path, namespace, {"hook.yaml": hook("migrate", "PreSync"), "conf.yaml": configmap("conf", {"v": "1"})},
             prune=True)
    raise_for_failures(run(h)[1])
    (h.folder / "hook.yaml").unlink()
    write(h.folder, {"conf.yaml": configmap("conf", {"v": "2"})})
    planned, report, _ = run(h)
    raise_for_failures(report)
    assert not any(a.type is ActionType.DELETE for a in planned.plan.actions)
    assert not any("migrate" in w for w in planned.plan.warnings), planned.plan.warnings
    assert client.get(JOBS, namespace, "migrate") is not None  # left alone
    assert not any(e.ref.kind == "Job" for e in h.plan().inventory)
