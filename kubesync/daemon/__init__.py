"""`kubesync daemon`: keep syncs converged.

    runner.py      the process: wiring, signals, ordered shutdown
    queue.py       the work queue: syncs are keys run by --workers threads (dedup, debounce, fairness)
    triggers.py    file changes (one watchdog observer), git ref polls (one per repository and ref) -> queue
    loop.py        SyncWorker, the glue of one sync: its triggers, its watch subscription, its state record;
                   calls run_sync and hands the events to the reporter
    reactor.py     run_sync: one read-plan-apply, collaborators passed in -> (result, new state, events)
    state.py       SyncStatus: one sync's frozen state record (state, converged revision, failures, drift...)
    events.py      what a run saw and did, as small frozen values (the reactor's words to the reporter)
    reporter.py    events -> log lines, metrics (metrics.py), alerts (notify.py), the dashboard's memory (history.py:
                   runs, drift, the current attempt, live health)
    election/      which replica writes: Lease claims, one leader or shards
    connections.py per kubeconfig context: one connection, one discovery, one watch cache (cluster/cache.py)
    http.py        the HTTP server (uvicorn in one thread: limits, timeouts, IPv6)
    web/           what it serves: /healthz /readyz (the process, never a sync) /metrics, authenticated
                   POST /webhook/<sync>, the dashboard and /api/v1 (GET /api/v1/syncs: the syncs' states)
    settings.py    frozen settings the CLI and kubesync.yaml fill in
"""
