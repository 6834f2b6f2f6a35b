"""Hooks at the command line: `plan` lists each run of a hook (phase, wave, delete policies) in text,
JSON and Markdown; `apply --dry-run` never runs one; `diff` never shows one as an owned creation;
`apply` tells each phase as it goes; an unknown value of a known annotation is an error at load naming
the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import kubesync as kubesync_package

from kubesync.hooks import HOOK_LABEL
from tests.support import cli as support_cli
from tests.support.fixtures import require_simulated_nodes
from tests.support.manifests import configmap, job, write, yaml_text

pytestmark = pytest.mark.integration

HOOKS = yaml_text(
    job("migrate-", generate_name=True, annotations={"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/sync-wave": "-1",
                                                      "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
    job("smoke", annotations={"kubesync.io/hook": "PostSync"}),
    job("chart-test", annotations={"helm.sh/hook": "test"}),
)


def source(tmp_path):
    return write(tmp_path / "app", {"hooks.yaml": HOOKS, "conf.yaml": configmap("conf", {"a": "1"})})


def kubesync(kubeconfig, namespace, *args, expect=0):
    return support_cli.run(*args, "-n", namespace, "--name", f"c-{namespace[-6:]}", kubeconfig=kubeconfig, timeout=180,
                           check_code=expect)


def jobs(cluster, namespace) -> list[str]:
    found = cluster.get(f"/apis/batch/v1/namespaces/{namespace}/jobs")["items"]
    return sorted(j["metadata"]["name"] for j in found)


def test_plan_lists_each_run_of_each_hook(kubeconfig, namespace, tmp_path):
    folder = source(tmp_path)
    out = kubesync(kubeconfig, namespace, "plan", str(folder)).stdout
    assert "Hooks (run around this apply: 2):" in out
    assert f"  PreSync   batch/v1 Job {namespace}/migrate-<…>  wave -1  HookSucceeded  (hooks.yaml:1)" in out
    assert f"  PostSync  batch/v1 Job {namespace}/smoke  wave 0  BeforeHookCreation  (hooks.yaml:" in out
    assert "  never     batch/v1 Job chart-test  (helm.sh/hook: test: a Helm hook kubesync never runs" in out
    doc = json.loads(kubesync(kubeconfig, namespace, "plan", str(folder), "-o", "json").stdout)
    assert [(h["object"], h["phases"], h["wave"]) for h in doc["hooks"]] == [
        (f"batch/v1 Job {namespace}/migrate-<…>", ["PreSync"], -1), (f"batch/v1 Job {namespace}/smoke", ["PostSync"], 0),
        ("batch/v1 Job chart-test", [], 0)]
    assert not any(a["ref"]["kind"] == "Job" for a in doc["actions"])
    md = kubesync(kubeconfig, namespace, "plan", str(folder), "-o", "markdown").stdout
    assert "#### Hooks (run around this apply: 2)" in md and f"`PreSync   batch/v1 Job {namespace}/migrate-<…>" in md


def test_dry_runs_never_run_a_hook_and_diff_shows_none(kubeconfig, cluster, namespace, tmp_path):
    folder = source(tmp_path)
    kubesync(kubeconfig, namespace, "apply", str(folder), "--dry-run")
    kubesync(kubeconfig, namespace, "apply", str(folder), "--dry-run=server", "--yes")
    assert jobs(cluster, namespace) == []
    diff = kubesync(kubeconfig, namespace, "diff", str(folder), expect=0).stdout
    assert "Job" not in diff and "desired/v1.ConfigMap" in diff


def test_apply_tells_each_phase_and_runs_the_hooks(kubeconfig, cluster, namespace, tmp_path):
    require_simulated_nodes()
    folder = source(tmp_path)
    out = kubesync(kubeconfig, namespace, "apply", str(folder), "--yes", "--hook-timeout", "2m").stdout
    lines = out.splitlines()
    assert "» PreSync phase: started (1 hook(s))" in lines, out
    assert "» PostSync phase: succeeded" in lines, out
    assert any(line.startswith(f"+ created   batch/v1 Job {namespace}/migrate-") and line.endswith("(PreSync hook)") for line in lines), out
    assert lines[-1] == "Apply complete: 1 created, 0 patched, 0 scaled, 0 deleted, 2 hook(s) run."
    assert jobs(cluster, namespace) == ["smoke"]  # migrate-… succeeded and was deleted (HookSucceeded)
    smoke = cluster.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/smoke")
    assert smoke["metadata"]["labels"][HOOK_LABEL] == f"c-{namespace[-6:]}"


def test_an_unknown_value_of_a_known_annotation_is_an_error_at_load(kubeconfig, namespace, tmp_path):
    folder = write(tmp_path / "bad", {"cm.yaml": configmap("conf", annotations={"argocd.argoproj.io/sync-options": "Prune=flase"}),
                                      "hook.yaml": job("j", annotations={"argocd.argoproj.io/hook": "PreSnyc"})})
    err = kubesync(kubeconfig, namespace, "plan", str(folder), expect=1).stderr
    assert ("cm.yaml:1: v1 ConfigMap conf: metadata.annotations['argocd.argoproj.io/sync-options'] 'Prune=flase' is not "
            "valid: use Argo CD's sync options (Prune=false, PruneLast=true, Replace=true, ...); unknown: Prune=flase") in err, err
    assert ("hook.yaml:1: batch/v1 Job j: metadata.annotations['argocd.argoproj.io/hook'] 'PreSnyc' is not valid: use a "
            "comma list of PreSync, Sync, PostSync, SyncFail, Skip") in err, err


def test_a_saved_plan_runs_its_hooks(kubeconfig, cluster, namespace, tmp_path):
    require_simulated_nodes()
    folder = write(tmp_path / "app", {"hook.yaml": job("migrate", annotations={"argocd.argoproj.io/hook": "PreSync"}),
                                      "conf.yaml": configmap("conf", {"a": "1"})})
    saved = tmp_path / "plan.json"
    kubesync(kubeconfig, namespace, "plan", str(folder), "--out", str(saved))
    out = support_cli.run("apply", "--plan", str(saved), "--yes", "-o", "json", kubeconfig=kubeconfig, timeout=180,
                          check_code=0).stdout
    doc = json.loads(out)
    jsonschema.validate(doc, json.loads((Path(kubesync_package.__file__).parent / "schema" / "apply.v1.json").read_text()))
    assert doc["succeeded"] and doc["summary"]["created"] == 1 and doc["summary"]["hooks"] == 1
    assert [(o["object"], o["hook"]) for o in doc["objects"]] == [(f"batch/v1 Job {namespace}/migrate", "PreSync"),
                                                                  (f"v1 ConfigMap {namespace}/conf", "")]
    assert jobs(cluster, namespace) == ["migrate"]
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/conf")["data"] == {"a": "1"}
