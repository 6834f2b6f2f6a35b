"""The command line as CI scripts and reviewers use it: help, exit codes, output formats, saved
plans with stale-plan refusal, offline compare of two git refs, status."""

from __future__ import annotations

import json
from pathlib import Path

import git
import jsonschema
import pytest

from tests.support import cli as support_cli
from tests.support.git import init_repo
from tests.support.manifests import configmap, deployment, secret, write, yaml_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "kubesync" / "schema" / "plan.v1.json").read_text())

APP = yaml_text(
    configmap("settings", {"greeting": "hello"}),
    deployment(replicas=2, container={"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}),
)


def kubesync(*args, kubeconfig=None, input=None, check_code=None):
    return support_cli.run(*args, kubeconfig=kubeconfig, no_color=False, input=input, check_code=check_code)


@pytest.fixture
def app(tmp_path):
    folder = write(tmp_path / "app", {"app.yaml": APP})
    return folder


def sync_args(folder, namespace):
    return [str(folder), "-n", namespace, "--name", f"cli-{namespace[-6:]}"]


def test_help_lists_every_subcommand_and_exit_codes():
    out = kubesync("--help", check_code=0).stdout
    for cmd in ("plan", "diff", "apply", "status", "compare", "daemon", "cluster"):
        assert cmd in out
        kubesync(cmd, "--help", check_code=0)
    plan_help = kubesync("plan", "--help").stdout
    assert "2  changes present" in plan_help and "--kubeconfig" in plan_help and "--context" in plan_help


def test_missing_source_is_a_usage_error():
    proc = kubesync("plan", check_code=1)
    assert proc.stderr.strip() == "error: no source: give a PATH, --repo URL [--ref REF] [--path SUBDIR], or --chart"


def test_plan_exit_codes_and_formats(kubeconfig, namespace, app):
    args = sync_args(app, namespace)
    proc = kubesync("plan", *args, "--exit-code", kubeconfig=kubeconfig, check_code=2)
    assert proc.stdout.startswith("Plan: 2 to create, 0 to update, 0 to scale, 0 to delete")

    doc = json.loads(kubesync("plan", *args, "-o", "json", kubeconfig=kubeconfig, check_code=0).stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["summary"]["create"] == 2
    assert [a["type"] for a in doc["actions"]] == ["create", "create"]

    md = kubesync("plan", *args, "-o", "markdown", kubeconfig=kubeconfig, check_code=0).stdout
    assert "| create |" in md.lower() or "create" in md.lower()
    assert "<details>" in md

    kubesync("apply", *args, "--yes", kubeconfig=kubeconfig, check_code=0)
    proc = kubesync("plan", *args, "--exit-code", kubeconfig=kubeconfig, check_code=0)
    assert "No changes." in proc.stdout


def test_fail_on_turns_risks_into_exit_1(kubeconfig, namespace, app):
    args = sync_args(app, namespace)
    kubesync("apply", *args, "--yes", kubeconfig=kubeconfig, check_code=0)
    (app / "app.yaml").write_text(APP.replace("nginx:1.25", "nginx:1.26"))
    proc = kubesync("plan", *args, "--fail-on", "image", kubeconfig=kubeconfig, check_code=1)
    assert "error: the plan has risky changes named by --fail-on: image" in proc.stderr
    kubesync("plan", *args, "--fail-on", "delete", "--exit-code", kubeconfig=kubeconfig, check_code=2)
    proc = kubesync("plan", *args, "--fail-on", "bogus", kubeconfig=kubeconfig, check_code=1)
    assert "--fail-on: unknown risk 'bogus'" in proc.stderr


def test_deletions_need_yes_when_not_on_a_terminal(kubeconfig, namespace, app):
    args = sync_args(app, namespace)
    kubesync("apply", *args, "--yes", kubeconfig=kubeconfig, check_code=0)
    (app / "app.yaml").write_text(APP.split("---\n")[1])
    proc = kubesync("apply", *args, "--prune", kubeconfig=kubeconfig, check_code=1)
    assert "the plan deletes 1 object(s); pass --yes to confirm when not on a terminal" in proc.stderr
    kubesync("apply", *args, "--prune", "--yes", kubeconfig=kubeconfig, check_code=0)


def test_saved_plan_applies_exactly_and_refuses_when_stale(kubeconfig, namespace, app, tmp_path, cluster):
    args = sync_args(app, namespace)
    kubesync("apply", *args, "--yes", kubeconfig=kubeconfig, check_code=0)
    (app / "app.yaml").write_text(APP.replace("greeting: hello", "greeting: bonjour"))
    plan_file = tmp_path / "plan.json"
    kubesync("plan", *args, "--out", str(plan_file), kubeconfig=kubeconfig, check_code=0)
    assert oct(plan_file.stat().st_mode & 0o777) == "0o600"
    saved = json.loads(plan_file.read_text())
    jsonschema.validate(saved, SCHEMA)

    # Out-of-band change to the object the plan updates: the plan is stale and nothing is applied.
    path = f"/api/v1/namespaces/{namespace}/configmaps/settings"
    cluster.request("PATCH", path, body={"metadata": {"annotations": {"touched": "yes"}}},
                    content_type="application/merge-patch+json")
    proc = kubesync("apply", "--plan", str(plan_file), "--yes", kubeconfig=kubeconfig, check_code=1)
    assert "the saved plan is stale; nothing was applied" in proc.stderr
    assert f"v1 ConfigMap {namespace}/settings: changed since the plan (resourceVersion" in proc.stderr
    assert cluster.get(path)["data"] == {"greeting": "hello"}

    # A fresh plan applies exactly its actions.
    kubesync("plan", *args, "--out", str(plan_file), kubeconfig=kubeconfig, check_code=0)
    proc = kubesync("apply", "--plan", str(plan_file), "--yes", kubeconfig=kubeconfig, check_code=0)
    assert "Apply complete: 0 created, 1 patched, 0 scaled, 0 deleted." in proc.stdout
    assert cluster.get(path)["data"] == {"greeting": "bonjour"}

    # The source moving to another revision also makes a saved plan stale.
    (app / "app.yaml").write_text(APP.replace("greeting: hello", "greeting: hola"))
    kubesync("plan", *args, "--out", str(plan_file), kubeconfig=kubeconfig, check_code=0)
    (app / "app.yaml").write_text(APP.replace("greeting: hello", "greeting: ciao"))
    proc = kubesync("apply", "--plan", str(plan_file), "--yes", kubeconfig=kubeconfig, check_code=1)
    assert "revision moved" in proc.stderr
    assert cluster.get(path)["data"] == {"greeting": "bonjour"}
    kubesync("apply", "--plan", str(plan_file), "--yes", "--replan", kubeconfig=kubeconfig, check_code=0)
    assert cluster.get(path)["data"] == {"greeting": "ciao"}


def test_status_shows_out_of_sync_after_an_out_of_band_change(kubeconfig, namespace, app, cluster):
    args = sync_args(app, namespace)
    kubesync("apply", *args, "--yes", kubeconfig=kubeconfig, check_code=0)
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/settings", body={"data": {"greeting": "drift"}},
                    content_type="application/merge-patch+json")
    doc = json.loads(kubesync("status", *args, "-o", "json", kubeconfig=kubeconfig, check_code=0).stdout)
    schema = Path(__file__).resolve().parents[2] / "kubesync" / "schema" / "status.v1.json"
    jsonschema.validate(doc, json.loads(schema.read_text()))  # the daemon's /api/v1/syncs/<name> shares it
    states = {row["object"]: row["sync"] for row in doc["objects"]}
    assert states == {f"v1 ConfigMap {namespace}/settings": "OutOfSync", f"apps/v1 Deployment {namespace}/web": "Synced"}
    table = kubesync("status", *args, kubeconfig=kubeconfig, check_code=0).stdout
    assert table.splitlines()[0].split()[:3] == ["OBJECT", "SYNC", "HEALTH"]


TOKEN = secret("token", string_data={"token": "do-not-print-me"})


def make_repo(path: Path) -> git.Repo:
    repo = init_repo(path, {"deploy/app.yaml": APP}, message="base")
    repo.create_head("feature").checkout()
    (path / "deploy" / "app.yaml").write_text(APP.replace("replicas: 2", "replicas: 0").split("---\n")[1]
                                              + "---\n" + yaml_text(TOKEN))
    repo.index.add(["deploy/app.yaml"])
    repo.index.commit("feature")
    repo.heads.main.checkout()
    return repo


def test_compare_two_git_refs_without_a_cluster(tmp_path):
    make_repo(tmp_path / "repo")
    base = ["compare", "--repo", str(tmp_path / "repo"), "--path", "deploy", "--base", "main"]
    proc = kubesync(*base, "--head", "feature", "--exit-code", check_code=2)
    assert "Plan: 1 to create, 0 to update, 1 to scale, 1 to delete" in proc.stdout
    assert "do-not-print-me" not in proc.stdout and "ZG8tbm90LXByaW50LW1l" not in proc.stdout
    doc = json.loads(kubesync(*base, "--head", "feature", "-o", "json", check_code=0).stdout)
    jsonschema.validate(doc, SCHEMA)
    kinds = {(a["type"], a["ref"]["kind"]): a["risks"] for a in doc["actions"] if a["type"] != "noop"}
    assert kinds == {("create", "Secret"): [], ("scale", "Deployment"): ["scale-to-zero"], ("delete", "ConfigMap"): ["delete"]}
    md = kubesync(*base, "--head", "feature", "-o", "markdown", check_code=0).stdout
    assert "do-not-print-me" not in md
    kubesync(*base, "--head", "main", "--exit-code", check_code=0)
    kubesync(*base, "--head", "feature", "--fail-on", "scale-to-zero", check_code=1)


def test_plan_shows_resource_deltas_and_quota_it_would_exceed(kubeconfig, namespace, app, cluster):
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/resourcequotas", body={
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "small"},
        "spec": {"hard": {"requests.cpu": "300m", "requests.memory": "1Gi"}}})
    args = sync_args(app, namespace)
    doc = json.loads(kubesync("plan", *args, "-o", "json", kubeconfig=kubeconfig, check_code=0).stdout)
    total = doc["deltas"]["total"]
    assert total["requests.cpu"] == {"before": "0", "after": "500m", "delta": "+500m"}
    assert total["requests.memory"]["after"] == "128Mi"
    assert any("ResourceQuota" in w and "small" in w and "requests.cpu" in w for w in doc["warnings"]), doc["warnings"]
    text = kubesync("plan", *args, "--no-color", kubeconfig=kubeconfig, check_code=0).stdout
    assert "\033[" not in text
    assert "ResourceQuota" in text


