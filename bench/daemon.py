#!/usr/bin/env python3
"""The kubesync daemon at scale: N syncs of 5 objects each, measured on the API server's side (issue 17).

    .venv/bin/python bench/daemon.py [--sizes 100,300,1000] [--sources folder,git] [--steady 90] [--baseline 30]
                                     [--failover 100 | --failover 0] [--timeout 600] [--kubernetes-version 1.37]
                                     [--json FILE] [--keep]

On its own embedded control plane (kubesync.localcluster), for every N and source kind:

  baseline     the control plane alone (controller-manager traffic) for --baseline seconds, just before
               the run: API requests per minute by verb and open WATCH requests, so the daemon's numbers
               are reported net of it (earlier runs' objects stay in the cluster, idle; the baseline
               includes whatever they cost)
  converge     `kubesync daemon --config kubesync.yaml` with N syncs (a Namespace, 3 ConfigMaps and a
               Deployment each; interval 30s, self-heal on) from start until GET /api/v1/syncs reports every sync
               Synced; server-counted requests in that time, net of the baseline
  steady       after the controller-manager has finished the Deployments' ReplicaSets and pods, the API
               server's apiserver_request_total before and after --steady seconds (requests per minute,
               net), and its open watches (apiserver_longrunning_requests / _gauge on 1.20), net
  process      peak threads and RSS (/proc/PID/status every 0.5 s, VmHWM at the end), CPU seconds
               (utime+stime of /proc/PID/stat, children such as git reported apart in the JSON)
  kubectl      `kubectl apply -R -f` of the same 5N objects into fresh namespaces, once per N: time and
               server-counted requests net of the baseline (and its own -v=6 count in the JSON)

Sources: `folder` is N folders, `git` is one bare repository (file:// URL, fetched like a remote) with N
paths. Without --sources, N <= 100 runs both and larger N folders only (each run at N = 1,000 adds
many minutes on a 2-core machine).

Failover (--failover N, 0 to skip): two daemons on one config with `--shards 8 --lease-duration 15s`;
the syncs each replica applied; then kill -9 of one replica and, at that moment, a new value of one
ConfigMap in every sync's folder; time until every ConfigMap in the cluster has it (the dead replica's
syncs need the survivor to take its shards over). Reported as not available when the daemon has no
--shards.

The control plane's own traffic varies (controller-manager resyncs, the Deployments' pods), so small
net numbers (a few requests per minute, a watch or two) are within noise. Exits 1 with the reason
when something does not converge within --timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import KUBECTL_REQUEST, Workspace, run_child, versions  # noqa: E402  (bench/bench.py, the CLI benchmark)
from daemon_failover import failover  # noqa: E402
from daemon_objects import OBJECTS_PER_SYNC, SET_LABEL, git_repository, write_config, write_folders  # noqa: E402
from daemon_probe import BenchFailure, Daemon, Scrape, scrape, wait_converged  # noqa: E402
from daemon_report import delta, failover_line, net, per_minute, table, target_lines, total, verb_classes  # noqa: E402

from kubesync.cluster.client import Cluster  # noqa: E402

WARMUP_S = 20.0


# --- the control plane alone ------------------------------------------------------------------------------


def window_rate(before: Scrape, after: Scrape) -> dict[str, float]:
    return per_minute(delta(before.requests, after.requests), after.when - before.when)


def measure_baseline(cluster: Cluster, seconds: float) -> dict:
    """Requests per minute by verb and open watches of whatever runs without the daemon."""
    before = scrape(cluster)
    time.sleep(seconds)
    after = scrape(cluster)
    return {"seconds": round(after.when - before.when, 1), "per_min": window_rate(before, after),
            "watches": (before.watches + after.watches) / 2, "watches_by_resource": after.watches_by_resource}


def net_requests(before: Scrape, after: Scrape, baseline: dict) -> dict[str, float]:
    """Requests per verb between two scrapes, less what the baseline rate makes in that time."""
    minutes = (after.when - before.when) / 60.0
    expected = {verb: rate * minutes for verb, rate in baseline["per_min"].items()}
    return net(delta(before.requests, after.requests), expected)


def settle(cluster: Cluster, prefix: str, timeout: float) -> float:
    """Wait until the controller-manager has made every Deployment's ReplicaSet and pod (its QPS of 20
    makes this minutes at N = 1000), so that work does not land in a steady-state window."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        items = cluster.get("/apis/apps/v1/deployments", labelSelector=f"{SET_LABEL}={prefix}").get("items", [])
        pending = [d for d in items if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 1)
                   or (d.get("status") or {}).get("replicas", 0) < 1]
        if not pending:
            return time.monotonic() - start
        time.sleep(2.0)
    raise BenchFailure(f"the controller-manager has not created the pods of {prefix}'s Deployments in {timeout:.0f} s")


