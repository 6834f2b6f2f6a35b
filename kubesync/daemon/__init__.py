"""`kubesync daemon`: keep syncs converged.

    queue.py      the work queue: syncs are keys run by --workers threads (dedup, debounce, fairness)
    triggers.py   file changes (one watchdog observer), git ref polls (one per repository and ref) -> queue
    loop.py       SyncWorker: one sync's state and run; read, plan, apply (leader or shard owner only), report
    leader.py     Lease election among replicas
    notify.py     alerts on transitions (sync failed/recovered, object degraded/recovered)
    metrics.py    the Prometheus series
    http.py       the HTTP server (uvicorn in one thread: limits, timeouts, IPv6)
    web/          what it serves: /healthz /readyz /metrics, authenticated POST /webhook/<sync>
    connections.py per kubeconfig context: one Cluster, one discovery, one watch cache (cluster/cache.py)
    runner.py     the process: wiring, signals, ordered shutdown
    settings.py   frozen settings the CLI and kubesync.yaml fill in
"""
