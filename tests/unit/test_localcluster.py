"""Version selection of the embedded control plane (no process is started here)."""

from __future__ import annotations

import stat

import pytest

from kubesync import localcluster, tools


def fake_build(root, version: localcluster.KubernetesVersion, with_etcd: bool = True) -> None:
    bins = root / f"k8s-{version.full}" / "bin"
    bins.mkdir(parents=True)
    names = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] + (["etcd"] if with_etcd else [])
    for name in names:
        path = bins / name
        path.write_text("#!/bin/sh\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESYNC_K8S_ROOT", str(tmp_path))
    return tmp_path


def test_versions_are_listed_newest_first():
    minors = [tuple(int(x) for x in v.split(".")) for v in localcluster.VERSIONS]
    assert minors == sorted(minors, reverse=True)
    assert localcluster.NEWEST == "1.37"


def test_default_is_the_newest_built_version(root):
    fake_build(root, localcluster.VERSIONS["1.37"])
    assert localcluster.get_version(None).full == "1.37.2"


def test_default_falls_back_to_an_older_built_version(root, monkeypatch):
    monkeypatch.setenv("PATH", str(root))  # no etcd on PATH: 1.20 would need Debian's etcd
    (root / "etcd").write_text("#!/bin/sh\n")
    (root / "etcd").chmod(0o755)
    fake_build(root, localcluster.VERSIONS["1.20"], with_etcd=False)
    assert localcluster.get_version(None).full == "1.20.2"


def test_nothing_built_defaults_to_the_newest_and_says_how_to_build(root):
    version = localcluster.get_version(None)
    assert version.minor == "1.37"
    with pytest.raises(localcluster.ControlPlaneError) as info:
        localcluster.find_binaries(version)
    message = str(info.value)
    assert "Kubernetes 1.37.2: missing kube-apiserver, kube-controller-manager, kube-scheduler, etcd" in message
    assert message.endswith("run `kubesync cluster build --kubernetes-version 1.37` (or `make control-plane`) first")


@pytest.mark.parametrize("given, full", [("1.37", "1.37.2"), ("v1.37", "1.37.2"), ("1.20.2", "1.20.2"), ("1.20", "1.20.2")])
def test_explicit_versions(given, full):
    assert localcluster.get_version(given).full == full


def test_unsupported_version_is_refused_with_the_choices():
    with pytest.raises(localcluster.ControlPlaneError) as info:
        localcluster.get_version("1.29")
    assert str(info.value) == "unsupported Kubernetes version '1.29'; choose one of 1.37, 1.20"


def test_only_1_20_gets_insecure_port_flags():
    assert localcluster.VERSIONS["1.20"].insecure_port_flags
    assert not localcluster.VERSIONS["1.37"].insecure_port_flags


def test_packaged_recipes_exist_for_every_version():
    for version in localcluster.VERSIONS.values():
        assert tools.recipe_path(f"k8s-{version.minor}").is_file()
        assert version.build_script == f"kubesync cluster build --kubernetes-version {version.minor}"


def test_the_admin_token_and_the_signing_key_are_readable_by_their_owner_only(root, tmp_path):
    """token.csv holds a system:masters token, sa.key signs every service account token (issue 31)."""
    fake_build(root, localcluster.VERSIONS["1.37"])
    work = tmp_path / "cp"
    work.mkdir()
    (work / "token.csv").write_text("old\n")
    (work / "token.csv").chmod(0o644)  # a file left by an older kubesync keeps no wider mode
    cluster = localcluster.LocalCluster.create(work, tie_to_parent=False, version="1.37")
    cluster._write_credentials()
    assert stat.S_IMODE((work / "token.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((work / "sa.key").stat().st_mode) == 0o600
    assert (work / "token.csv").read_text().endswith(',kubesync-admin,kubesync-admin,"system:masters"\n')