# --- one daemon run ---------------------------------------------------------------------------------------


class DaemonBench(Workspace):
    def __init__(self, args, kubeconfig: str, workdir: Path):
        super().__init__(args, kubeconfig, workdir)
        # the daemon's git clone cache lives in the workdir, not in ~/.cache
        self.daemon_env = {"XDG_CACHE_HOME": str(workdir / "xdg-cache")}

    def config_for(self, n: int, source: str) -> tuple[str, Path]:
        prefix = f"bd{n}" if source == "folder" else f"bg{n}"
        cfg = self.workdir / f"{prefix}.kubesync.yaml"
        if source == "folder":
            write_folders(self.workdir / prefix, prefix, n)
            return prefix, write_config(cfg, prefix, n, folders_root=self.workdir / prefix)
        return prefix, write_config(cfg, prefix, n, repo=git_repository(self.workdir, prefix, n))

    def run(self, n: int, source: str) -> dict:
        prefix, cfg = self.config_for(n, source)
        names = {f"{prefix}-{i}" for i in range(n)}
        baseline = measure_baseline(self.cluster, self.args.baseline)
        print(f"  N={n} {source}: baseline {total(baseline['per_min']):.0f} req/min, {baseline['watches']:.0f} watches; "
              "starting the daemon", flush=True)
        before = scrape(self.cluster)
        daemon = Daemon(cfg, self.kubeconfig, self.logdir, f"{prefix}-daemon", extra=self.args.daemon_args, env=self.daemon_env)
        try:
            converge_s = wait_converged([daemon], names, self.args.timeout)
            converged = scrape(self.cluster)
            print(f"  N={n} {source}: converged in {converge_s:.1f} s; waiting for the controller-manager", flush=True)
            settle_s = settle(self.cluster, prefix, self.args.timeout)
            steady = self.steady(daemon, baseline)
            cpu, cpu_children = daemon.cpu()
        finally:
            peaks = daemon.stop()
        conv = net_requests(before, converged, baseline)
        return {
            "n": n, "source": source, "objects": n * OBJECTS_PER_SYNC, "converge_s": round(converge_s, 2),
            "converge_requests_net": total(conv), "converge_requests_by_verb_net": conv, "settle_s": round(settle_s, 1),
            **steady, "threads_peak": peaks.threads, "rss_peak_mb": peaks.hwm_kb / 1024 or peaks.rss_kb / 1024,
            "rss_sampled_peak_mb": peaks.rss_kb / 1024, "cpu_s": cpu, "cpu_children_s": cpu_children,
            "baseline": baseline, "log": str(daemon.log_path),
        }

    def steady(self, daemon: Daemon, baseline: dict) -> dict:
        """apiserver_request_total before and after --steady seconds with nothing but the daemon (and the
        control plane) running; the bench itself only reads the daemon's /proc meanwhile."""
        before, sent_before = scrape(self.cluster), daemon.requests_sent()
        end = time.monotonic() + self.args.steady
        while time.monotonic() < end:
            if not daemon.alive():
                raise BenchFailure(f"daemon exited with {daemon.proc.returncode} in the steady state; log {daemon.log_path}:\n"
                                   f"{daemon.log_tail()}")
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        after, sent_after = scrape(self.cluster), daemon.requests_sent()
        rate = window_rate(before, after)
        net_rate = net(rate, baseline["per_min"])
        watches = (before.watches + after.watches) / 2
        return {
            "steady_s": round(after.when - before.when, 1), "steady_per_min": total(rate), "steady_per_min_net": total(net_rate),
            "steady_per_min_sent": (sent_after - sent_before) * 60.0 / max(1e-9, after.when - before.when),
            "steady_by_class_net": verb_classes(net_rate), "steady_by_verb_net": net_rate,
            "watches": watches, "watches_net": watches - baseline["watches"],
            "watches_by_resource": net(after.watches_by_resource, baseline["watches_by_resource"]),
        }

    # -- kubectl, side by side ---------------------------------------------------------------------------------

    def kubectl_apply(self, n: int) -> dict:
        """`kubectl apply -R -f` of the same 5N objects into namespaces of its own, from empty."""
        prefix = f"bk{n}"
        root = self.workdir / prefix
        write_folders(root, prefix, n)
        subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, "--cache-dir", str(self.kubectl_cache), "api-resources"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # a warm discovery cache
        baseline = measure_baseline(self.cluster, self.args.baseline)
        argv = [self.kubectl, "--kubeconfig", self.kubeconfig, "--cache-dir", str(self.kubectl_cache), "apply", "-R", "-f", str(root), "-v=6"]
        before = scrape(self.cluster)
        seconds, rc, rss, _, err = run_child(argv, {**os.environ, "KUBECONFIG": self.kubeconfig}, self.logdir, f"{prefix}-kubectl")
        after = scrape(self.cluster)
        if rc != 0:
            tail = "\n".join(line for line in err.splitlines() if "round_trippers" not in line)[-2000:]
            raise BenchFailure(f"kubectl apply failed (exit {rc}):\n{tail}")
        by_verb = net_requests(before, after, baseline)
        settle(self.cluster, prefix, self.args.timeout)
        return {"n": n, "seconds": round(seconds, 2), "requests_net": total(by_verb), "requests_by_verb_net": by_verb,
                "client_requests": len(KUBECTL_REQUEST.findall(err)), "rss_mb": rss, "baseline": baseline}


