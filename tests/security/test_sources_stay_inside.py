"""Finding 6: sources stay inside their root; kustomize remote resources are opt-in and reported.

Real `kubectl kustomize` (or `kustomize`) renders; real git repositories in temp dirs. Each test
places a Secret outside the source and asserts it is neither loaded nor even read by kustomize.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kubesync import tools
from kubesync.errors import ManifestError, SourceError
from kubesync.sources import SourceSpec, load
from tests.unit.test_kustomize import write

pytestmark = pytest.mark.skipif(
    not (tools.is_built("kustomize") or shutil.which("kubectl")), reason="needs the pinned kustomize (make tools) or kubectl"
)

STOLEN = "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\nstringData: {key: outside-value}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: b}\n"


def git_repo(root: Path, files: dict[str, str]) -> Path:
    write(root, files)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.x", "commit", "-qm", "x"], cwd=root, check=True)
    return root


def test_a_folder_kustomization_cannot_reach_outside_its_root(tmp_path):
    write(tmp_path / "outside", {"kustomization.yaml": "resources: [secret.yaml]\n", "secret.yaml": STOLEN})
    source = write(tmp_path / "source", {"kustomization.yaml": "resources: [app.yaml, ../outside]\n", "app.yaml": CM})
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(path=str(source)))
    assert info.value.problems == [
        f"{source}/kustomization.yaml: resources: '../outside' leaves the source root; kustomize renders with "
        "the source root as its boundary, so move what it needs inside it"
    ]


@pytest.mark.parametrize("kustomization", [
    "resources: [../../../../../../../../../{outside}/secret.yaml]\n",
    "configMapGenerator:\n- name: c\n  files: [stolen=../../../../../../../../../{outside}/secret.yaml]\n",
    "secretGenerator:\n- name: s\n  envs: [../../../../../../../../../{outside}/secret.yaml]\n",
    "patches:\n- path: ../../../../../../../../../{outside}/secret.yaml\n",
    "components: [../../../../../../../../../{outside}]\n",
])
def test_a_git_kustomization_cannot_leave_the_checkout(tmp_path, kustomization):
    outside = write(tmp_path / "host-files", {"secret.yaml": STOLEN, "kustomization.yaml": "resources: [secret.yaml]\n"})
    text = kustomization.format(outside=str(outside).lstrip("/"))
    repo = git_repo(tmp_path / "repo", {"app/kustomization.yaml": text, "app/cm.yaml": CM})
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(repo=str(repo), subpath="app"))
    [problem] = info.value.problems
    assert problem.startswith(f"{repo}@")
    assert "leaves the source root" in problem


def test_a_symlink_in_a_folder_kustomization_to_outside_is_refused(tmp_path):
    outside = write(tmp_path / "outside", {"secret.yaml": STOLEN})
    source = write(tmp_path / "source", {"kustomization.yaml": "resources: [linked.yaml]\n"})
    (source / "linked.yaml").symlink_to(outside / "secret.yaml")
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(path=str(source)))
    assert "'linked.yaml' leaves the source root" in str(info.value)


def test_an_overlay_may_use_a_base_inside_its_repository(tmp_path):
    repo = git_repo(tmp_path / "repo", {
        "base/kustomization.yaml": "resources: [cm.yaml]\n", "base/cm.yaml": CM,
        "overlays/prod/kustomization.yaml": "namePrefix: prod-\nresources: [../../base]\n",
    })
    assert [m.ref.name for m in load(SourceSpec(path=str(repo / "overlays/prod"))).manifests] == ["prod-app"]
    assert [m.ref.name for m in load(SourceSpec(repo=str(repo), subpath="overlays/prod")).manifests] == ["prod-app"]


REMOTE = "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1"


@pytest.mark.parametrize("ref", [REMOTE, "github.com/org/repo/deploy?ref=main", "git@github.com:org/repo.git",
                                 "https://raw.example.com/deploy.yaml",
                                 # go-getter forms (issue 31): they bypassed both checks, one read another sync's cache
                                 "git::file:///root/.cache/kubesync/git/other", "git::https://127.0.0.1:8080/repo.git?ref=main",
                                 "file:///etc/kubesync", "s3::https://s3.amazonaws.com/bucket/key", "./base?ref=main",
                                 "hg::http://127.0.0.1/repo"])
def test_remote_resources_are_refused_by_default(tmp_path, ref):
    source = write(tmp_path / "source", {"kustomization.yaml": f"resources:\n- app.yaml\n- {ref}\n", "app.yaml": CM})
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(path=str(source)))
    [problem] = info.value.problems
    assert problem == (
        f"{source}/kustomization.yaml: resources: {ref!r} is a remote resource, which the source's revision does "
        "not pin; refused unless the sync sets allowRemoteResources: true"
    )


def test_a_forced_getter_is_remote_even_when_a_folder_of_that_name_exists(tmp_path):
    source = write(tmp_path / "source", {"kustomization.yaml": "resources:\n- git::file:/x\n", "git::file:/x/cm.yaml": CM})
    with pytest.raises(ManifestError, match="'git::file:/x' is a remote resource"):
        load(SourceSpec(path=str(source)))


def test_allowed_remote_resources_are_named_in_the_plan_as_unpinned(tmp_path, monkeypatch):
    """With allowRemoteResources the build runs (kustomize is faked here: no network in tests)."""
    fake = tmp_path / "bin" / "kustomize"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{CM}EOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KUBESYNC_KUSTOMIZE", str(fake))
    source = write(tmp_path / "source", {"kustomization.yaml": f"resources:\n- {REMOTE}\n"})
    state = load(SourceSpec(path=str(source), allow_remote=True))
    assert [m.ref.name for m in state.manifests] == ["app"]
    assert state.warnings == (
        f"{source}/kustomization.yaml: {REMOTE}: remote resource, unpinned: the source's revision does not pin it, "
        "so a change there is not noticed by polling or by saved-plan staleness",
    )


def test_a_rendering_over_the_source_size_limit_is_refused(tmp_path):
    source = write(tmp_path / "source", {"kustomization.yaml": "resources: [app.yaml]\n", "app.yaml": CM})
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(source), max_bytes=20))
    assert "over the source's size limit of 20" in str(info.value)
