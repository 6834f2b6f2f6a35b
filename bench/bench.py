#!/usr/bin/env python3
"""kubesync side by side with kubectl on the same cluster, in one run.

    .venv/bin/python bench/bench.py [--objects 1000] [--runs 3] [--kubeconfig F] [--big 10000 | --no-big]
                                    [--json bench/results/latest.json]

Scenarios (each tool gets its own namespaces, so neither sees the other's objects; the order of the
two tools alternates from run to run):

  first sync      `kubesync apply` vs `kubectl apply -f DIR -R`, from nothing (fresh namespaces every run)
  steady state    `kubesync plan` vs `kubectl diff -f DIR -R`, nothing to do
  10% changed     `kubesync apply` vs `kubectl apply -f DIR -R` after a tenth of the objects changed
  big             `kubesync apply` then `kubesync plan` of --big objects (peak memory)

Times are wall-clock medians of --runs subprocess runs. Requests are counted on the client side:
kubesync's own `Cluster.stats` (bench/kubesync_probe.py runs the CLI in-process and reports them),
kubectl's `-v=6` log lines (one per response). Peak RSS is each child's own, from wait4().
Without --kubeconfig the embedded control plane (kubesync.localcluster) is started and stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from kubesync import errors  # noqa: E402
from kubesync.cluster.client import Cluster  # noqa: E402

PROBE = ROOT / "bench" / "kubesync_probe.py"
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
NAMESPACES = 10
CHANGED_SHARE = 10  # every 10th object changes in the "10% changed" scenario
SET_LABEL = "bench.kubesync.io/set"
KUBECTL_REQUEST = re.compile(r"round_trippers\.go:\d+\] (GET|POST|PUT|PATCH|DELETE|HEAD) https?://\S+ \d{3} ")
TARGETS = {"plan_vs_diff": 5.0, "first_sync": 4.0, "rss_mb_big": 300.0}
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# ---------------------------------------------------------------------------------------- objects


def app_objects(prefix: str, app: int, kinds: int, rev: str, changed: set[int]) -> list[dict]:
    """Up to three objects of one app: a ConfigMap, a Deployment with resources, a Service."""
    ns = f"{prefix}-{app % NAMESPACES:02d}"
    name = f"app-{app:05d}"
    labels = {"app": name, SET_LABEL: prefix}

    def rev_of(kind_index: int) -> str:
        return rev if app * 3 + kind_index in changed else "r0"

    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "data": {
            "revision": rev_of(0),
            "LOG_LEVEL": "info",
            "FEATURE_FLAGS": "checkout,search,recommendations",
            "application.properties": f"server.port=8080\nspring.application.name={name}\ncache.ttl=300\n",
        },
    }
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example.com/bench/app:{rev_of(1)}",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "envFrom": [{"configMapRef": {"name": name}}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                        }
                    ]
                },
            },
        },
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": {"bench.kubesync.io/revision": rev_of(2)}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
    }
    return [cm, deploy, svc][:kinds]


def changed_indexes(n: int) -> set[int]:
    return set(range(0, n, CHANGED_SHARE))


def generate(root: Path, prefix: str, n: int, rev: str = "r0") -> Path:
    """A folder of n objects (plus NAMESPACES Namespaces), one file per app, one folder per namespace.

    Objects whose index is a multiple of CHANGED_SHARE carry `rev`, the others `r0`; so the same
    folder regenerated with a new rev changes exactly a tenth of the objects.
    """
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{prefix}-{i:02d}", "labels": {SET_LABEL: prefix}}}
                  for i in range(NAMESPACES)]
    # `00-` sorts before the namespace folders: kubectl applies files in path order.
    (root / "00-namespaces.yaml").write_text(yaml.dump_all(namespaces, Dumper=_Dumper, sort_keys=False))
    changed = changed_indexes(n) if rev != "r0" else set()
    apps = (n + 2) // 3
    for app in range(apps):
        docs = app_objects(prefix, app, min(3, n - app * 3), rev, changed)
        folder = root / docs[0]["metadata"]["namespace"]
        folder.mkdir(exist_ok=True)
        (folder / f"app-{app:05d}.yaml").write_text(yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False))
    return root


def deployments_in(n: int) -> int:
    return sum(1 for i in range(n) if i % 3 == 1)


# ---------------------------------------------------------------------------------------- running


@dataclass
class Run:
    tool: str
    scenario: str
    seconds: float
    rc: int
    maxrss_mb: float
    requests: int | None = None
    detail: dict = field(default_factory=dict)
    load: float = 0.0


def run_child(argv: list[str], env: dict[str, str], logdir: Path, label: str) -> tuple[float, int, float, str, str]:
    """Run one command alone: (seconds, exit code, peak RSS in MB, stdout, stderr).

    wait4() gives this child's own rusage, so neither the control plane nor the other tool pollutes
    the peak RSS.
    """
    out_path, err_path = logdir / f"{label}.out", logdir / f"{label}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, proc.returncode, usage.ru_maxrss / 1024, out_path.read_text(errors="replace"), err_path.read_text(errors="replace")


class Workspace:
    """What every benchmark of this folder starts from: its arguments, the cluster, a work folder for
    logs, and kubectl with a discovery cache of its own (not the user's ~/.kube)."""

    def __init__(self, args, kubeconfig: str, workdir: Path):
        self.args = args
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.logdir = workdir / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.cluster = Cluster.connect(kubeconfig)
        self.kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
        self.kubectl_cache = workdir / "kubectl-cache"


class Bench(Workspace):
    def __init__(self, args, kubeconfig: str, workdir: Path):
        super().__init__(args, kubeconfig, workdir)
        self.runs: list[Run] = []
        self.env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": kubeconfig}
        self.counter = 0

    # -- the two tools ---------------------------------------------------------------------------------

    def kubesync(self, scenario: str, command: str, source: Path, sync: str, *extra: str, check: bool = True) -> Run:
        self.counter += 1
        label = f"{self.counter:03d}-kubesync-{command}-{sync}"
        report = self.logdir / f"{label}.report.json"
        argv = [sys.executable, str(PROBE), command, str(source), "--name", sync, "--kubeconfig", self.kubeconfig, "--no-color", *extra]
        load = os.getloadavg()[0]
        seconds, rc, rss, out, err = run_child(argv, {**self.env, "KUBESYNC_BENCH_REPORT": str(report)}, self.logdir, label)
        detail = json.loads(report.read_text()) if report.exists() else {}
        run = Run("kubesync", scenario, seconds, rc, rss, detail.get("requests"), detail, load)
        if check and rc not in (0,):
            raise SystemExit(f"kubesync {command} failed (exit {rc}); see {self.logdir / label}.err:\n{err[-2000:]}")
        self.runs.append(run)
        return run

    def kubectl_run(self, scenario: str, command: str, source: Path, ok_codes=(0,)) -> Run:
        self.counter += 1
        label = f"{self.counter:03d}-kubectl-{command}-{source.name}"
        argv = [self.kubectl, "--kubeconfig", self.kubeconfig, "--cache-dir", str(self.kubectl_cache), command, "-f", str(source), "-R", "-v=6"]
        load = os.getloadavg()[0]
        seconds, rc, rss, out, err = run_child(argv, self.env, self.logdir, label)
        lines = KUBECTL_REQUEST.findall(err)
        by_method: dict[str, int] = {}
        for method in lines:
            by_method[method] = by_method.get(method, 0) + 1
        run = Run("kubectl", scenario, seconds, rc, rss, len(lines), {"by_method": by_method}, load)
        if rc not in ok_codes:
            tail = "\n".join(line for line in err.splitlines() if "round_trippers" not in line)[-2000:]
            raise SystemExit(f"kubectl {command} failed (exit {rc}); see {self.logdir / label}.err:\n{tail}")
        self.runs.append(run)
        return run

    # -- cluster housekeeping (not timed) --------------------------------------------------------------

    def warm_kubectl(self) -> None:
        """Fill kubectl's discovery cache once, as any real user's would be."""
        subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, "--cache-dir", str(self.kubectl_cache), "api-resources"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    def settle(self, prefix: str, timeout: float = 300.0) -> None:
        """Wait until the controllers have reacted to the last run (ReplicaSets and pods created), so
        their work does not land on the next timed run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.cluster.get("/apis/apps/v1/deployments", labelSelector=f"{SET_LABEL}={prefix}").get("items", [])
            pending = [d for d in items if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 1)
                       or (d.get("status") or {}).get("updatedReplicas", 0) < (d.get("spec") or {}).get("replicas", 1)]
            if not pending:
                time.sleep(1.0)
                return
            time.sleep(1.0)
        print(f"  (warning: deployments of {prefix} still progressing after {timeout:.0f}s)", flush=True)

    def delete_set(self, prefix: str, sync: str | None = None, wait: bool = True, timeout: float = 600.0) -> None:
        """Delete a set's namespaces (and kubesync's inventory of it) and wait until they are gone."""
        names = [f"{prefix}-{i:02d}" for i in range(NAMESPACES)]
        for name in names:
            try:
                self.cluster.request("DELETE", f"/api/v1/namespaces/{name}")
            except errors.ClusterNotFound:
                pass
        if sync:
            try:
                self.cluster.request("DELETE", f"/api/v1/namespaces/kubesync-system/configmaps/kubesync-inventory-{sync}")
            except errors.ClusterNotFound:
                pass
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.cluster.get_or_none(f"/api/v1/namespaces/{name}") is None for name in names):
                return
            time.sleep(1.0)
        print(f"  (warning: namespaces of {prefix} still terminating after {timeout:.0f}s)", flush=True)

    # -- scenarios -------------------------------------------------------------------------------------

    def first_sync(self, n: int, runs: int) -> tuple[str, str]:
        """Each run creates a fresh set per tool; all but the last run's sets are deleted afterwards."""
        for r in range(runs):
            order = ("kubesync", "kubectl") if r % 2 == 0 else ("kubectl", "kubesync")
            sets = {"kubesync": f"ks{r}", "kubectl": f"kc{r}"}
            for tool in order:
                prefix = sets[tool]
                src = generate(self.workdir / prefix, prefix, n)
                if tool == "kubesync":
                    run = self.kubesync("first sync", "apply", src, prefix, "--yes")
                else:
                    run = self.kubectl_run("first sync", "apply", src)
                print(f"  first sync   run {r + 1}/{runs}  {tool:<8} {run.seconds:7.2f} s  {run.requests} requests  {run.maxrss_mb:.0f} MB",
                      flush=True)
                self.settle(prefix)
            if r < runs - 1:
                for tool, prefix in sets.items():
                    self.delete_set(prefix, prefix if tool == "kubesync" else None)
        last = runs - 1
        return f"ks{last}", f"kc{last}"

    def steady(self, ks: str, kc: str, runs: int) -> None:
        for r in range(runs):
            order = ("kubesync", "kubectl") if r % 2 == 0 else ("kubectl", "kubesync")
            for tool in order:
                if tool == "kubesync":
                    run = self.kubesync("steady state", "plan", self.workdir / ks, ks, "--exit-code", check=False)
                    if run.rc != 0:
                        raise SystemExit(f"kubesync plan found changes in the steady state (exit {run.rc}); see {self.logdir}")
                else:
                    run = self.kubectl_run("steady state", "diff", self.workdir / kc, ok_codes=(0, 1))
                    if run.rc == 1:
                        print("  (note: kubectl diff reported differences in the steady state)", flush=True)
                print(f"  steady state run {r + 1}/{runs}  {tool:<8} {run.seconds:7.2f} s  {run.requests} requests  {run.maxrss_mb:.0f} MB",
                      flush=True)

    def changed(self, n: int, ks: str, kc: str, runs: int) -> None:
        for r in range(runs):
            rev = f"r{r + 1}"
            order = ("kubesync", "kubectl") if r % 2 == 0 else ("kubectl", "kubesync")
            for tool in order:
                prefix = ks if tool == "kubesync" else kc
                src = generate(self.workdir / prefix, prefix, n, rev)
                if tool == "kubesync":
                    run = self.kubesync("10% changed", "apply", src, prefix, "--yes")
                else:
                    run = self.kubectl_run("10% changed", "apply", src)
                print(f"  10% changed  run {r + 1}/{runs}  {tool:<8} {run.seconds:7.2f} s  {run.requests} requests  {run.maxrss_mb:.0f} MB",
                      flush=True)
                self.settle(prefix)
        # converged: a plan right after must find nothing to do
        check = self.kubesync("check", "plan", self.workdir / ks, ks, "--exit-code", check=False)
        self.runs.remove(check)
        if check.rc != 0:
            raise SystemExit(f"kubesync did not converge: plan after apply exits {check.rc}")

    def big(self, n: int) -> None:
        prefix = "ksbig"
        src = generate(self.workdir / prefix, prefix, n)
        for scenario, command, extra in ((f"big first sync", "apply", ("--yes",)), ("big steady state", "plan", ("--exit-code",))):
            run = self.kubesync(scenario, command, src, prefix, *extra)
            print(f"  {scenario:<16} ({n} objects) kubesync {run.seconds:7.2f} s  {run.requests} requests  {run.maxrss_mb:.0f} MB",
                  flush=True)
            # No settle here: the controller-manager (20 QPS) needs minutes to create the ReplicaSets and
            # pods of thousands of Deployments; the plan is read-only and its no-op check is unaffected.


