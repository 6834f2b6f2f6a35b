"""One daemon, many syncs (issue 17): shared watches, one run per burst of triggers, shards split
between replicas that never apply the same sync and take each other's over. Speed is bench/daemon.py's."""

from __future__ import annotations

import re
import secrets

import pytest
import yaml

from tests.integration.daemon_harness import DaemonProcess, configmap_yaml, data_is, wait_until
from tests.support.servermetrics import open_watches
from tests.support.manifests import service_account, write

pytestmark = pytest.mark.integration


def write_syncs(tmp_path, namespace: str, n: int, tag: str, **extra) -> list[str]:
    """n folder syncs, each a ConfigMap and a ServiceAccount in `namespace`; the config file's syncs."""
    names = []
    for i in range(n):
        name = f"s{i:02d}-{tag}"
        write(tmp_path / "syncs" / name, {"cm.yaml": configmap_yaml(f"cm-{name}", namespace, value="1"),
                                          "sa.yaml": service_account(f"sa-{name}", namespace=namespace)})
        names.append(name)
    syncs = [{"name": name, "source": {"path": f"./syncs/{name}"}, "namespace": namespace, "interval": "5m", **extra}
             for name in names]
    (tmp_path / "kubesync.yaml").write_text(yaml.safe_dump({"syncs": syncs}))
    return names


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_fifty_syncs_share_one_watch_per_resource_type(kubeconfig, cluster, namespace, tmp_path):
    names = write_syncs(tmp_path, namespace, 50, secrets.token_hex(3))
    before = open_watches(cluster)
    with DaemonProcess(["--config", str(tmp_path / "kubesync.yaml")], kubeconfig, tmp_path) as d:
        d.wait_ready(120)
        for name in names:
            assert wait_until(data_is(cluster, namespace, f"cm-{name}", value="1"), 10)
        # The daemon's own count: one watch per type for all 50 syncs (the inventories are ConfigMaps too).
        assert d.metric("kubesync_watches", resource="configmaps") == 1
        assert d.metric("kubesync_watches", resource="serviceaccounts") == 1
        assert d.metric("kubesync_cached_objects") >= 100
        # The server's count agrees: one more WATCH on each type, not fifty.
        during = open_watches(cluster)
        assert during.get("configmaps", 0) - before.get("configmaps", 0) == 1, (before, during)
        assert during.get("serviceaccounts", 0) - before.get("serviceaccounts", 0) == 1, (before, during)
        # Threads do not grow with syncs: 8 queue workers, 2 watches, 1 observer, HTTP, alerts...
        assert threads_of(d.proc.pid) < 40


def test_a_burst_of_triggers_for_one_sync_is_one_run(kubeconfig, cluster, namespace, tmp_path, server_version):
    tag = secrets.token_hex(3)
    [name] = write_syncs(tmp_path, namespace, 1, tag, selfHeal=True)
    folder = tmp_path / "syncs" / name
    with DaemonProcess(["--config", str(tmp_path / "kubesync.yaml")], kubeconfig, tmp_path) as d:
        d.wait_ready(60)
        # Let the start-up settle: the first run and the run its own new objects may cause. Before
        # 1.24 the token controller edits the new ServiceAccount (its `secrets`), which wakes the sync
        # once through the watch; later servers leave it alone.
        if server_version < (1, 24):
            sa = f"/api/v1/namespaces/{namespace}/serviceaccounts/sa-{name}"
            wait_until(lambda: (cluster.get_or_none(sa) or {}).get("secrets"), 20, what="the token controller's edit")
            wait_until(lambda: d.metric("kubesync_triggers_total", sync=name, trigger="watch"), 20, what="its watch run")
        wait_until(lambda: d.settled(name), 20, what=f"start-up runs done; log:\n{d.log()}")
        runs = d.metric("kubesync_sync_runs_total", sync=name, result="success")
        files = d.metric("kubesync_triggers_total", sync=name, trigger="file") or 0.0
        watches = d.metric("kubesync_triggers_total", sync=name, trigger="watch") or 0.0
        # A burst: twenty file writes (an editor, a git checkout) and a drift edit in the cluster, together.
        for i in range(20):
            (folder / "cm.yaml").write_text(configmap_yaml(f"cm-{name}", namespace, value=str(i)))
        cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/cm-{name}", body={"data": {"value": "edited"}},
                        content_type="application/merge-patch+json")
        wait_until(data_is(cluster, namespace, f"cm-{name}", value="19"), 20)
        # Nothing of the burst is left to run: the next run queued is the periodic resync.
        wait_until(lambda: d.settled(name), 20, what="the burst's runs done")
        triggers = {dict(k[1]).get("trigger"): v for k, v in d.metrics().items() if k[0] == "kubesync_triggers_total"}
        assert d.metric("kubesync_sync_runs_total", sync=name, result="success") == runs + 1, (triggers, d.log())
        assert d.metric("kubesync_triggers_total", sync=name, trigger="file") == files + 1
        assert (d.metric("kubesync_triggers_total", sync=name, trigger="watch") or 0.0) - watches in (0.0, 1.0)


