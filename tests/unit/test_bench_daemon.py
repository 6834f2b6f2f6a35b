"""bench/daemon_report.py: the API server's /metrics as the benchmark reads it, net-of-baseline arithmetic, the table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    # bench/ is a folder of scripts, not a package (bench/bench.py would shadow it), so load by path
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _load("daemon_report")

# Shaped like kube-apiserver 1.37's /metrics: HELP/TYPE lines, histograms in between, labels in any order.
METRICS_137 = """\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb...
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="GET",version="v1"} 40
apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="GET",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="cluster",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="0",component="apiserver",dry_run="",group="",resource="namespaces",scope="cluster",subresource="",verb="WATCH",version="v1"} 3
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="namespaces",scope="resource",subresource="",verb="POST",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="status",verb="PUT",version="v1"} 6
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="APPLY",version="v1"} 1
# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution...
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="GET",version="v1",le="0.005"} 39
apiserver_request_total_other{verb="GET"} 1000
# HELP apiserver_longrunning_requests [ALPHA] Gauge of all active long-running apiserver requests...
# TYPE apiserver_longrunning_requests gauge
apiserver_longrunning_requests{component="apiserver",group="",resource="configmaps",scope="cluster",subresource="",verb="WATCH",version="v1"} 101
apiserver_longrunning_requests{component="apiserver",group="apps",resource="deployments",scope="namespace",subresource="",verb="WATCH",version="v1"} 2
apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="log",verb="CONNECT",version="v1"} 1
apiserver_longrunning_requests{component="apiserver",group="",resource="secrets",scope="cluster",subresource="",verb="WATCH",version="v1"} 0
"""

# 1.20 names the gauge apiserver_longrunning_gauge.
METRICS_120 = """\
# TYPE apiserver_longrunning_gauge gauge
apiserver_longrunning_gauge{component="apiserver",group="",resource="namespaces",scope="cluster",subresource="",verb="WATCH",version="v1"} 4
apiserver_longrunning_gauge{component="apiserver",group="",resource="pods",scope="namespace",subresource="exec",verb="CONNECT",version="v1"} 9
"""


def test_requests_are_summed_per_verb_over_every_other_label():
    assert report.requests_by_verb(METRICS_137) == {"GET": 42, "LIST": 7, "WATCH": 3, "POST": 5, "PUT": 6, "APPLY": 1}


def test_open_watches_count_only_watch_requests_on_either_gauge_name():
    assert report.open_watches(METRICS_137) == (103, {"configmaps": 101, "deployments": 2})
    assert report.open_watches(METRICS_120) == (4, {"namespaces": 4})
    assert report.open_watches("") == (0, {})


def test_steady_rate_net_of_the_baseline_by_verb_class():
    before = {"GET": 100, "LIST": 10, "PATCH": 4}
    after = {"GET": 160, "LIST": 10, "PATCH": 7, "POST": 3, "WATCH": 6}
    rate = report.per_minute(report.delta(before, after), 30.0)  # a 30 s window
    assert rate == {"GET": 120, "PATCH": 6, "POST": 6, "WATCH": 12}
    net = report.net(rate, {"GET": 20, "POST": 8})
    assert net == {"GET": 100, "PATCH": 6, "POST": -2, "WATCH": 12}
    assert report.verb_classes(net) == {"GET": 100, "LIST": 0, "WATCH": 12, "write": 4}
    assert report.total(net) == 116


def test_per_minute_of_an_empty_window_is_empty():
    assert report.per_minute({"GET": 5}, 0.0) == {}


def test_table_aligns_columns_and_shows_missing_values_as_dashes():
    rows = [
        {"n": 100, "source": "folder", "converge_s": 21.04, "converge_requests_net": 1520.4, "steady_per_min_net": 1607.2,
         "steady_per_min_sent": 1588.6, "watches_net": 303.0, "threads_peak": 802, "rss_peak_mb": 438.2, "cpu_s": 95.55, "kubectl_s": 40.1, "kubectl_requests_net": 1510},
        {"n": 100, "source": "git", "converge_s": 19.5, "threads_peak": 12},
    ]
    lines = report.table(rows).splitlines()
    assert lines[0].split() == ["N", "sources", "converge", "s", "converge", "req", "steady", "req/min", "sent/min", "watches", "threads",
                                "RSS", "MB", "CPU", "s", "kubectl", "s", "kubectl", "req"]
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    assert lines[2].split() == ["100", "folder", "21.0", "1520", "1607", "1589", "303", "802", "438", "95.5", "40.1", "1510"]
    assert lines[3].split() == ["100", "git", "19.5", "-", "-", "-", "-", "12", "-", "-", "-", "-"]
    assert len({len(line) for line in lines}) == 1


@pytest.mark.parametrize("result, expected", [
    ({"n": 100, "shards": 8, "lease_s": 15.0, "unavailable": "this daemon has no --shards"},
     "failover (N=100): not available: this daemon has no --shards"),
    ({"n": 10, "shards": 8, "lease_s": 15.0, "applied": [6, 4], "wrote": [10, 0], "orphaned": 6, "all_s": 17.25, "orphaned_s": 17.0,
      "survivor_s": 0.8},
     "failover (N=10, 8 shards, lease 15 s): syncs per replica by shard Lease 6 / 4 (wrote objects of 10 / 0 until balanced); "
     "after kill -9 of one replica and an edit in every source, all 10 ConfigMaps updated in 17.2 s "
     "(the survivor's own syncs in 0.8 s, the 6 orphaned ones in 17.0 s)"),
    ({"n": 10, "shards": 8, "lease_s": 15.0, "applied": [5, 5], "orphaned": 5, "all_s": None, "orphaned_s": None},
     "failover (N=10, 8 shards, lease 15 s): syncs per replica by shard Lease 5 / 5; "
     "after kill -9 of one replica and an edit in every source, all 10 ConfigMaps updated in - s "
     "(the survivor's own syncs in - s, the 5 orphaned ones in - s)"),
])
def test_failover_line(result, expected):
    assert report.failover_line(result) == expected


def _row(n, source="folder", **over):
    row = {"n": n, "source": source, "converge_s": 30.0, "threads_peak": 20, "rss_peak_mb": 80.0, "watches_net": 3.0,
           "steady_per_min_net": 10.0}
    return {**row, **over}


def test_targets_are_judged_at_the_largest_folder_run():
    rows = [_row(100, steady_per_min_net=40.0, steady_per_min_sent=2.0), _row(100, "git", threads_peak=999),
            _row(1000, converge_s=130.0, watches_net=3.4, steady_per_min_net=81.0, steady_per_min_sent=3.0)]
    fo = {"n": 100, "orphaned": 50, "orphaned_s": 29.5}
    assert report.target_lines(rows, fo) == [
        "MISSED converged from empty in under 2 minutes at N=1000: 130.0 s",
        "HOLDS  under 60 threads at N=1000: 20",
        "HOLDS  under 600 MB resident at N=1000: 80 MB",
        "HOLDS  watches equal to the resource types (3) at N=1000: 3",
        "MISSED steady requests/min within 2x from N=100 to N=1000, server side, net (includes the controller-manager's work "
        "on the new objects): 40 -> 81 (rates under 30/min count as 30: noise)",
        "HOLDS  steady requests/min within 2x from N=100 to N=1000, sent by the daemon: 2 -> 3",
        "HOLDS  orphaned syncs converged within 30 s of the kill: 29.5 s",
    ]


def test_steady_rates_within_noise_hold_and_unavailable_failover_is_not_judged():
    rows = [_row(10, steady_per_min_net=-2.0), _row(30, steady_per_min_net=55.0)]
    lines = report.target_lines(rows, {"n": 10, "unavailable": "this daemon has no --shards"})
    assert lines[-1] == ("HOLDS  steady requests/min within 2x from N=10 to N=30, server side, net (includes the controller-manager's "
                         "work on the new objects): -2 -> 55 (rates under 30/min count as 30: noise)")  # no daemon count: not judged
    assert not any("orphaned" in line for line in lines)
    assert report.target_lines([], None) == []


@pytest.mark.parametrize("value, fmt, shown", [(None, "{:.0f}", "-"), (-0.3, "{:.0f}", "0"), (-0.04, "{:.1f}", "0.0"),
                                               (-0.6, "{:.0f}", "-1"), (-10.0, "{:.0f}", "-10"), (12.25, "{:.1f}", "12.2")])
def test_cells_show_noise_around_zero_as_zero(value, fmt, shown):
    assert report.cell(value, fmt) == shown
