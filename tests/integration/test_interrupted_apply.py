"""Ownership survives an interrupted apply (issue 31): objects created before a `kill -9` of the CLI are
in the inventory (recorded as pending before the creates went out), so when they leave the source, the
next run prunes them; before, they were labelled but in no inventory, and never pruned ("No changes")."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.support.cli import command, env
from tests.support.cli import run
from tests.support.waits import wait_for

N = 200


def labelled(cluster, namespace: str, sync: str) -> set[str]:
    items = cluster.get(f"/api/v1/namespaces/{namespace}/configmaps", labelSelector=f"kubesync.io/sync={sync}")["items"]
    return {c["metadata"]["name"] for c in items}


def test_objects_created_before_a_kill_are_pruned_once_they_leave_the_source(kubeconfig, cluster, namespace, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "many.yaml").write_text("".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:03d}}}\ndata: {{k: v}}\n" for i in range(N)))
    sync = f"killed-{namespace[-6:]}"
    argv = command("apply", str(src), "--name", sync, "-n", namespace, "--yes", "--concurrency", "1")
    proc = subprocess.Popen(argv, env=env(kubeconfig), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(labelled(cluster, namespace, sync)) >= 20 or proc.poll() is not None, 120)
        os.kill(proc.pid, signal.SIGKILL)  # no finally runs: the inventory's last write never happens
    finally:
        proc.wait(30)
    created = labelled(cluster, namespace, sync)
    assert 20 <= len(created) < N, f"{len(created)} created: the kill came {'too late' if len(created) == N else 'too early'}"

    (src / "many.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {k: v}\n")
    refused = run("plan", str(src), "--name", sync, "-n", namespace, "--prune", kubeconfig=kubeconfig, check_code=1).stderr
    assert f"pruning would delete {len(created)} of {len(created)} object(s)" in refused  # every one is owned now
    out = run("apply", str(src), "--name", sync, "-n", namespace, "--prune", "--yes", "--force", kubeconfig=kubeconfig,
              check_code=0).stdout
    assert f"Apply complete: 1 created, 0 patched, 0 scaled, {len(created)} deleted." in out
    assert labelled(cluster, namespace, sync) == {"keep"}
