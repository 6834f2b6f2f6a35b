"""The daemon's web surface (a Starlette app served by `daemon/http.py`).

    app.py        routes: /healthz /readyz /metrics, POST /webhook/<sync>; JSON errors
    receiver.py   webhook authentication, bounded body reading, per-sync trigger coalescing
"""
