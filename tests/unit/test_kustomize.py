"""sources/kustomize.py: kustomization folders rendered by the pinned kustomize or `kubectl kustomize`."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

from kubesync import tools
from kubesync.errors import SourceError
from kubesync.model import Origin
from kubesync.sources import SourceSpec, load
from kubesync.sources import kustomize
from tests.support.manifests import configmap, deployment, write

HAS_TOOL = bool(tools.is_built("kustomize") or shutil.which("kubectl"))
needs_tool = pytest.mark.skipif(not HAS_TOOL, reason="neither the pinned kustomize (make tools) nor kubectl is installed")


@pytest.fixture(autouse=True)
def _no_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


BASE = {
    "base/kustomization.yaml": "resources: [deployment.yaml, config.yaml]\n",
    "base/deployment.yaml": deployment(),
    "base/config.yaml": configmap("settings", {"mode": "base"}),
    "overlays/prod/kustomization.yaml": """namePrefix: prod-
namespace: shop
commonLabels:
  env: prod
resources: [../../base]
""",
}


def test_find_kustomization_prefers_kustomizes_own_order():
    assert kustomize.find_kustomization(["a.yaml", "Kustomization", "kustomization.yml"]) == "kustomization.yml"
    assert kustomize.find_kustomization(["kustomization.yaml", "kustomization.yml"]) == "kustomization.yaml"
    assert kustomize.find_kustomization(["Kustomization"]) == "Kustomization"
    assert kustomize.find_kustomization(["app.yaml"]) is None


@needs_tool
def test_folder_with_a_kustomization_is_rendered(tmp_path):
    write(tmp_path, BASE)
    (tmp_path / ".git").mkdir()  # a work tree: the overlay may reach ../../base inside it
    state = load(SourceSpec(path=str(tmp_path / "overlays/prod")))
    by_name = {m.ref.name: m for m in state.manifests}
    assert sorted(by_name) == ["prod-settings", "prod-web"]
    web = by_name["prod-web"]
    assert (web.ref.kind, web.ref.namespace) == ("Deployment", "shop")
    assert web.obj["metadata"]["labels"] == {"env": "prod"}
    assert web.obj["spec"]["selector"]["matchLabels"] == {"app": "web", "env": "prod"}
    assert web.origin == Origin("kustomization.yaml", 0)
    assert state.revision.startswith("sha256:")


@needs_tool
def test_sub_folder_kustomization_keeps_its_folder_as_origin(tmp_path):
    write(tmp_path, BASE)
    state = load(SourceSpec(path=str(tmp_path), subpath="overlays/prod"))
    assert {str(m.origin) for m in state.manifests} == {"overlays/prod/kustomization.yaml"}


@needs_tool
def test_kustomize_failure_names_the_folder_and_shows_stderr(tmp_path):
    write(tmp_path, {"kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(tmp_path)))
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: kustomize build failed: ")
    assert "missing.yaml" in message


def fake_pinned_kustomize(root: Path, monkeypatch) -> Path:
    """An install where the recipe puts kustomize, stamped like the recipe: tools.find takes it."""
    monkeypatch.setenv("KUBESYNC_TOOLS_ROOT", str(root))
    monkeypatch.delenv("KUBESYNC_KUSTOMIZE", raising=False)
    path = tools.binary_path("kustomize")
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    (path.parent / "RECIPE").write_text(tools.pin("kustomize").stamp + "\n")
    return path


def test_no_tool_is_a_clear_error(tmp_path, monkeypatch):
    write(tmp_path, {"kustomization.yaml": "resources: []\n"})
    monkeypatch.setenv("KUBESYNC_TOOLS_ROOT", str(tmp_path / "tools"))
    monkeypatch.delenv("KUBESYNC_KUSTOMIZE", raising=False)
    monkeypatch.setattr(kustomize.shutil, "which", lambda name: None)
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(tmp_path)))
    assert str(info.value) == (
        f"{tmp_path}: holds a kustomization, but kustomize 5.8.2 is not built (looked for "
        f"{tmp_path}/tools/kustomize-5.8.2/bin/kustomize); build it with `kubesync cluster build --tools kustomize` "
        "(needs Go >= 1.26 and the Go module proxy), or set KUBESYNC_KUSTOMIZE to a kustomize program; "
        "kubectl, whose embedded kustomize would do, is not on PATH either")


def test_pinned_kustomize_is_preferred_over_kubectl_and_a_kustomize_on_path(tmp_path, monkeypatch, caplog):
    pinned = fake_pinned_kustomize(tmp_path, monkeypatch)
    monkeypatch.setattr(kustomize.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert kustomize.command("/d", "d") == [str(pinned), "build", "/d", kustomize.ROOT_ONLY]
    pinned.unlink()
    with caplog.at_level("WARNING", logger="kubesync.sources.kustomize"):
        assert kustomize.command("/d", "d") == ["/opt/bin/kubectl", "kustomize", "/d", kustomize.ROOT_ONLY]
        assert kustomize.command("/e", "e") == ["/opt/bin/kubectl", "kustomize", "/e", kustomize.ROOT_ONLY]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("kustomize 5.8.2 is not built (looked for ")
    assert said[0].endswith("; rendering kustomizations with kubectl's embedded kustomize meanwhile")


def test_a_wrong_override_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESYNC_KUSTOMIZE", str(tmp_path / "missing"))
    with pytest.raises(SourceError, match=r"^d: KUBESYNC_KUSTOMIZE=/.*/missing is not an executable program; "):
        kustomize.command("/d", "d")


def test_long_stderr_is_cut(tmp_path, monkeypatch):
    script = tmp_path / "kustomize"
    script.write_text('#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do i=$((i+1)); echo "error line $i in $2" >&2; done\nexit 1\n')
    script.chmod(0o755)
    monkeypatch.setenv("KUBESYNC_KUSTOMIZE", str(script))
    (tmp_path / "app").mkdir()
    with pytest.raises(SourceError) as info:
        kustomize.render(tmp_path / "app", "overlays/app")
    message = str(info.value)
    assert message.startswith("overlays/app: kustomize build failed: error line 1 in overlays/app\nerror line 2")
    assert message.endswith(" chars)") and len(message) < 500


@needs_tool
def test_git_sub_folder_is_rendered_from_the_commit_not_the_work_tree(tmp_path):
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    write(tmp_path / "repo", BASE)
    repo.index.add(list(BASE))
    actor = git.Actor("Test", "test@example.com")
    first = repo.index.commit("kustomize", author=actor, committer=actor)
    (tmp_path / "repo/overlays/prod/kustomization.yaml").write_text("resources: [nope.yaml]\n")  # uncommitted
    state = load(SourceSpec(repo=str(tmp_path / "repo"), ref="main", subpath="overlays/prod"))
    assert sorted(m.ref.name for m in state.manifests) == ["prod-settings", "prod-web"]
    assert {str(m.origin) for m in state.manifests} == {"overlays/prod/kustomization.yaml"}
    assert state.revision == first.hexsha


@needs_tool
def test_git_kustomize_failure_names_repo_and_folder_not_a_temp_dir(tmp_path):
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    write(tmp_path / "repo", {"app/kustomization.yaml": "resources: [../missing]\n"})
    repo.index.add(["app/kustomization.yaml"])
    actor = git.Actor("Test", "test@example.com")
    sha = repo.index.commit("broken", author=actor, committer=actor).hexsha[:12]
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(tmp_path / "repo"), subpath="app"))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'repo'}@{sha}:app: kustomize build failed: ")
    assert "kubesync-kustomize-" not in message
