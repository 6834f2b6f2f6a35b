"""`kubesync daemon` as a subprocess against the real control plane: triggers, self-heal, safety."""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess

import pytest

from tests.integration.daemon_harness import DaemonProcess, cm_data, configmap_yaml, data_is, wait_until
from tests.support.git import init_repo
from tests.support.manifests import deployment, write

pytestmark = pytest.mark.integration


def sync_name() -> str:
    return f"d-{secrets.token_hex(3)}"


@contextlib.contextmanager
def first_applied(kubeconfig, cluster, namespace, tmp_path, cm: str, *flags: str, **data: str):
    """(daemon, its folder, the sync's name) for a folder of one ConfigMap `cm`, once its first apply
    is in the cluster; `flags` after the source and name (the interval is 5 minutes: only a trigger
    explains a quick run)."""
    src = write(tmp_path / "src", {"cm.yaml": configmap_yaml(cm, namespace, **data)})
    name = sync_name()
    with DaemonProcess([str(src), "--name", name, *flags, "--interval", "5m"], kubeconfig, tmp_path) as d:
        d.wait_ready()
        wait_until(data_is(cluster, namespace, cm, **data), 15, what="first apply")
        yield d, src, name


def test_file_edit_is_applied_within_seconds(kubeconfig, cluster, namespace, tmp_path):
    # A long interval: only the file watcher can explain a quick apply.
    with first_applied(kubeconfig, cluster, namespace, tmp_path, "conf", a="1") as (d, src, name):
        (src / "cm.yaml").write_text(configmap_yaml("conf", namespace, a="2"))
        wait_until(data_is(cluster, namespace, "conf", a="2"), 10, what="file edit applied")
        assert d.http("/healthz")[0] == 200
        wait_until(lambda: (d.metric("kubesync_triggers_total", sync=name, trigger="file") or 0) >= 1, 5, what="file trigger counted")
        wait_until(lambda: (d.metric("kubesync_sync_runs_total", sync=name, result="success") or 0) >= 2, 5, what="two runs")
        assert d.metric("kubesync_objects_total", sync=name, action="created") == 1
        assert d.metric("kubesync_objects_total", sync=name, action="patched") == 1
        assert d.metric("kubesync_sync_duration_seconds_count", sync=name, result="success") >= 2
        assert d.metric("kubesync_last_success_timestamp_seconds", sync=name) > 0
        applied = d.sync(name)["applied_revision"]
        assert d.metric("kubesync_last_success_revision_info", sync=name, revision=applied) == 1
        assert d.terminate() == 0


def test_git_commit_on_the_watched_branch_is_applied(kubeconfig, cluster, namespace, tmp_path):
    repo_dir = tmp_path / "repo"
    repo = init_repo(repo_dir, {"app/cm.yaml": configmap_yaml("from-git", namespace, v="one")})
    name = sync_name()
    args = ["--repo", str(repo_dir), "--ref", "main", "--path", "app", "--name", name, "--interval", "1s"]
    with DaemonProcess(args, kubeconfig, tmp_path) as d:
        d.wait_ready()
        wait_until(data_is(cluster, namespace, "from-git", v="one"), 15, what="first commit applied")
        # A commit on another branch changes nothing; one on main is applied.
        repo.git.checkout("-b", "other")
        (repo_dir / "app" / "cm.yaml").write_text(configmap_yaml("from-git", namespace, v="other"))
        repo.index.add(["app/cm.yaml"])
        repo.index.commit("elsewhere")
        repo.git.checkout("main")
        (repo_dir / "app" / "cm.yaml").write_text(configmap_yaml("from-git", namespace, v="two"))
        repo.index.add(["app/cm.yaml"])
        sha = repo.index.commit("second").hexsha
        wait_until(data_is(cluster, namespace, "from-git", v="two"), 15, what="commit on main applied")
        wait_until(lambda: d.metric("kubesync_last_success_revision_info", sync=name, revision=sha) == 1, 5, what="revision metric")
        assert (d.metric("kubesync_triggers_total", sync=name, trigger="git") or 0) >= 1
        assert d.terminate() == 0


