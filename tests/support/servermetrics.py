"""The API server's own /metrics, read by tests that count what a client costs the server."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

# The gauge of open long-running requests was renamed in 1.23; a 1.20 server has the old name.
WATCH_GAUGES = ("apiserver_longrunning_requests", "apiserver_longrunning_gauge")


def server_metrics_text(cluster) -> str:
    """GET /metrics with the kubeconfig's credentials (Cluster.request decodes JSON only)."""
    headers = {"Accept": "text/plain"}
    auth = cluster.credentials.authorization()
    if auth:
        headers["Authorization"] = auth
    resp = cluster.pool().request("GET", cluster.server + "/metrics", headers=headers, timeout=60.0, retries=False)
    assert resp.status == 200, f"the API server's /metrics answered {resp.status}"
    return resp.data.decode(errors="replace")


def open_watches(cluster) -> dict[str, float]:
    """Open WATCH requests on the server by resource (every client's)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(server_metrics_text(cluster)):
        if family.name not in WATCH_GAUGES:
            continue
        for s in family.samples:
            if s.labels.get("verb") == "WATCH" and s.value:
                out[s.labels.get("resource", "")] = out.get(s.labels.get("resource", ""), 0.0) + s.value
    return out
