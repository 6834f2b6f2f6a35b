"""What bench/daemon.py measures with: the API server's /metrics, a daemon subprocess, /proc samples."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from daemon_report import open_watches, requests_by_verb, samples

from kubesync.cluster.client import Cluster
from kubesync.localcluster import free_port
from tests.support import cli

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchFailure(Exception):
    """Something did not converge or died: the run stops with this message and exit status 1."""


# --- the API server's own counters -----------------------------------------------------------------------


@dataclass
class Scrape:
    """One read of the API server's /metrics: requests per verb so far, and open watches now."""

    when: float
    requests: dict[str, float]
    watches: float
    watches_by_resource: dict[str, float]


def scrape(cluster: Cluster) -> Scrape:
    """GET /metrics with the kubeconfig's credentials (Cluster.request decodes JSON only)."""
    headers = {"Accept": "text/plain"}
    auth = cluster.credentials.authorization()
    if auth:
        headers["Authorization"] = auth
    resp = cluster.pool().request("GET", cluster.server + "/metrics", headers=headers, timeout=60.0, retries=False)
    if resp.status != 200:
        raise SystemExit(f"the API server's /metrics answered {resp.status}: {resp.data[:200]!r}")
    text = resp.data.decode(errors="replace")
    watches, by_resource = open_watches(text)
    return Scrape(time.monotonic(), requests_by_verb(text), watches, by_resource)


# --- /proc ------------------------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """Threads, VmRSS and VmHWM (kB) of a live process ({} once it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Threads", "VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except (OSError, ValueError):
        return {}
    return out


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) in seconds: the process's own CPU, and its waited-for children's (git)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0, 0.0
    # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / CLOCK_TICKS, (cutime + cstime) / CLOCK_TICKS


@dataclass
class Peaks:
    threads: int = 0
    rss_kb: int = 0
    hwm_kb: int = 0
    samples: int = 0


class Sampler:
    """Samples Threads and VmRSS of a process every `period` seconds in a thread, keeping the peaks."""

    def __init__(self, pid: int, period: float = 0.5):
        self.pid, self.period = pid, period
        self.peaks = Peaks()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sampler-{pid}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.period)

    def sample(self) -> None:
        status = proc_status(self.pid)
        if status:
            p = self.peaks
            p.threads = max(p.threads, status.get("Threads", 0))
            p.rss_kb = max(p.rss_kb, status.get("VmRSS", 0))
            p.hwm_kb = max(p.hwm_kb, status.get("VmHWM", 0))
            p.samples += 1

    def stop(self) -> Peaks:
        self.sample()  # the last VmHWM, while the process still lives
        self.done.set()
        self.thread.join(5)
        return self.peaks


# --- one daemon subprocess --------------------------------------------------------------------------------


@dataclass
class Daemon:
    """`python -m kubesync daemon --config FILE --listen 127.0.0.1:PORT [extra...]`, logging to a file."""

    config: Path
    kubeconfig: str
    logdir: Path
    label: str
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.log_path = self.logdir / f"{self.label}.log"
        self.started = time.monotonic()
        with open(self.log_path, "wb") as out:
            self.proc = cli.popen("daemon", "--config", self.config, "--listen", f"127.0.0.1:{self.port}", *self.extra,
                                  kubeconfig=self.kubeconfig, env_extra={"PYTHONUNBUFFERED": "1", **self.env},
                                  stdout=out, stderr=subprocess.STDOUT, die_with_parent=True)
        self.sampler = Sampler(self.proc.pid)

    def requests_sent(self) -> float:
        """The daemon's own count of API requests sent (kubesync_api_requests_total, every method)."""
        from prometheus_client.parser import text_string_to_metric_families

        got = self.http("/metrics")
        if got is None or got[0] != 200:
            return float("nan")
        return sum(s.value for f in text_string_to_metric_families(got[1].decode()) for s in f.samples
                   if s.name == "kubesync_api_requests_total")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def http(self, path: str) -> tuple[int, bytes] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def syncs(self) -> dict | None:
        """GET /api/v1/syncs: every sync's state (/readyz is about the process only)."""
        got = self.http("/api/v1/syncs")
        try:
            return None if got is None else json.loads(got[1])
        except ValueError:
            return None

    def wrote_syncs(self) -> set[str]:
        """Syncs this replica has acted on objects of (kubesync_objects_total > 0: created, patched...)."""
        got = self.http("/metrics")
        if got is None or got[0] != 200:
            return set()
        return {labels["sync"] for _, labels, value in samples(got[1].decode(errors="replace"), ("kubesync_objects_total",))
                if value > 0}

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.proc.pid)

    def stop(self, timeout: float = 30.0) -> Peaks:
        """SIGTERM (SIGKILL after `timeout`); the peaks sampled until then."""
        peaks = self.sampler.stop() if self.alive() else self.sampler.peaks
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.sampler.done.set()
        return peaks

    def kill(self) -> None:
        """SIGKILL, as a crashed node would: no Lease released, nothing flushed."""
        self.sampler.done.set()
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)


def states(doc: dict | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in (doc or {}).get("syncs") or ():
        out[s["state"]] = out.get(s["state"], 0) + 1
    return out


def wait_converged(daemons: list[Daemon], names: set[str], timeout: float) -> float:
    """Seconds from the first daemon's start until every sync reports `Synced` in some replica's GET /api/v1/syncs."""
    start = daemons[0].started
    while time.monotonic() - start < timeout:
        synced: set[str] = set()
        for d in daemons:
            if not d.alive():
                raise BenchFailure(f"daemon {d.label} exited with {d.proc.returncode}; log {d.log_path}:\n{d.log_tail()}")
            doc = d.syncs()
            synced |= {s["name"] for s in (doc or {}).get("syncs") or () if s["state"] == "Synced"}
        if names <= synced:
            return time.monotonic() - start
        time.sleep(0.5)
    seen = [f"{d.label}: {states(d.syncs())}" for d in daemons]
    raise BenchFailure(f"not every sync Synced within {timeout:.0f} s ({'; '.join(seen)}); logs in {daemons[0].logdir}")