def test_drift_is_reverted_with_self_heal(kubeconfig, cluster, namespace, tmp_path):
    with first_applied(kubeconfig, cluster, namespace, tmp_path, "healed", "--self-heal", a="1") as (d, _, name):
        path = f"/api/v1/namespaces/{namespace}/configmaps/healed"
        cluster.request("PATCH", path, body={"data": {"a": "changed by hand"}}, content_type="application/merge-patch+json")
        wait_until(data_is(cluster, namespace, "healed", a="1"), 10, what="drift reverted")
        assert (d.metric("kubesync_triggers_total", sync=name, trigger="watch") or 0) >= 1
        # Deleted by hand: re-created.
        cluster.request("DELETE", path)
        wait_until(data_is(cluster, namespace, "healed", a="1"), 10, what="deleted object re-created")
        assert "drift:" in d.log()
        assert d.terminate() == 0


def test_drift_is_only_reported_without_self_heal(kubeconfig, cluster, namespace, tmp_path):
    with first_applied(kubeconfig, cluster, namespace, tmp_path, "kept", a="1") as (d, src, name):
        path = f"/api/v1/namespaces/{namespace}/configmaps/kept"
        cluster.request("PATCH", path, body={"data": {"a": "by hand"}}, content_type="application/merge-patch+json")
        wait_until(lambda: d.metric("kubesync_drifted_objects", sync=name) == 1, 10, what="drift reported in /metrics")
        assert cm_data(cluster, namespace, "kept") == {"a": "by hand"}
        assert "drift: v1 ConfigMap" in d.log() and "reported only" in d.log()
        assert d.metric("kubesync_objects_total", sync=name, action="patched") is None
        # A change of the source is applied (and takes the drifted field back with it).
        (src / "cm.yaml").write_text(configmap_yaml("kept", namespace, a="1", b="2"))
        wait_until(data_is(cluster, namespace, "kept", a="1", b="2"), 10, what="source change applied")
        wait_until(lambda: d.metric("kubesync_drifted_objects", sync=name) == 0, 5, what="drift cleared")
        assert d.terminate() == 0


def test_kubectl_scale_drift_is_attributed_to_the_manager_that_scaled(kubeconfig, cluster, namespace, tmp_path, server_version):
    src = write(tmp_path / "src", {"web.yaml": deployment("web", namespace=namespace)})
    name = sync_name()
    with DaemonProcess([str(src), "--name", name, "--interval", "5m"], kubeconfig, tmp_path) as d:
        d.wait_ready(60)
        # kubectl writes through /scale; kubesync's own entry (and the controller's) are newer afterwards.
        subprocess.run(["/usr/bin/kubectl", "--kubeconfig", kubeconfig, "-n", namespace, "scale", "deployment/web",
                        "--replicas=3"], check=True, capture_output=True, timeout=30)
        drift = wait_until(lambda: (d.json(f"/api/v1/syncs/{name}") or {}).get("drift"), 20, what=f"drift seen; log:\n{d.log()}")
        live = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
        (owner,) = [e for e in live["metadata"]["managedFields"] if "f:replicas" in (e.get("fieldsV1") or {}).get("f:spec", {})]
        assert drift[0]["object"] == f"apps/v1 Deployment {namespace}/web" and drift[0]["paths"] == ["/spec/replicas"]
        page = d.http(f"/partials/syncs/{name}")[1].decode()
        if server_version >= (1, 22):  # the server moves the field to the scaler, and says through which subresource
            assert (drift[0]["manager"], drift[0]["subresource"]) == (owner["manager"], owner["subresource"]) == ("kubectl", "scale")
            assert "kubectl" in page and "through /scale" in page
        else:  # 1.20 records no entry for a write through /scale: kubesync still owns replicas, so nobody is named
            assert owner["manager"] == "kubesync" and "subresource" not in owner
            assert (drift[0]["manager"], drift[0]["subresource"]) == ("", "")
            assert re.search(r"<td data-manager>unknown", page) and "kubesync</td>" not in page
        assert d.terminate() == 0