APPLIED = re.compile(r"\[(\S+)\] (?:created|patched) v1 ConfigMap")


def applied_by(d: DaemonProcess, since: int) -> set[str]:
    """The syncs whose ConfigMap this replica wrote, in its log after offset `since`."""
    return set(APPLIED.findall(d.log()[since:]))


def set_values(tmp_path, names: list[str], namespace: str, value: str) -> None:
    for name in names:
        (tmp_path / "syncs" / name / "cm.yaml").write_text(configmap_yaml(f"cm-{name}", namespace, value=value))


def all_values(cluster, namespace: str, names: list[str], value: str):
    return lambda: all(data_is(cluster, namespace, f"cm-{name}", value=value)() for name in names)


def test_two_sharded_replicas_apply_disjoint_halves_and_take_over_a_killed_ones(kubeconfig, cluster, namespace, tmp_path):
    names = write_syncs(tmp_path, namespace, 16, secrets.token_hex(3))
    args = ["--config", str(tmp_path / "kubesync.yaml"), "--shards", "4", "--lease-namespace", namespace,
            "--lease-duration", "4s"]
    with DaemonProcess(args, kubeconfig, tmp_path, "a") as a, DaemonProcess(args, kubeconfig, tmp_path, "b") as b:
        wait_until(all_values(cluster, namespace, names, "1"), 60, what="every sync applied")
        wait_until(lambda: a.metric("kubesync_shards_owned") == 2 and b.metric("kubesync_shards_owned") == 2, 30,
                   what=f"two shards each; logs:\n{a.log()}\n{b.log()}")
        marks = len(a.log()), len(b.log())
        set_values(tmp_path, names, namespace, "2")
        wait_until(all_values(cluster, namespace, names, "2"), 60, what="every sync applied again")
        # A replica logs each write once the server answered it: wait for the lines, not only for the values.
        wait_until(lambda: applied_by(a, marks[0]) | applied_by(b, marks[1]) == set(names), 10, what="every write logged")
        by_a, by_b = applied_by(a, marks[0]), applied_by(b, marks[1])
        # Each replica applied its own shards' syncs, and no sync was applied by both.
        assert by_a and by_b and not by_a & by_b, (by_a, by_b)
        assert by_a | by_b == set(names)

        a.kill()  # a crash: its Leases are not released, they expire
        mark = len(b.log())
        set_values(tmp_path, names, namespace, "3")
        wait_until(all_values(cluster, namespace, names, "3"), 60, what=f"the survivor took over; log:\n{b.log()}")
        # The dead replica's syncs, applied by the survivor (its log line follows the write it reports).
        wait_until(lambda: applied_by(b, mark) >= by_a, 10, what=f"the survivor's log names {sorted(by_a)}")
        wait_until(lambda: b.metric("kubesync_shards_owned") == 4, 20)