# ---------------------------------------------------------------------------------------- report


def median(runs: list[Run], attr: str = "seconds"):
    values = [getattr(r, attr) for r in runs if getattr(r, attr) is not None]
    return statistics.median(values) if values else None


def summarize(bench: Bench, n: int, big: int | None) -> dict:
    def pick(tool, scenario):
        return [r for r in bench.runs if r.tool == tool and r.scenario == scenario]

    rows = []
    for scenario, label in (("first sync", f"first sync ({n} objects)"), ("steady state", f"steady state: plan vs diff ({n})"),
                            ("10% changed", f"10% changed ({n // CHANGED_SHARE} of {n})")):
        ks, kc = pick("kubesync", scenario), pick("kubectl", scenario)
        ks_s, kc_s = median(ks), median(kc)
        rows.append({
            "scenario": scenario,
            "label": label,
            "kubesync_s": ks_s,
            "kubectl_s": kc_s,
            "ratio": kc_s / ks_s if ks_s and kc_s else None,
            "kubesync_requests": median(ks, "requests"),
            "kubectl_requests": median(kc, "requests"),
            "kubesync_rss_mb": max((r.maxrss_mb for r in ks), default=None),
            "kubectl_rss_mb": max((r.maxrss_mb for r in kc), default=None),
            "kubesync_runs_s": [round(r.seconds, 3) for r in ks],
            "kubectl_runs_s": [round(r.seconds, 3) for r in kc],
            "kubesync_requests_by_class": ks[-1].detail.get("by_class") if ks else None,
            "kubectl_requests_by_method": kc[-1].detail.get("by_method") if kc else None,
        })
    big_rows = []
    if big:
        for scenario in ("big first sync", "big steady state"):
            ks = pick("kubesync", scenario)
            if ks:
                big_rows.append({"scenario": scenario, "objects": big, "kubesync_s": ks[0].seconds, "kubesync_requests": ks[0].requests,
                                 "kubesync_rss_mb": ks[0].maxrss_mb, "kubesync_requests_by_class": ks[0].detail.get("by_class")})
    by = {r["scenario"]: r for r in rows}
    steady = by["steady state"]
    types = 4  # Namespace, ConfigMap, Deployment, Service
    rss_1000 = max((r["kubesync_rss_mb"] or 0) for r in rows)
    rss_big = max((r["kubesync_rss_mb"] for r in big_rows), default=None)
    targets = {
        "plan_5x_faster_than_diff": {"value": steady["ratio"], "target": ">= 5x", "holds": bool(steady["ratio"] and steady["ratio"] >= TARGETS["plan_vs_diff"])},
        "first_sync_4x_faster_than_apply": {"value": by["first sync"]["ratio"], "target": ">= 4x",
                                            "holds": bool(by["first sync"]["ratio"] and by["first sync"]["ratio"] >= TARGETS["first_sync"])},
        "steady_plan_requests_O_types": {
            "value": steady["kubesync_requests"],
            "target": f"<= 2 x resource types + 2 = {2 * types + 2} ({types} types), independent of the object count",
            "holds": bool(steady["kubesync_requests"] is not None and steady["kubesync_requests"] <= 2 * types + 2),
        },
        "peak_rss_under_300mb_big": {"value": rss_big, "target": f"< 300 MB at {big} objects" if big else "not run",
                                     "holds": bool(rss_big is not None and rss_big < TARGETS["rss_mb_big"])},
    }
    return {"rows": rows, "big": big_rows, "targets": targets, "rss_mb_at_n": rss_1000}