def test_broken_yaml_leaves_the_cluster_untouched_until_fixed(kubeconfig, cluster, namespace, tmp_path):
    src = write(tmp_path / "src", {"cm.yaml": configmap_yaml("steady", namespace, a="1"), "other.yaml": configmap_yaml("other", namespace, o="1")})
    name = sync_name()
    with DaemonProcess([str(src), "--name", name, "--prune", "--interval", "5m"], kubeconfig, tmp_path) as d:
        d.wait_ready()
        wait_until(data_is(cluster, namespace, "steady", a="1"), 15, what="first apply")
        wait_until(data_is(cluster, namespace, "other", o="1"), 5, what="first apply")
        # One good edit and one broken file: all-or-nothing, so neither is applied and nothing is pruned.
        (src / "cm.yaml").write_text(configmap_yaml("steady", namespace, a="2"))
        (src / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other\n  data: [\n")
        wait_until(lambda: d.metric("kubesync_sync_failing", sync=name) == 1, 10, what="failure in /metrics")
        assert (d.metric("kubesync_sync_runs_total", sync=name, result="error") or 0) >= 1
        assert (d.metric("kubesync_sync_errors_total", sync=name, error="ManifestError") or 0) >= 1
        assert cm_data(cluster, namespace, "steady") == {"a": "1"}
        assert cm_data(cluster, namespace, "other") == {"o": "1"}
        # The failure is the sync's, not the process's: /readyz stays 200 (the webhook carrying the fix
        # must still reach this replica); the sync endpoint says which sync, why, and what it tries.
        assert d.http("/readyz")[0] == 200 and d.http("/healthz")[0] == 200
        broken = d.sync(name)
        assert broken["failing"] and broken["state"] == "Paused"  # a broken source keeps the last good revision
        assert d.syncs()["failed"] == [name] and d.syncs()["totals"]["Paused"] == 1
        assert "other.yaml" in broken["reason"] and "\n" not in broken["reason"]
        assert broken["trying"]["stage"] == "reading the source" and broken["trying"]["revision"].startswith("sha256:")
        assert broken["trying"]["revision"] != broken["applied_revision"]
        # Fixed: syncing resumes at once (a file change retries without waiting for the backoff).
        (src / "other.yaml").write_text(configmap_yaml("other", namespace, o="1"))
        wait_until(data_is(cluster, namespace, "steady", a="2"), 10, what="syncing resumed")
        wait_until(lambda: d.metric("kubesync_sync_failing", sync=name) == 0, 5, what="failure cleared")
        assert d.terminate() == 0


def test_empty_source_prunes_nothing_even_with_prune(kubeconfig, cluster, namespace, tmp_path):
    with first_applied(kubeconfig, cluster, namespace, tmp_path, "survivor", "--prune", a="1") as (d, src, name):
        (src / "cm.yaml").unlink()
        wait_until(lambda: d.metric("kubesync_sync_errors_total", sync=name, error="SourceError"), 10, what="empty source is an error")
        assert cm_data(cluster, namespace, "survivor") == {"a": "1"}
        assert "holds no objects" in d.log()
        assert d.terminate() == 0


def test_unreachable_git_remote_keeps_the_last_good_state(kubeconfig, cluster, namespace, tmp_path):
    repo_dir = tmp_path / "remote"
    repo = init_repo(repo_dir, {"cm.yaml": configmap_yaml("remote", namespace, v="one")})
    name = sync_name()
    # A file:// URL goes through the clone cache and `git fetch`, like an https remote.
    args = ["--repo", f"file://{repo_dir}", "--ref", "main", "--name", name, "--prune", "--interval", "1s"]
    with DaemonProcess(args, kubeconfig, tmp_path) as d:
        d.wait_ready()
        wait_until(data_is(cluster, namespace, "remote", v="one"), 15, what="first commit applied")
        moved = tmp_path / "remote-away"
        repo_dir.rename(moved)  # the remote is gone
        wait_until(lambda: d.metric("kubesync_sync_failing", sync=name) == 1, 15, what="unreachable remote reported")
        assert (d.metric("kubesync_sync_errors_total", sync=name, error="SourceError") or 0) >= 1
        assert cm_data(cluster, namespace, "remote") == {"v": "one"}  # nothing pruned
        assert "cannot poll" in d.log()
        assert d.http("/readyz")[0] == 200  # the process is fine: only the sync fails
        gone = d.sync(name)
        assert d.syncs()["failed"] == [name] and gone["state"] == "Paused" and "cannot poll" in gone["reason"]
        assert gone["trying"]["revision"] == ""  # the remote cannot say which commit it would be
        moved.rename(repo_dir)
        (repo_dir / "cm.yaml").write_text(configmap_yaml("remote", namespace, v="two"))
        repo.index.add(["cm.yaml"])
        repo.index.commit("second")
        wait_until(data_is(cluster, namespace, "remote", v="two"), 20, what="syncing resumed")
        wait_until(lambda: d.metric("kubesync_sync_failing", sync=name) == 0, 5, what="failure cleared")
        assert d.terminate() == 0
