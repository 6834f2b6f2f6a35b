"""The daemon's web surface (a Starlette app served by `daemon/http.py`).

    app.py        routes: /healthz /readyz /metrics, POST /webhook/<sync>; JSON errors
    receiver.py   webhook authentication, bounded body reading, per-sync trigger coalescing
    auth.py       who may read the dashboard and press its buttons (token, session cookie, CSRF)
    views.py      the documents of /api/v1, built from the sync workers (the pages render the same)
    api.py        /api/v1 and its OpenAPI document
    ui.py         the pages (templates/, static/)
"""
