"""The daemon's Prometheus series, in one registry per process (tests can build several).

    kubesync_sync_runs_total{sync,result}              runs by result: success, error, standby (follower), aborted
    kubesync_sync_duration_seconds{sync,result}        histogram of run durations
    kubesync_sync_errors_total{sync,error}             failed runs by error class (SourceError, PlanRefused...)
    kubesync_sync_failing{sync}                        1 while the last run failed
    kubesync_objects_total{sync,action}                applied objects by outcome: created, patched, scaled, deleted, failed...
    kubesync_drifted_objects{sync}                     objects differing from the last applied revision
    kubesync_degraded_objects{sync}                    managed objects whose health is Degraded
    kubesync_last_success_timestamp_seconds{sync}      end of the last successful run
    kubesync_last_success_revision_info{sync,revision} the revision of that run
    kubesync_triggers_total{sync,trigger}              what woke a worker: file, git, watch, resync, webhook...
    kubesync_api_errors_total{sync,error}              Kubernetes API errors by class (404s excluded)
    kubesync_leader                                    1 while this process may write
    kubesync_shards_owned                              shards this replica holds (--shards)
    kubesync_lease_conflicts                           Leases held by an unknown holder or for too long (election/holders.py)
    kubesync_alerts_total{result}                      alerts delivered / given up
    kubesync_daemon_info{identity,version}             who this process is
    kubesync_client_rate_limited_seconds_total         seconds API requests waited for the client-side limiter (--kube-api-qps)
    kubesync_client_rate_limited_requests_total        API requests that waited for it
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import CounterMetricFamily

from kubesync.cluster import ratelimit

from kubesync.model import RunResult

try:  # `_created` series double the output and nobody graphs them
    from prometheus_client import disable_created_metrics

    disable_created_metrics()
except ImportError:  # pragma: no cover - older prometheus-client
    pass

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class RateLimitCollector:
    """The client-side rate limiter's waits, read from every connection of this process at scrape time."""

    def collect(self):
        delayed, seconds = ratelimit.waited()
        yield CounterMetricFamily("kubesync_client_rate_limited_seconds",
                                  "Seconds API requests waited for the client-side rate limiter (--kube-api-qps, --kube-api-burst).",
                                  value=seconds)
        yield CounterMetricFamily("kubesync_client_rate_limited_requests", "API requests that waited for the client-side rate limiter.",
                                  value=delayed)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter("kubesync_sync_runs", "Sync runs by result.", ["sync", "result"], registry=r)
        self.duration = Histogram(
            "kubesync_sync_duration_seconds", "Duration of sync runs by result.", ["sync", "result"], buckets=DURATION_BUCKETS, registry=r
        )
        self.errors = Counter("kubesync_sync_errors", "Failed sync runs by error class.", ["sync", "error"], registry=r)
        self.failing = Gauge("kubesync_sync_failing", "1 while the last run of the sync failed.", ["sync"], registry=r)
        self.objects = Counter("kubesync_objects", "Objects acted on by outcome.", ["sync", "action"], registry=r)
        self.drifted = Gauge("kubesync_drifted_objects", "Objects differing from the last applied revision.", ["sync"], registry=r)
        self.degraded = Gauge("kubesync_degraded_objects", "Managed objects whose health is Degraded.", ["sync"], registry=r)
        self.last_success = Gauge(
            "kubesync_last_success_timestamp_seconds", "Unix time the last successful run ended.", ["sync"], registry=r
        )
        self.revision = Info("kubesync_last_success_revision", "Revision of the last successful run.", ["sync"], registry=r)
        self.hook_phases = Counter("kubesync_hook_phases", "Hook phases run (PreSync, Sync, PostSync, SyncFail) by result.",
                                   ["sync", "phase", "result"], registry=r)
        self.triggers = Counter("kubesync_triggers", "What woke a sync worker.", ["sync", "trigger"], registry=r)
        self.api_errors = Counter("kubesync_api_errors", "Kubernetes API errors by class (404s excluded).", ["sync", "error"], registry=r)
        self.leader = Gauge("kubesync_leader", "1 while this process holds the leadership (may write).", registry=r)
        self.shards_owned = Gauge("kubesync_shards_owned", "Shards this replica holds and applies (--shards).", registry=r)
        self.lease_conflicts = Gauge("kubesync_lease_conflicts", "Leases whose record no replica of ours wrote "
                                     "(unknown holder or duration out of bounds).", registry=r)
        self.alerts = Counter("kubesync_alerts", "Alerts by delivery result.", ["result"], registry=r)
        self.info = Info("kubesync_daemon", "This daemon process.", registry=r)
        r.register(RateLimitCollector())
        self.requests = Counter("kubesync_api_requests", "API requests sent, every attempt (a watch is WATCH), by method.",
                                ["method"], registry=r)
        self.queue_depth = Gauge("kubesync_queue_depth", "Syncs due to run and waiting for a worker.", registry=r)
        self.busy = Gauge("kubesync_workers_busy", "Queue workers running a sync now.", registry=r)
        self.watches = Gauge("kubesync_watches", "Open watches of the shared cache, by resource type.", ["resource"], registry=r)
        self.cached = Gauge("kubesync_cached_objects", "Managed objects held by the shared watch cache.", registry=r)

    def register_sync(self, sync: str) -> None:
        """Make a sync's series visible (at 0) before its first run, so dashboards see every sync."""
        self.failing.labels(sync).set(0)
        self.drifted.labels(sync).set(0)
        self.degraded.labels(sync).set(0)
        for result in (RunResult.SUCCESS, RunResult.ERROR, RunResult.STANDBY):
            self.runs.labels(sync, result)

    def run(self, sync: str, result: str, seconds: float, error: str = "") -> None:
        self.runs.labels(sync, result).inc()
        self.duration.labels(sync, result).observe(seconds)
        self.failing.labels(sync).set(1 if result == RunResult.ERROR else 0)
        if error:
            self.errors.labels(sync, error).inc()

    def success(self, sync: str, revision: str, when: float) -> None:
        self.last_success.labels(sync).set(when)
        self.revision.labels(sync).info({"revision": revision})

    def runtime(self, depth: int, busy: int, watches: list[dict[str, int]], cached: int) -> None:
        """The queue's and the cache's state, set just before each scrape."""
        self.queue_depth.set(depth)
        self.busy.set(busy)
        totals: dict[str, int] = {}
        for per_cache in watches:
            for resource, n in per_cache.items():
                totals[resource] = totals.get(resource, 0) + n
        for resource, n in totals.items():
            self.watches.labels(resource).set(n)
        self.cached.set(cached)

    def render(self) -> bytes:
        return generate_latest(self.registry)
