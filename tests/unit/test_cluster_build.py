"""`kubesync cluster build`: which recipes run, in which order, and what a failure says.

The recipes run for real here, on fake caches where they stop early (cached, or no Go): no test
builds anything, and none runs a Kubernetes recipe past its cache check.
"""

from __future__ import annotations

import pytest

from kubesync import cli, tools
from kubesync.commands import cluster
from kubesync.errors import UsageError

STAMP_1_37 = ("2: k8s.io/kubernetes v1.37.2 (apiserver, controller-manager, scheduler) with staging replaced by v0.37.2; "
              "etcd v3.6.16; CGO_ENABLED=0")
STAMP_1_20 = "3: with kube-scheduler; vendored modern-go/reflect2 replaced by Debian's 1.0.2 (1.0.1 crashes under Go >= 1.18)"


@pytest.fixture(autouse=True)
def _fake_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KUBESYNC_TOOLS_ROOT", raising=False)


def fake_tool(tool: str) -> None:
    path = tools.binary_path(tool)
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    (path.parent / "RECIPE").write_text(tools.pin(tool).stamp + "\n")


def plan(*argv: str) -> list[str]:
    args = cli.build_parser().parse_args(["cluster", "build", *argv])
    return [recipe for recipe, _ in cluster.build_plan(args.kubernetes_version, args.tools, args.all_tools)]


def test_what_each_choice_builds():
    assert plan() == ["k8s-1.37", "kwok"]  # what `cluster up` needs
    assert plan("--kubernetes-version", "1.20") == ["k8s-1.20", "kwok"]
    assert plan("--kubernetes-version", "1.37", "--kubernetes-version", "1.20") == ["k8s-1.37", "k8s-1.20", "kwok"]
    assert plan("--tools", "helm, sops,helm") == ["helm", "sops"]
    assert plan("--all") == ["kwok", "helm", "registry", "kustomize", "sops", "age-keygen"]
    assert plan("--kubernetes-version", "1.37", "--tools", "kwok,helm") == ["k8s-1.37", "kwok", "helm"]


def test_bad_choices_are_refused():
    with pytest.raises(UsageError, match=r"^unknown tool\(s\) kubectl; kubesync builds kwok, helm, registry, kustomize, sops, age-keygen$"):
        plan("--tools", "helm,kubectl")
    with pytest.raises(UsageError, match="give --tools or --all, not both"):
        plan("--tools", "helm", "--all")


def test_kubernetes_stamps_are_the_ones_existing_caches_carry(tmp_path):
    """Moving the recipes into the package must not invalidate a cache built by the old scripts/."""
    for recipe, path, stamp in (("k8s-1.37", "k8s-1.37.2/bin", STAMP_1_37), ("k8s-1.20", "k8s-1.20.2/bin", STAMP_1_20)):
        proc = cluster.subprocess.run(["bash", str(tools.recipe_path(recipe)), "--stamp"], capture_output=True, text=True, check=True)
        assert proc.stdout == f"{tmp_path}/cache/{path}\t{stamp}\n"


def test_cached_builds_say_so(tmp_path, capsys):
    fake_tool("helm")
    fake_tool("kwok")
    bins = tmp_path / "cache/k8s-1.37.2/bin"
    bins.mkdir(parents=True)
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        (bins / name).write_text("#!/bin/sh\n")
        (bins / name).chmod(0o755)
    (bins / "RECIPE").write_text(STAMP_1_37 + "\n")
    assert cli.main(["cluster", "build", "--kubernetes-version", "1.37", "--tools", "helm"]) == 0
    out, err = capsys.readouterr()
    assert out == "Kubernetes 1.37.2: cached\nhelm 4.3.2: cached\nkwok 0.8.0: cached\n"
    assert err == (f"build-k8s-1.37.2: cached in {bins} (nothing to do)\n"
                   f"build-helm: cached in {tools.binary_path('helm').parent} (nothing to do)\n"
                   f"build-kwok: cached in {tools.binary_path('kwok').parent} (nothing to do)\n")


def test_a_failed_build_names_what_is_missing_and_stops(tmp_path, monkeypatch, capsys):
    fake_tool("helm")
    monkeypatch.setenv("GO", str(tmp_path / "no-go"))
    assert cli.main(["cluster", "build", "--tools", "sops,helm"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # helm, after sops, never ran
    assert err.splitlines() == [
        f"build-sops: error: GO={tmp_path}/no-go is not a program; sops 3.13.3 needs Go >= 1.26",
        f"error: sops 3.13.3 could not be built: GO={tmp_path}/no-go is not a program; sops 3.13.3 needs Go >= 1.26",
    ]


def test_up_takes_one_version():
    args = cli.build_parser().parse_args(["cluster", "up", "--kubernetes-version", "1.37", "--kubernetes-version", "1.20"])
    with pytest.raises(UsageError, match="give --kubernetes-version once"):
        cluster.run(args)