def fmt_s(v) -> str:
    return "-" if v is None else f"{v:.2f} s"


def fmt_n(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def table(summary: dict, n: int) -> str:
    head = f"{'scenario':<40}{'kubesync':>10}{'kubectl':>10}{'ratio':>8}{'kubesync req':>14}{'kubectl req':>13}"
    lines = [head, "-" * len(head)]
    for r in summary["rows"]:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        lines.append(f"{r['label']:<40}{fmt_s(r['kubesync_s']):>10}{fmt_s(r['kubectl_s']):>10}{ratio:>8}"
                     f"{fmt_n(r['kubesync_requests']):>14}{fmt_n(r['kubectl_requests']):>13}")
    for r in summary["rows"]:
        lines.append(f"{'peak RSS, ' + r['scenario'] + f' ({n})':<40}{fmt_n(r['kubesync_rss_mb']) + ' MB':>10}{fmt_n(r['kubectl_rss_mb']) + ' MB':>10}")
    for r in summary["big"]:
        label = f"{r['scenario'].replace('big ', '')} ({r['objects']} objects)"
        lines.append(f"{label:<40}{fmt_s(r['kubesync_s']):>10}{'-':>10}{'':>8}{fmt_n(r['kubesync_requests']):>14}")
        lines.append(f"{'peak RSS, ' + label:<40}{fmt_n(r['kubesync_rss_mb']) + ' MB':>10}")
    lines.append("")
    for name, t in summary["targets"].items():
        value = t["value"]
        shown = "-" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))
        lines.append(f"{'HOLDS' if t['holds'] else 'MISSED':<7} {name}: {shown} (target {t['target']})")
    return "\n".join(lines)