# --- the whole run ----------------------------------------------------------------------------------------


def sources_for(n: int, asked: list[str] | None) -> list[str]:
    return asked if asked else (["folder", "git"] if n <= 100 else ["folder"])


def run_all(bench: DaemonBench, args) -> dict:
    rows, kubectl = [], {}
    for n in args.sizes:
        for source in sources_for(n, args.sources):
            rows.append(bench.run(n, source))
            r = rows[-1]
            print(f"  N={n} {source}: steady {r['steady_per_min_net']:.0f} req/min net, {r['watches_net']:.0f} watches net, "
                  f"{r['threads_peak']} threads, {r['rss_peak_mb']:.0f} MB, {r['cpu_s']:.1f} CPU s", flush=True)
        if args.no_kubectl:
            continue
        kubectl[n] = bench.kubectl_apply(n)
        print(f"  N={n} kubectl apply: {kubectl[n]['seconds']:.1f} s, {kubectl[n]['requests_net']:.0f} requests (net)", flush=True)
        for r in rows:
            if r["n"] == n:
                r["kubectl_s"], r["kubectl_requests_net"] = kubectl[n]["seconds"], kubectl[n]["requests_net"]
    fo = failover(bench, args.failover) if args.failover else None
    return {"rows": rows, "kubectl": kubectl, "failover": fo}


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100,300,1000", help="numbers of syncs, comma-separated (default 100,300,1000)")
    p.add_argument("--sources", default=None, help="folder,git (default: both for N <= 100, folder only above)")
    p.add_argument("--steady", type=float, default=90.0, help="steady-state window in seconds (default 90)")
    p.add_argument("--baseline", type=float, default=30.0, help="control-plane-alone window in seconds (default 30)")
    p.add_argument("--failover", type=int, default=100, help="syncs of the two-replica failover run; 0 skips it (default 100)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds each N may take to converge (default 600)")
    p.add_argument("--kubernetes-version", choices=("1.37", "1.20"), default=None, help="embedded control plane (default: newest built)")
    p.add_argument("--json", default=None, help="write the raw numbers here")
    p.add_argument("--keep", action="store_true", help="keep the workdir (configs, sources, daemon logs)")
    p.add_argument("--no-kubectl", action="store_true", help="skip the kubectl rows (when comparing daemon settings)")
    p.add_argument("--daemon-args", default="", help="extra flags for every daemon, e.g. \"--kube-api-qps 100 --workers 16\"")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes: {args.sizes!r} is not a comma-separated list of numbers")
    args.sources = [s.strip() for s in args.sources.split(",")] if args.sources else None
    args.daemon_args = shlex.split(args.daemon_args)
    if not args.sizes or min(args.sizes) < 1 or args.failover < 0:
        p.error("--sizes must name at least one positive number and --failover may not be negative")
    if args.sources and set(args.sources) - {"folder", "git"}:
        p.error(f"--sources: {','.join(args.sources)}: only folder and git")
    if args.steady <= 0 or args.baseline <= 0 or args.timeout <= 0:
        p.error("--steady, --baseline and --timeout must be positive")
    return args


