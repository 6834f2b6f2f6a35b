"""Prune safety and foreign ownership through the real CLI: a source that suddenly yields nothing, or
loses most of its objects, never prunes without --force; an object another tool owns is never
modified or deleted, whatever the flags."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kubesync.cluster.api import Client
from kubesync.cluster import inventory as stored_inventory
from tests.support import cli as support_cli
from tests.support.manifests import configmap, write

REPO_ROOT = Path(__file__).resolve().parents[2]


def kubesync(*args: str, kubeconfig: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return support_cli.run(*args, "--kubeconfig", kubeconfig, "--no-color", timeout=timeout)


NAMES = ("alpha", "bravo", "charlie", "delta")


def write_all(folder, names=NAMES):
    for f in folder.iterdir():
        f.unlink()
    for n in names:
        write(folder, {f"{n}.yaml": configmap(n, {"k": "ours"})})


def live_uids(cluster, namespace: str, sync: str) -> dict[str, str]:
    items = cluster.get(f"/api/v1/namespaces/{namespace}/configmaps", labelSelector=f"kubesync.io/sync={sync}")["items"]
    return {c["metadata"]["name"]: c["metadata"]["uid"] for c in items}


def apply(folder, namespace, sync, kubeconfig, *flags):
    return kubesync("apply", str(folder), "-n", namespace, "--name", sync, *flags, kubeconfig=kubeconfig)


def empty_refusal(sync: str, n: int) -> str:
    return (
        f"error: the desired state is empty and pruning would delete all {n} object(s) of sync {sync!r}; "
        "refusing (an empty or broken source must not wipe a cluster). Pass --allow-empty if you really mean it.\n"
    )


def test_prune_refuses_a_source_that_suddenly_yields_nothing_until_allowed(kubeconfig, cluster, namespace, tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    write_all(folder)
    sync = f"empty-{namespace[-6:]}"
    first = apply(folder, namespace, sync, kubeconfig, "--yes")
    assert first.returncode == 0, first.stderr
    before = live_uids(cluster, namespace, sync)
    assert sorted(before) == sorted(NAMES)

    # 1. Every manifest gone, only a README left (a bad merge, a wrong checkout).
    write_all(folder, ())
    (folder / "README.md").write_text("manifests moved elsewhere\n")
    refused = apply(folder, namespace, sync, kubeconfig, "--prune", "--yes")
    assert refused.returncode == 1
    assert refused.stderr == empty_refusal(sync, 4)
    assert live_uids(cluster, namespace, sync) == before

    # 2. Every file still there but ignored (a careless .kubesyncignore).
    write_all(folder)
    (folder / ".kubesyncignore").write_text("*.yaml\n")
    refused = apply(folder, namespace, sync, kubeconfig, "--prune", "--yes")
    assert refused.returncode == 1
    assert refused.stderr == empty_refusal(sync, 4)
    assert live_uids(cluster, namespace, sync) == before
    # plan says the same, so CI sees it before anyone applies
    planned = kubesync("plan", str(folder), "-n", namespace, "--name", sync, "--prune", kubeconfig=kubeconfig)
    assert planned.returncode == 1 and planned.stderr == empty_refusal(sync, 4)

    # 3. --force lifts the max-prune guard only: an empty source is still refused with it.
    still = apply(folder, namespace, sync, kubeconfig, "--prune", "--yes", "--force")
    assert still.returncode == 1 and still.stderr == empty_refusal(sync, 4)
    assert live_uids(cluster, namespace, sync) == before
    # 4. --allow-empty is the explicit "yes, really": everything the sync owns goes.
    forced = apply(folder, namespace, sync, kubeconfig, "--prune", "--yes", "--allow-empty")
    assert forced.returncode == 0, forced.stderr
    assert "Apply complete: 0 created, 0 patched, 0 scaled, 4 deleted." in forced.stdout
    assert live_uids(cluster, namespace, sync) == {}
    assert stored_inventory.read(Client(cluster), sync) == []


def test_prune_refuses_a_source_that_lost_most_of_its_objects_until_forced(kubeconfig, cluster, namespace, tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    write_all(folder)
    sync = f"shrunk-{namespace[-6:]}"
    assert apply(folder, namespace, sync, kubeconfig, "--yes").returncode == 0
    before = live_uids(cluster, namespace, sync)

    write_all(folder, ("alpha",))
    refused = apply(folder, namespace, sync, kubeconfig, "--prune", "--yes")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"error: pruning would delete 3 of 4 object(s) of sync {sync!r} (75%, more than the allowed 50%); "
        "refusing. Pass --force, or raise --max-prune, if this is intended.\n"
    )
    assert live_uids(cluster, namespace, sync) == before

    forced = apply(folder, namespace, sync, kubeconfig, "--prune", "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    assert live_uids(cluster, namespace, sync) == {"alpha": before["alpha"]}
    assert [e.ref.name for e in stored_inventory.read(Client(cluster), sync)] == ["alpha"]


def test_object_owned_by_another_tool_is_never_modified_or_deleted(kubeconfig, cluster, namespace, tmp_path):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    helm_labels = {"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "shop-1.2.3"}
    cluster.request("POST", base, body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "chart-config", "labels": helm_labels, "annotations": {"meta.helm.sh/release-name": "shop"}},
        "data": {"k": "theirs"}})
    helm_before = cluster.get(f"{base}/chart-config")

    folder = tmp_path / "app"
    folder.mkdir()
    write_all(folder, ("chart-config", "handover", "mine"))
    sync = f"foreign-{namespace[-6:]}"
    first = apply(folder, namespace, sync, kubeconfig, "--prune", "--adopt", "--yes")
    assert first.returncode == 0, first.stderr
    assert f"chart-config.yaml:1: v1 ConfigMap {namespace}/chart-config: managed by 'Helm'; left alone" in first.stdout
    assert cluster.get(f"{base}/chart-config") == helm_before  # not even a label added

    # Helm takes "handover" over from us (it keeps our sync label, as a takeover usually does).
    handover = cluster.get(f"{base}/handover")
    cluster.request("PATCH", f"{base}/handover", content_type="application/merge-patch+json",
                    body={"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}, "data": {"k": "helm's now"}})
    handover_before = cluster.get(f"{base}/handover")
    assert handover_before["metadata"]["uid"] == handover["metadata"]["uid"]

    # Still in the source: a conflict, left alone, even with --adopt.
    second = apply(folder, namespace, sync, kubeconfig, "--prune", "--adopt", "--yes")
    assert second.returncode == 0, second.stderr
    assert f"handover.yaml:1: v1 ConfigMap {namespace}/handover: managed by 'Helm'; left alone" in second.stdout
    assert cluster.get(f"{base}/handover") == handover_before

    # Gone from the source, and every override given: still never deleted (it is in our inventory).
    write_all(folder, ("mine",))
    third = apply(folder, namespace, sync, kubeconfig, "--prune", "--adopt", "--force", "--yes", "--max-prune", "1")
    assert third.returncode == 0, third.stderr
    assert cluster.get(f"{base}/handover") == handover_before
    assert cluster.get(f"{base}/chart-config") == helm_before
    assert cluster.get_or_none(f"{base}/mine") is not None
