#!/usr/bin/env python3
"""How long the daemon takes to render a sync page and its JSON for a sync with N objects (target:
1,000 objects under 1 s on the server). The worker is a recorded state (a real Plan of N ConfigMaps
and Deployments, 10% of them drifted), served by the real app in-process, timed over HTTP.

    .venv/bin/python bench/dashboard.py [N]
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubesync.daemon.history import History, Run  # noqa: E402
from kubesync.daemon.http import StatusServer  # noqa: E402
from kubesync.daemon.state import SyncStatus  # noqa: E402
from kubesync.daemon.web.app import Hooks, build_app  # noqa: E402
from kubesync.model import Action, ActionType, ObjectRef, Plan  # noqa: E402
from kubesync.settings import SyncConfig  # noqa: E402
from kubesync.sources import SourceSpec  # noqa: E402
from kubesync.sync import Planned  # noqa: E402


def worker(n: int):
    actions = []
    for i in range(n):
        kind, group = ("Deployment", "apps") if i % 2 else ("ConfigMap", "")
        ref = ObjectRef(group, "v1", kind, f"ns-{i % 20}", f"obj-{i}")
        live = {"apiVersion": f"{group + '/' if group else ''}v1", "kind": kind,
                "metadata": {"name": ref.name, "namespace": ref.namespace}, "data": {"k": "v"}}
        drift = i % 10 == 0
        actions.append(Action(ActionType.UPDATE if drift else ActionType.NOOP, ref, wave=i % 3, live=live, desired=live,
                              patch=({"op": "replace", "path": "/data/k", "value": "w"},) if drift else ()))
    history = History()
    history.planned = Planned(Plan("big", "src", "sha256:" + "0" * 64, tuple(actions)), [], None, [])
    for i in range(50):
        history.record(Run(time.time() - i * 30, 1.2, ("watch",), "success", (("update", n // 10),)))
    return SimpleNamespace(sync=SyncConfig(name="big", source=SourceSpec(path="/src")),
                           status=SyncStatus(state="drifted", revision="sha256:" + "0" * 64, runs=50), history=history,
                           next_run=0.0)


def timed(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        size = len(resp.read())
    return time.perf_counter() - start, size


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    workers = [worker(n)]
    hooks = Hooks(health=lambda: (True, {}), ready=lambda: (True, {}), metrics=lambda: b"", trigger=lambda s: None,
                  syncs=lambda: {"big"}, workers=lambda: workers)
    server = StatusServer("127.0.0.1:0", build_app(hooks)).start()
    try:
        for path in ("/syncs/big", "/partials/syncs/big", "/api/v1/syncs/big", "/"):
            best = min(timed(f"http://{server.address}{path}") for _ in range(3))
            print(f"{path:24} {n} objects: {best[0] * 1000:7.1f} ms  ({best[1] / 1024:.0f} KiB)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
