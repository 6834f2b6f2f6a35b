"""kubesync/tools.py and the shared recipe library: where a pinned tool is, and what a recipe does
before it builds anything (cache hits, missing Go, no proxy). No test here builds a tool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kubesync import tools
from kubesync.errors import ToolMissing


@pytest.fixture(autouse=True)
def _fake_cache(tmp_path, monkeypatch):
    """A cache of our own; no override from the person running the tests."""
    monkeypatch.setenv("KUBESYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KUBESYNC_TOOLS_ROOT", raising=False)
    for tool in tools.TOOLS:
        monkeypatch.delenv(tools.env_var(tool), raising=False)


def install(tool: str, stamp: str | None = None, *, executable: bool = True) -> Path:
    """A fake install of `tool` where the recipe puts it, stamped like the recipe (or with `stamp`)."""
    path = tools.binary_path(tool)
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\necho fake\n")
    path.chmod(0o755 if executable else 0o644)
    (path.parent / "RECIPE").write_text((tools.pin(tool).stamp if stamp is None else stamp) + "\n")
    return path


def run_recipe(tool: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(tools.recipe_path(tool)), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.mark.parametrize("tool", tools.TOOLS)
def test_version_and_stamp_are_read_as_the_recipe_itself_computes_them(tool, tmp_path):
    proc = run_recipe(tool, "--stamp")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{tools.binary_path(tool)}\t{tools.pin(tool).stamp}\n"
    assert tools.binary_path(tool) == tmp_path / "cache" / "tools" / f"{tool}-{tools.pin(tool).version}" / "bin" / tool


def test_pins():
    assert {t: tools.pin(t).version for t in tools.TOOLS} == {
        "kwok": "0.8.0", "helm": "4.3.2", "registry": "3.1.2", "kustomize": "5.8.2", "sops": "3.13.3", "age-keygen": "1.3.1"}
    assert tools.go_minimum() == "1.26"


def test_cached_binary_with_the_recipes_stamp_is_found():
    path = install("helm")
    assert tools.find("helm") == path
    assert tools.is_built("helm")


def test_missing_tool_names_the_version_and_the_build_command(tmp_path):
    with pytest.raises(ToolMissing) as info:
        tools.find("kustomize")
    path = tmp_path / "cache/tools/kustomize-5.8.2/bin/kustomize"
    assert str(info.value) == (
        f"kustomize 5.8.2 is not built (looked for {path}); build it with `kubesync cluster build --tools kustomize` "
        "(needs Go >= 1.26 and the Go module proxy), or set KUBESYNC_KUSTOMIZE to a kustomize program")
    assert (info.value.tool, info.value.version, info.value.override) == ("kustomize", "5.8.2", None)
    assert info.value.command == "kubesync cluster build --tools kustomize"


def test_a_stale_stamp_counts_as_missing():
    install("sops", stamp="0: an older recipe")
    with pytest.raises(ToolMissing, match=r"^sops 3\.13\.3 was built by an older recipe \(looked for "):
        tools.find("sops")
    assert not tools.is_built("sops")


def test_an_unstamped_or_non_executable_install_counts_as_missing():
    path = install("kwok", executable=False)
    with pytest.raises(ToolMissing, match="is not built"):
        tools.find("kwok")
    path.chmod(0o755)
    (path.parent / "RECIPE").unlink()
    with pytest.raises(ToolMissing, match="was built by an older recipe"):
        tools.find("kwok")


def test_the_environment_overrides_the_cache(tmp_path, monkeypatch):
    install("helm")
    own = tmp_path / "bin" / "my-helm"
    own.parent.mkdir()
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    monkeypatch.setenv("KUBESYNC_HELM", str(own))
    assert tools.find("helm") == own
    monkeypatch.setenv("PATH", str(own.parent))
    monkeypatch.setenv("KUBESYNC_HELM", "my-helm")  # a name on PATH works too
    assert tools.find("helm") == own


def test_an_override_that_is_not_a_program_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    install("registry")
    monkeypatch.setenv("KUBESYNC_REGISTRY", str(tmp_path / "nope\n"))
    with pytest.raises(ToolMissing) as info:
        tools.find("registry")
    assert str(info.value) == (
        f"KUBESYNC_REGISTRY={tmp_path}/nope\\n is not an executable program; point it at a registry binary, "
        "or unset it to use the pinned registry 3.1.2 (`kubesync cluster build --tools registry` builds it)")
    assert info.value.override == "KUBESYNC_REGISTRY"


def test_cache_root_follows_the_recipes_order(tmp_path, monkeypatch):
    assert tools.cache_root() == tmp_path / "cache"
    monkeypatch.delenv("KUBESYNC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tools.tools_root() == tmp_path / "xdg/kubesync/tools"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tools.tools_root() == tmp_path / "home/.cache/kubesync/tools"
    monkeypatch.setenv("KUBESYNC_TOOLS_ROOT", str(tmp_path / "pinned"))
    assert tools.binary_path("kwok") == tmp_path / "pinned/kwok-0.8.0/bin/kwok"
    assert run_recipe("kwok", "--stamp").stdout.startswith(f"{tmp_path}/pinned/kwok-0.8.0/bin/kwok\t")


def test_unknown_tool_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown tool 'kubectl'"):
        tools.find("kubectl")


def test_a_second_run_of_a_recipe_does_nothing_and_needs_no_go(tmp_path):
    path = install("kwok")
    proc = run_recipe("kwok", env={"PATH": "/usr/bin:/bin", "GO": str(tmp_path / "no-go")})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"build-kwok: cached in {path.parent} (nothing to do)\n", "")


def test_recipe_without_go_says_so_and_leaves_nothing_behind(tmp_path):
    proc = run_recipe("helm", env={"GO": str(tmp_path / "no-go")})
    assert proc.returncode == 1
    assert proc.stderr == f"build-helm: error: GO={tmp_path}/no-go is not a program; helm 4.3.2 needs Go >= 1.26\n"
    assert [p.name for p in (tmp_path / "cache/tools").iterdir()] == [".helm.lock"]


def test_recipe_with_an_old_go_says_which(tmp_path):
    old = tmp_path / "go"
    old.write_text("#!/bin/sh\necho go1.19.8\n")
    old.chmod(0o755)
    proc = run_recipe("sops", env={"GO": str(old)})
    assert proc.returncode == 1
    assert proc.stderr == f"build-sops: error: Go 1.19.8 is too old; sops 3.13.3 needs Go >= 1.26 ({old})\n"


def test_recipe_without_the_module_proxy_says_so(tmp_path):
    fake = tmp_path / "go"  # a Go that is new enough, with the proxy turned off
    fake.write_text('#!/bin/sh\ncase "$2" in GOVERSION) echo go1.26.8 ;; GOPROXY) echo off ;; esac\n')
    fake.chmod(0o755)
    proc = run_recipe("registry", env={"GO": str(fake)})
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "build-registry: error: GOPROXY is 'off'; building registry needs the Go module proxy "
        "(for example GOPROXY=https://proxy.golang.org)")


def test_recipe_takes_no_other_argument():
    proc = run_recipe("kwok", "--force")
    assert (proc.returncode, proc.stderr) == (2, "usage: build-kwok [--stamp]\n")
