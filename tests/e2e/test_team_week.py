"""A team's first week (issue 24), through the CLI on the real control plane: checkouts of one repository
are one source, every deletion shows in review, CI gets JSON results, a misspelled kind is named, and
`kubesync list` answers "which syncs exist here?"."""

from __future__ import annotations

import json
from pathlib import Path

import git
import jsonschema
import pytest

from tests.support.cli import run
from tests.support.git import init_repo

SCHEMAS = Path(__file__).resolve().parents[2] / "kubesync" / "schema"
ORIGIN = "https://git.example.com/team/infra.git"


def configmap(name: str, data: str = "v") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: {data}}}\n"


def kubesync(*args, kubeconfig, code=None):
    return run(*map(str, args), kubeconfig=kubeconfig, check_code=code)


def checkout(path: Path, origin: str, files: dict[str, str]) -> Path:
    """A clone as a CI runner or a colleague has it: a work tree whose origin is the team's repository."""
    repo = init_repo(path, files)
    repo.create_remote("origin", origin)
    repo.close()
    return path


def configmaps(cluster, namespace: str) -> set[str]:
    items = cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"]
    return {c["metadata"]["name"] for c in items} - {"kube-root-ca.crt"}


def test_two_checkouts_of_one_repository_are_one_source_and_another_repository_is_refused(
        kubeconfig, cluster, namespace, tmp_path):
    files = {"manifests/a.yaml": configmap("a"), "manifests/b.yaml": configmap("b")}
    laptop = checkout(tmp_path / "laptop" / "infra", ORIGIN, files)
    runner = checkout(tmp_path / "ci" / "builds" / "x1" / "infra", "git@git.example.com:team/infra.git", files)
    name = ("--name", f"team-{namespace[-6:]}", "-n", namespace)
    kubesync("apply", laptop / "manifests", *name, "--prune", "--yes", kubeconfig=kubeconfig, code=0)

    (runner / "manifests" / "b.yaml").unlink()  # the pull request removes b
    planned = kubesync("plan", runner / "manifests", *name, "--prune", "--exit-code", kubeconfig=kubeconfig, code=2)
    assert "0 to create, 0 to update, 0 to scale, 1 to delete" in planned.stdout
    kubesync("apply", runner / "manifests", *name, "--prune", "--yes", kubeconfig=kubeconfig, code=0)
    assert configmaps(cluster, namespace) == {"a"}

    other = checkout(tmp_path / "other" / "infra", "https://git.example.com/other-team/infra.git",
                     {"manifests/a.yaml": configmap("a")})
    refused = kubesync("plan", other / "manifests", *name, "--prune", kubeconfig=kubeconfig, code=1)
    assert ("was applied from git:git.example.com/team/infra//manifests, not from this source "
            "(git:git.example.com/other-team/infra//manifests)") in refused.stderr
    assert "pass --adopt-source" in refused.stderr
    # --force lifts the max-prune guard only; --adopt-source is the explicit move, and it does nothing else
    kubesync("apply", other / "manifests", *name, "--prune", "--yes", "--force", kubeconfig=kubeconfig, code=1)
    kubesync("apply", other / "manifests", *name, "--prune", "--yes", "--adopt-source", kubeconfig=kubeconfig, code=0)
    assert configmaps(cluster, namespace) == {"a"}


