"""Running `kubesync daemon` as a subprocess against the session's control plane, and reading it back."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from kubesync.localcluster import free_port
from tests.support import cli
from tests.support.manifests import configmap, yaml_text
from tests.support.waits import wait_for as wait_until  # noqa: F401  (the daemon tests import it from here)

REPO_ROOT = cli.REPO_ROOT


def configmap_yaml(name: str, namespace: str, **data: str) -> str:
    """One ConfigMap as the file a daemon's source folder holds (its `data` is what the tests watch)."""
    return yaml_text(configmap(name, data, namespace=namespace))


def cm_data(cluster, namespace: str, name: str) -> dict | None:
    obj = cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    return None if obj is None else obj.get("data") or {}


def data_is(cluster, namespace, name, **want):
    """A condition for wait_until: the ConfigMap's data is exactly `want`."""
    return lambda: cm_data(cluster, namespace, name) == want


class DaemonProcess:
    """One `python -m kubesync daemon ...` with its own port and log file."""

    def __init__(self, args: list[str], kubeconfig: str, log_dir: Path, name: str = "daemon", host: str = "127.0.0.1",
                 env: dict[str, str] | None = None, probes: bool = False, nofile: int | None = None):
        """`probes`: a probe listener too (--probe-listen, its port `probe_port`); `nofile`: the process's
        file-descriptor limit."""
        self.port = free_port()
        self.host = f"[{host}]" if ":" in host else host
        self.probe_port = free_port() if probes else None
        probe_args = ["--probe-listen", f"{self.host}:{self.probe_port}"] if probes else []
        self.log_path = Path(log_dir) / f"{name}-{self.port}.log"
        with open(self.log_path, "wb") as out:
            self.proc = cli.popen("daemon", *args, "--listen", f"{self.host}:{self.port}", *probe_args, kubeconfig=kubeconfig,
                                  no_color=False, env_extra={"PYTHONUNBUFFERED": "1", **(env or {})},
                                  stdout=out, stderr=subprocess.STDOUT, die_with_parent=True, nofile=nofile)

    # -- reading it ------------------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def http(self, path: str, method: str = "GET", body: bytes | None = None,
             headers: dict[str, str] | None = None, port: int | None = None) -> tuple[int, bytes] | None:
        """(status, body), or None while nothing listens yet. `port`: another listener's (the probes')."""
        req = urllib.request.Request(f"http://{self.host}:{port or self.port}{path}", data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def json(self, path: str) -> dict | None:
        got = self.http(path)
        return None if got is None else json.loads(got[1])

    def metrics(self) -> dict[tuple, float]:
        """{(sample name, frozenset of labels): value} from /metrics ({} while not up)."""
        got = self.http("/metrics")
        if got is None or got[0] != 200:
            return {}
        out = {}
        for family in text_string_to_metric_families(got[1].decode()):
            for s in family.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    def metric(self, name: str, **labels: str) -> float | None:
        return self.metrics().get((name, frozenset(labels.items())))

    def syncs(self) -> dict | None:
        """GET /api/v1/syncs: every sync's state, one-line reason and revision tried, the totals and the
        failing syncs' names (None while nothing listens)."""
        got = self.http("/api/v1/syncs")
        return None if got is None or got[0] != 200 else json.loads(got[1])

    def sync(self, name: str) -> dict | None:
        """One sync's row of GET /api/v1/syncs (None while there is none)."""
        return next((s for s in (self.syncs() or {}).get("syncs", ()) if s["name"] == name), None)

    def wait_ready(self, timeout: float = 30.0) -> dict:
        """/readyz's document once the process is ready and every sync has run without failing (where most
        tests start from; /readyz alone says nothing about the syncs)."""
        def ready():
            self.check_alive()
            got = self.http("/readyz")
            if got is None or got[0] != 200:
                return None
            listed = self.syncs()
            if not listed or listed["failed"] or any(s["last_run"] is None for s in listed["syncs"]):
                return None
            return json.loads(got[1])

        return wait_until(ready, timeout, what=f"daemon ready; log:\n{self.log()}")

    def wait_every_sync_ran(self, timeout: float = 30.0) -> dict:
        """GET /api/v1/syncs once every sync has run, whether it failed or not."""
        def ran():
            self.check_alive()
            listed = self.syncs()
            return listed if listed and listed["syncs"] and all(s["last_run"] for s in listed["syncs"]) else None

        return wait_until(ran, timeout, what=f"every sync ran; log:\n{self.log()}")

    def settled(self, sync: str) -> bool:
        """`sync` neither runs nor waits to run for a trigger: the next run queued is its periodic
        resync, over a minute away (the tests' syncs resync every 5 minutes; a trigger queues a run
        within a second and a run in progress has none queued). What a test waits for before it
        asserts that something did not happen: whatever was going to run has run."""
        doc = self.json(f"/api/v1/syncs/{sync}") or {}
        return (doc.get("next_run") or 0) > time.time() + 60

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}; log:\n{self.log()}")

    # -- stopping it -----------------------------------------------------------------------------------

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "DaemonProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