@contextlib.contextmanager
def workspace_cluster(kubeconfig: str | None, prefix: str) -> Iterator[tuple[str, Path]]:
    """(kubeconfig, work folder): the given cluster, else the embedded control plane started here and
    stopped afterwards; the work folder is removed either way."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    local = None
    try:
        if not kubeconfig:
            from kubesync.localcluster import LocalCluster
            from kubesync.localnodes import NodeShape

            local = LocalCluster.create(workdir / "cluster", nodes=NodeShape(count=0))  # as main(): no pods run
            local.start()
            kubeconfig = str(local.kubeconfig)
        yield kubeconfig, workdir
    finally:
        if local is not None:
            local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def versions(kubeconfig: str) -> dict:
    out = {"python": sys.version.split()[0]}
    try:
        v = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "version", "-o", "json"], capture_output=True, text=True, timeout=30)
        doc = json.loads(v.stdout)
        out["kubectl"] = doc.get("clientVersion", {}).get("gitVersion")
        out["server"] = doc.get("serverVersion", {}).get("gitVersion")
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    try:
        out["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=1000, help="objects per tool (default 1000), plus 10 namespaces")
    p.add_argument("--runs", type=int, default=3, help="runs per scenario; times are medians (default 3)")
    p.add_argument("--kubeconfig", help="use this cluster instead of starting the embedded control plane")
    p.add_argument("--kubernetes-version", choices=("1.37", "1.20"), default=None, help="embedded control plane version (default: the newest built)")
    p.add_argument("--big", type=int, default=10000, help="objects for the peak-memory run (default 10000)")
    p.add_argument("--no-big", dest="big", action="store_const", const=0, help="skip the big run")
    p.add_argument("--json", default=str(DEFAULT_JSON), help=f"write results here (default {DEFAULT_JSON.relative_to(ROOT)})")
    p.add_argument("--keep", action="store_true", help="leave the benchmark's objects (and workdir) behind")
    args = p.parse_args(argv)
    if args.objects < 3 or args.runs < 1:
        p.error("--objects must be at least 3 and --runs at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="kubesync-bench-"))
    local = None
    started = time.time()
    load_start = os.getloadavg()
    try:
        if args.kubeconfig:
            kubeconfig = args.kubeconfig
        else:
            from kubesync.localcluster import LocalCluster
            from kubesync.localnodes import NodeShape

            # No nodes, as when these numbers were first taken: pods stay Pending, so neither tool's runs
            # share the machine with kwok and the scheduler (bench/rollout.py is the one where pods run).
            local = LocalCluster.create(workdir / "cluster", version=args.kubernetes_version, nodes=NodeShape(count=0))
            print(f"starting the embedded control plane (Kubernetes {local.version.full}) ...", flush=True)
            local.start()
            kubeconfig = str(local.kubeconfig)
        bench = Bench(args, kubeconfig, workdir)
        bench.warm_kubectl()
        print(f"{args.objects} objects (+{NAMESPACES} namespaces) per tool, {args.runs} run(s) each; load average {load_start[0]:.2f}", flush=True)
        ks, kc = bench.first_sync(args.objects, args.runs)
        bench.steady(ks, kc, args.runs)
        bench.changed(args.objects, ks, kc, args.runs)
        if args.big:
            if not args.kubeconfig or not args.keep:
                for tool, prefix in (("kubesync", ks), ("kubectl", kc)):
                    bench.delete_set(prefix, prefix if tool == "kubesync" else None)
            bench.big(args.big)
        summary = summarize(bench, args.objects, args.big)
        load_end = os.getloadavg()
        result = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1),
            "objects": args.objects,
            "runs": args.runs,
            "big": args.big,
            "cluster": "given kubeconfig" if args.kubeconfig else "embedded control plane (kubesync.localcluster)",
            "cpus": os.cpu_count(),
            "load_average_start": load_start,
            "load_average_end": load_end,
            "versions": versions(kubeconfig),
            **summary,
            "runs_raw": [asdict(r) for r in bench.runs],
        }
        print()
        print(table(summary, args.objects))
        print(f"\nload average (1/5/15 min): start {'/'.join(f'{x:.2f}' for x in load_start)}, "
              f"end {'/'.join(f'{x:.2f}' for x in load_end)}; {os.cpu_count()} CPUs")
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results: {out}")
        if args.kubeconfig and not args.keep:
            for tool, prefix in (("kubesync", ks), ("kubectl", kc), ("kubesync", "ksbig")):
                bench.delete_set(prefix, prefix if tool == "kubesync" else None, wait=False)
        return 0
    finally:
        if local is not None:
            local.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"workdir kept: {workdir}")


if __name__ == "__main__":
    raise SystemExit(main())