def test_compare_a_repository_with_itself_has_no_changes(tmp_path):
    """Secrets with stringData and data, quantities, a Deployment without the defaults the server adds."""
    repo = git.Repo.init(tmp_path / "self")
    (tmp_path / "self" / "deploy").mkdir()
    (tmp_path / "self" / "deploy" / "app.yaml").write_text(
        yaml_text(TOKEN, secret("raw", data={"key": "secret"}), configmap("cfg", {"greeting": "hello"}))
        + "---\n" + APP.split("---\n", 1)[1].replace("cpu: 250m", "cpu: '0.25'"))
    repo.index.add(["deploy/app.yaml"])
    sha = repo.index.commit("one").hexsha
    args = ["compare", "--repo", str(tmp_path / "self"), "--path", "deploy", "--exit-code"]
    proc = kubesync(*args, "--base", "HEAD", "--head", "HEAD", check_code=0)
    assert proc.stdout.startswith("No changes."), proc.stdout
    (tmp_path / "self" / "deploy" / "app.yaml").write_text(
        (tmp_path / "self" / "deploy" / "app.yaml").read_text().replace("greeting: hello", "greeting: hi"))
    repo.index.add(["deploy/app.yaml"])
    head = repo.index.commit("two").hexsha
    proc = kubesync(*args, "--base", sha, "--head", head, "--color=never", check_code=2)
    assert f"--- base/v1.ConfigMap.default.cfg\t{sha[:7]}\n+++ head/v1.ConfigMap.default.cfg\t{head[:7]}\n" in proc.stdout
    assert "Plan: 0 to create, 1 to update, 0 to scale, 0 to delete (3 unchanged)." in proc.stdout
