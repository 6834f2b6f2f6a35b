"""The daemon with a hook that never finishes: the run fails at --hook-timeout with the pod's words, and
its one worker goes on to the next sync (never held beyond the timeout); the dashboard shows the
phase's steps and /metrics counts the phase by result."""

from __future__ import annotations

import secrets

import pytest
import yaml

from tests.integration.daemon_harness import DaemonProcess, configmap_yaml, data_is, wait_until
from tests.support.fixtures import require_simulated_nodes
from tests.support.manifests import job, write

pytestmark = pytest.mark.integration


def test_a_hook_that_never_finishes_does_not_hold_the_worker(kubeconfig, cluster, namespace, tmp_path):
    require_simulated_nodes()
    tag = secrets.token_hex(3)
    stuck, other = f"stuck-{tag}", f"other-{tag}"
    hook = job("wait-forever", namespace=namespace, simulate="image-pull-failure",
               annotations={"argocd.argoproj.io/hook": "PreSync"})
    write(tmp_path / "stuck", {"hook.yaml": hook, "cm.yaml": configmap_yaml("never", namespace, a="1")})
    write(tmp_path / "other", {"cm.yaml": configmap_yaml("other", namespace, b="1")})
    config = {"syncs": [{"name": name, "source": {"path": f"./{name.split('-')[0]}"}, "namespace": namespace, "interval": "5m"}
                        for name in (stuck, other)]}
    (tmp_path / "kubesync.yaml").write_text(yaml.safe_dump(config))
    args = ["--config", str(tmp_path / "kubesync.yaml"), "--workers", "1", "--hook-timeout", "4s"]
    with DaemonProcess(args, kubeconfig, tmp_path) as d:
        wait_until(lambda: "hook PreSync phase: timed out" in d.log(), 60, what=f"the hook's timeout; log:\n{d.log()}")
        wait_until(data_is(cluster, namespace, "other", b="1"), 60, what=f"the other sync applied; log:\n{d.log()}")
        # The stuck sync keeps failing and retrying; its single worker still serves the other sync.
        (tmp_path / "other" / "cm.yaml").write_text(configmap_yaml("other", namespace, b="2"))
        wait_until(data_is(cluster, namespace, "other", b="2"), 60, what=f"the other sync's change applied; log:\n{d.log()}")
        assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/never") is None
        log = d.log()
        assert f"batch/v1 Job {namespace}/wait-forever: PreSync hook failed: did not finish within 4s (--hook-timeout)" in log
        assert "ErrImagePull" in log or "ImagePullBackOff" in log
        assert (d.metric("kubesync_hook_phases_total", sync=stuck, phase="PreSync", result="timed out") or 0) >= 1
        assert (d.metric("kubesync_sync_runs_total", sync=stuck, result="error") or 0) >= 1
        steps = (d.json(f"/api/v1/syncs/{stuck}") or {}).get("hooks") or []
        assert any(s["phase"] == "PreSync" and s["event"] == "timed out" for s in steps), steps
        assert d.terminate() == 0