def test_a_plan_without_prune_shows_what_a_prune_would_delete_in_every_format(kubeconfig, cluster, namespace, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "config.yaml").write_text(configmap("config"))
    (src / "rbac.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader}\n"
        "rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n")
    name = ("--name", f"review-{namespace[-6:]}", "-n", namespace)
    kubesync("apply", src, *name, "--yes", kubeconfig=kubeconfig, code=0)
    (src / "rbac.yaml").unlink()

    text = kubesync("plan", src, *name, "--exit-code", kubeconfig=kubeconfig, code=0).stdout
    assert text.splitlines()[0] == "No changes. 1 object in sync. 1 would be pruned by a sync with prune on."
    assert f"  rbac.authorization.k8s.io/v1 Role {namespace}/reader  risks: delete" in text

    doc = json.loads(kubesync("plan", src, *name, "-o", "json", kubeconfig=kubeconfig, code=0).stdout)
    jsonschema.validate(doc, json.loads((SCHEMAS / "plan.v1.json").read_text()))
    assert [a["object"] for a in doc["would_prune"]] == [f"rbac.authorization.k8s.io/v1 Role {namespace}/reader"]
    assert doc["summary"]["would_prune"] == 1 and doc["summary"]["delete"] == 0
    assert doc["target"]["server"].startswith("https://127.0.0.1:") and doc["target"]["cluster_id"]

    md = kubesync("plan", src, *name, "-o", "markdown", kubeconfig=kubeconfig, code=0).stdout
    assert md.startswith(f"<!-- kubesync:plan:review-{namespace[-6:]} -->\n")
    assert f"- rbac.authorization.k8s.io/v1 Role {namespace}/reader" in md
    assert "cluster https://127.0.0.1:" in md
    gate = kubesync("plan", src, *name, "--fail-on", "delete", kubeconfig=kubeconfig, code=1)
    assert "risky changes named by --fail-on: delete" in gate.stderr
    assert cluster.get_or_none(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/reader") is not None


def test_plan_out_says_how_to_apply_and_apply_reports_json_by_its_schema(kubeconfig, namespace, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "a.yaml").write_text(configmap("a"))
    name = ("--name", f"json-{namespace[-6:]}", "-n", namespace)
    out = tmp_path / "plan.json"
    saved = kubesync("plan", src, *name, "--out", out, kubeconfig=kubeconfig, code=0)
    assert f"apply exactly it with: kubesync apply --plan {out}" in saved.stderr
    assert f"To apply it: kubesync apply --plan {out}" in saved.stdout

    applied = kubesync("apply", src, *name, "--yes", "-o", "json", kubeconfig=kubeconfig, code=0)
    doc = json.loads(applied.stdout)  # the only thing on stdout
    jsonschema.validate(doc, json.loads((SCHEMAS / "apply.v1.json").read_text()))
    assert doc["succeeded"] and doc["applied"] and doc["summary"]["created"] == 1
    assert [(o["object"], o["action"], o["result"], o["error"]) for o in doc["objects"]] == [
        (f"v1 ConfigMap {namespace}/a", "create", "created", "")]


def test_a_misspelled_kind_is_named_with_the_closest_served_kind(kubeconfig, namespace, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "web.yaml").write_text("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\nspec: {}\n")
    refused = kubesync("plan", src, "-n", namespace, kubeconfig=kubeconfig, code=1)
    assert "web.yaml:1: apps/v1 Deploymnet" in refused.stderr
    assert "apps/v1 has no kind 'Deploymnet' (a typo of the kind?); did you mean 'Deployment'?" in refused.stderr
    assert "built-in Kubernetes API" not in refused.stderr


def test_list_shows_every_sync_and_status_shows_health_when_the_source_is_broken(kubeconfig, namespace, tmp_path):
    names = []
    for n in ("one", "two"):
        src = tmp_path / n
        src.mkdir()
        (src / "a.yaml").write_text(configmap(f"{n}-a"))
        names.append(f"{n}-{namespace[-6:]}")
        kubesync("apply", src, "--name", names[-1], "-n", namespace, "--yes", kubeconfig=kubeconfig, code=0)
    rows = {r["sync"]: r for r in json.loads(kubesync("list", "-o", "json", kubeconfig=kubeconfig, code=0).stdout)}
    for name in names:
        assert rows[name]["objects"] == 1 and rows[name]["health"] == {"Healthy": 1}
        assert rows[name]["revision"].startswith("sha256:") and rows[name]["appliedAt"].endswith("Z")
        assert rows[name]["source"].endswith(name.split("-")[0])
    table = kubesync("list", kubeconfig=kubeconfig, code=0).stdout
    assert table.splitlines()[0].split() == ["NAME", "INVENTORY", "SOURCE", "REVISION", "APPLIED", "OBJECTS", "HEALTH"]
    assert any(line.startswith(names[0]) and line.endswith("1 Healthy") for line in table.splitlines())
    assert kubesync("status", kubeconfig=kubeconfig, code=0).stdout == table  # status without a name: the same list

    (tmp_path / "one" / "bad.yaml").write_text("kind: ConfigMap\nmetadata: {name: x}\n")  # no apiVersion
    status = kubesync("status", tmp_path / "one", "--name", names[0], "-n", namespace, kubeconfig=kubeconfig, code=1)
    assert "bad.yaml:1" in status.stderr and "apiVersion" in status.stderr
    assert f"v1 ConfigMap {namespace}/one-a" in status.stdout and "Healthy" in status.stdout


def test_compare_with_a_config_reports_every_sync_with_its_own_prune_policy(tmp_path):
    repo = init_repo(tmp_path / "infra", {
        "kubesync.yaml": "syncs:\n"
                         "  - {name: shop, source: {path: ./apps/shop}, namespace: shop, prune: true}\n"
                         "  - {name: blog, source: {path: ./apps/blog}, namespace: blog}\n",
        "apps/shop/a.yaml": configmap("a"), "apps/shop/b.yaml": configmap("b"),
        "apps/blog/post.yaml": configmap("post"), "apps/blog/old.yaml": configmap("old"),
    })
    repo.git.checkout("-b", "feature")
    repo.index.remove(["apps/shop/b.yaml", "apps/blog/old.yaml"], working_tree=True)
    repo.index.commit("remove b and old")
    repo.git.checkout("main")
    root = Path(repo.working_tree_dir)
    args = ("compare", "--repo", root, "--base", "main", "--head", "feature", "--config", root / "kubesync.yaml")
    doc = json.loads(run(*map(str, args), "-o", "json", check_code=0).stdout)
    schema = json.loads((SCHEMAS / "plan.v1.json").read_text())
    for plan in doc["syncs"]:
        jsonschema.validate(plan, schema)
    by_sync = {p["sync"]: p for p in doc["syncs"]}
    assert [a["object"] for a in by_sync["shop"]["actions"] if a["type"] == "delete"] == ["v1 ConfigMap shop/b"]
    assert by_sync["shop"]["would_prune"] == []
    assert [a["object"] for a in by_sync["blog"]["would_prune"]] == ["v1 ConfigMap blog/old"]  # blog does not prune
    assert by_sync["blog"]["summary"]["delete"] == 0
    assert all(p["apply_with"] == "the daemon applies it when merged" for p in doc["syncs"])
    text = run(*map(str, args), "--exit-code", check_code=2).stdout
    assert "== sync shop (prune) ==" in text and "== sync blog (no prune) ==" in text
    assert isinstance(repo, git.Repo)


@pytest.mark.parametrize("argv, usage", [(("plan", "--bogus"), "usage: kubesync plan"),
                                         (("apply", ".", "--prunee"), "usage: kubesync apply")])
def test_an_unknown_option_prints_the_commands_usage(argv, usage):
    proc = run(*argv, check_code=2)
    assert proc.stderr.startswith(usage) and "unrecognized arguments" in proc.stderr