def report(result: dict, args) -> None:
    print()
    print(table(result["rows"]))
    print("\nconverge req / steady req/min / watches: counted by the API server, net of the control plane alone (which includes "
          "the controller-manager's reaction to the new objects);\nsent/min: the daemon's own count of requests it sent in the "
          "steady window (kubesync_api_requests_total); kubectl: `apply -R -f` of the same objects, from empty")
    if result["failover"]:
        print(failover_line(result["failover"]))
    result["targets"] = target_lines(result["rows"], result["failover"])
    print("\nissue 17's targets (judged at the largest N run; they speak of N = 1,000):")
    print("\n".join(result["targets"]))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"raw numbers: {out}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kubesync-bench-daemon-"))
    started, load_start = time.time(), os.getloadavg()
    local = None
    try:
        from kubesync.localcluster import LocalCluster
        from kubesync.localnodes import NodeShape

        # No nodes: the daemon's requests are measured on a control plane that only its syncs and the
        # controllers write to (kwok's pod status patches would be noise in the steady-state counts).
        local = LocalCluster.create(workdir / "cluster", version=args.kubernetes_version, nodes=NodeShape(count=0))
        print(f"starting the embedded control plane (Kubernetes {local.version.full}) ...", flush=True)
        local.start()
        bench = DaemonBench(args, str(local.kubeconfig), workdir)
        time.sleep(WARMUP_S)  # the controller-manager's start-up burst would inflate the first baseline
        print(f"sizes {args.sizes}, steady window {args.steady:g} s, baseline {args.baseline:g} s; load average {load_start[0]:.2f}"
              + (f"; daemon flags: {' '.join(args.daemon_args)}" if args.daemon_args else ""), flush=True)
        if not args.sources:
            print("sources: folder and git for N <= 100, folder only above, to keep the run time reasonable "
                  "(--sources folder,git runs both for every N)", flush=True)
        result = run_all(bench, args)
        result.update({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "duration_s": round(time.time() - started),
                       "cpus": os.cpu_count(), "load_average_start": load_start, "load_average_end": os.getloadavg(),
                       "versions": versions(str(local.kubeconfig)), "args": vars(args)})
        report(result, args)
        return 0
    except BenchFailure as e:
        print(f"bench/daemon.py: {e}", file=sys.stderr)
        args.keep = True  # the daemons' logs say why
        return 1
    finally:
        if local is not None:
            local.stop()
        if args.keep:
            print(f"workdir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
