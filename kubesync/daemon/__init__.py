"""`kubesync daemon`: keep syncs converged.

    triggers.py   file changes (watchdog, debounced), git ref polls, webhook pokes -> Wakeup
    watch.py      Kubernetes watches on the managed types -> Wakeup (drift) and health
    loop.py       SyncWorker: one thread per sync; read, plan, apply (leader only), report
    leader.py     Lease election among replicas
    notify.py     alerts on transitions (sync failed/recovered, object degraded/recovered)
    metrics.py    the Prometheus series
    http.py       the HTTP server (uvicorn in one thread: limits, timeouts, IPv6)
    web/          what it serves: /healthz /readyz /metrics, authenticated POST /webhook/<sync>
    connections.py one Cluster per kubeconfig context; API errors counted per sync
    runner.py     the process: wiring, signals, ordered shutdown
    settings.py   frozen settings the CLI and kubesync.yaml fill in
"""
