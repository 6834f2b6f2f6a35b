#!/usr/bin/env python3
"""Apply and wait until Healthy: kubesync beside kubectl on the same cluster, in one run (issue 25).

    .venv/bin/python bench/rollout.py [--objects 1000] [--runs 3] [--kubeconfig F] [--json bench/results/rollout.json]

bench/bench.py's 1,000-object set (a ConfigMap, a Deployment and a Service per app, in 10 namespaces),
applied from nothing until every Deployment is rolled out:

  kubesync   `kubesync apply DIR --yes --wait` (until every object it applied is Healthy)
  kubectl    `kubectl apply -f DIR -R`, then `kubectl rollout status deployment -l <set>` in each namespace

Pods really run: without --kubeconfig the embedded control plane is started with --nodes kwok nodes
sized so that both tools' pods fit (the set asks 100m CPU and 128Mi per pod), so each rollout ends when
the scheduler and kwok have made every pod Ready, as a kubelet would. Times are wall-clock medians of
--runs; requests are counted as in bench.py (kubesync's request hook, kubectl's -v=6 lines). Both
tools must end with every Deployment available, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import KUBECTL_REQUEST, NAMESPACES, SET_LABEL, Bench, Run, generate, median, run_child, versions  # noqa: E402  (bench/bench.py)

DEFAULT_JSON = ROOT / "bench" / "results" / "rollout.json"
TIMEOUT = "15m"


class Rollout(Bench):
    def kubesync_wait(self, prefix: str, n: int) -> Run:
        src = generate(self.workdir / prefix, prefix, n)
        return self.kubesync("apply --wait", "apply", src, prefix, "--yes", "--wait", "--timeout", TIMEOUT)

    def kubectl_wait(self, prefix: str, n: int) -> Run:
        """`kubectl apply -f DIR -R`, then `rollout status` namespace by namespace, as a script would."""
        src = generate(self.workdir / prefix, prefix, n)
        applied = self.kubectl_run("apply (part of apply + rollout status)", "apply", src)
        self.runs.remove(applied)
        seconds, requests = applied.seconds, applied.requests or 0
        for i in range(NAMESPACES):
            self.counter += 1
            label = f"{self.counter:03d}-kubectl-rollout-{prefix}-{i:02d}"
            argv = [self.kubectl, "--kubeconfig", self.kubeconfig, "--cache-dir", str(self.kubectl_cache), "rollout", "status",
                    "deployment", "-n", f"{prefix}-{i:02d}", "-l", f"{SET_LABEL}={prefix}", f"--timeout={TIMEOUT}", "-v=6"]
            took, rc, _, _, err = run_child(argv, self.env, self.logdir, label)
            if rc != 0:
                raise SystemExit(f"kubectl rollout status failed (exit {rc}); see {self.logdir / label}.err")
            seconds += took
            requests += len(KUBECTL_REQUEST.findall(err))
        run = Run("kubectl", "apply --wait", seconds, 0, applied.maxrss_mb, requests, {}, applied.load)
        self.runs.append(run)
        return run

    def all_available(self, prefix: str) -> int:
        """How many of the set's Deployments are available (both tools must leave every one so)."""
        items = self.cluster.get("/apis/apps/v1/deployments", labelSelector=f"{SET_LABEL}={prefix}").get("items", [])
        ready = [d for d in items if (d.get("status") or {}).get("availableReplicas", 0) >= (d.get("spec") or {}).get("replicas", 1)]
        if len(ready) != len(items):
            raise SystemExit(f"{prefix}: {len(items) - len(ready)} of {len(items)} Deployments are not available after the wait")
        return len(items)


def start_cluster(args, workdir: Path):
    from kubesync.localcluster import LocalCluster
    from kubesync.localnodes import NodeShape

    shape = NodeShape(args.nodes, args.node_cpu, args.node_memory, args.node_pods)
    local = LocalCluster.create(workdir / "cluster", version=args.kubernetes_version, nodes=shape)
    print(f"starting the embedded control plane (Kubernetes {local.version.full}, {shape.count} kwok nodes of "
          f"{shape.cpu} CPU, {shape.memory}, {shape.pods} pods) ...", flush=True)
    local.start()
    return local


def measure(bench: Rollout, n: int, runs: int) -> None:
    for r in range(runs):
        order = ("kubesync", "kubectl") if r % 2 == 0 else ("kubectl", "kubesync")
        for tool in order:
            prefix = f"w{'s' if tool == 'kubesync' else 'c'}{r}"
            run = bench.kubesync_wait(prefix, n) if tool == "kubesync" else bench.kubectl_wait(prefix, n)
            deployments = bench.all_available(prefix)
            print(f"  apply + wait run {r + 1}/{runs}  {tool:<8} {run.seconds:7.2f} s  {run.requests} requests  "
                  f"{deployments} Deployments available", flush=True)
            bench.delete_set(prefix, prefix if tool == "kubesync" else None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=1000, help="objects per tool (default 1000), plus 10 namespaces")
    p.add_argument("--runs", type=int, default=3, help="runs per tool; times are medians (default 3)")
    p.add_argument("--kubeconfig", help="use this cluster instead of starting the embedded control plane")
    p.add_argument("--kubernetes-version", choices=("1.37", "1.20"), default=None)
    p.add_argument("--nodes", type=int, default=4, help="kwok nodes of the embedded control plane (default 4)")
    p.add_argument("--node-cpu", default="16", help="allocatable CPU of each (default 16)")
    p.add_argument("--node-memory", default="64Gi", help="allocatable memory of each (default 64Gi)")
    p.add_argument("--node-pods", type=int, default=250, help="pods each accepts (default 250)")
    p.add_argument("--json", default=str(DEFAULT_JSON))
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kubesync-bench-rollout-"))
    local, started, load_start = None, time.time(), os.getloadavg()
    try:
        local = None if args.kubeconfig else start_cluster(args, workdir)
        kubeconfig = args.kubeconfig or str(local.kubeconfig)
        bench = Rollout(args, kubeconfig, workdir)
        bench.warm_kubectl()
        print(f"{args.objects} objects (+{NAMESPACES} namespaces) per tool, {args.runs} run(s); load average {load_start[0]:.2f}", flush=True)
        measure(bench, args.objects, args.runs)
        ks = [r for r in bench.runs if r.tool == "kubesync"]
        kc = [r for r in bench.runs if r.tool == "kubectl"]
        result = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "objects": args.objects, "runs": args.runs,
            "cluster": "given kubeconfig" if args.kubeconfig else f"embedded control plane, {args.nodes} kwok nodes",
            "cpus": os.cpu_count(), "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "versions": versions(kubeconfig),
            "kubesync_s": median(ks), "kubectl_s": median(kc),
            "kubesync_requests": median(ks, "requests"), "kubectl_requests": median(kc, "requests"),
            "kubesync_runs_s": [round(r.seconds, 2) for r in ks], "kubectl_runs_s": [round(r.seconds, 2) for r in kc],
        }
        print(f"\napply + wait until rolled out ({args.objects} objects): kubesync {result['kubesync_s']:.2f} s "
              f"({result['kubesync_requests']} requests), kubectl apply + rollout status {result['kubectl_s']:.2f} s "
              f"({result['kubectl_requests']} requests); load average end {result['load_average_end'][0]:.2f}")
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results: {out}")
        return 0
    finally:
        if local is not None:
            local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
