#!/usr/bin/env python3
"""What a steady-state resync of a Helm chart sync costs (renders, API requests, time), beside a plain-YAML
sync of the very same objects.

    .venv/bin/python bench/charts.py [--chart ../shared/charts/ingress-nginx] [--resyncs 20] [--kubeconfig F]

Each sync is applied once, then planned `--resyncs` times the way a daemon run does it (Pipeline.load,
then Pipeline.plan, one discovery shared by every run): the chart's rendering comes from the render cache, keyed by
the chart's digest, its values and the cluster's version, so a steady resync renders nothing and sends
the same requests as the plain folder. Without --kubeconfig the embedded control plane is started and
stopped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench import workspace_cluster  # noqa: E402
from kubesync.apply import ApplySettings  # noqa: E402
from kubesync.cluster.api import Client  # noqa: E402
from kubesync.cluster.client import Cluster, add_request_hook  # noqa: E402
from kubesync.cluster.discovery import Discovery  # noqa: E402
from kubesync.settings import Flags, merge  # noqa: E402
from kubesync.sources import SourceSpec, Target, load  # noqa: E402
from kubesync.sources.rendercache import CACHE  # noqa: E402
from kubesync.sync import Pipeline, raise_for_failures  # noqa: E402


def resyncs(client: Client, config, n: int) -> tuple[list[float], list[int], int]:
    """(seconds per resync, requests per resync, renders in all) of `n` daemon-style resyncs."""
    seconds, requests, renders = [], [], CACHE.renders
    discovery = Discovery(client)  # one for every run, as the daemon's shared discovery of a context
    for _ in range(n):
        sent: list[str] = []
        remove = add_request_hook(lambda method, path, attempt: sent.append(path))
        started = time.perf_counter()
        try:
            pipe = Pipeline(client, discovery)
            planned = pipe.plan(pipe.load(config), config)
        finally:
            remove()
        assert not planned.plan.has_changes, [str(a.ref) for a in planned.plan.changes]
        seconds.append(time.perf_counter() - started)
        requests.append(len(sent))
    return seconds, requests, CACHE.renders - renders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chart", default=str(ROOT.parent / "shared" / "charts" / "kube-state-metrics"))
    p.add_argument("--resyncs", type=int, default=20)
    p.add_argument("--kubeconfig", help="use this cluster instead of starting the embedded control plane")
    args = p.parse_args(argv)
    with workspace_cluster(args.kubeconfig, "kubesync-bench-charts-") as (kubeconfig, workdir):
        client = Client(Cluster.connect(kubeconfig))
        client.create(*namespace("bench-charts"))
        chart = merge(Flags(name="bench-chart", source=SourceSpec(path=args.chart), namespace="bench-charts"))
        version = client.version()["gitVersion"]
        rendered = load(chart.source, target=Target("bench-plain", "bench-charts", version))  # the same objects as YAML, named apart
        plain_dir = workdir / "plain"
        plain_dir.mkdir()
        for i, f in enumerate(sorted({m.origin.path for m in rendered.manifests})):
            (plain_dir / f"{i:03}.yaml").write_text(rendered_text(rendered, f))
        plain = replace(chart, name="bench-plain", source=SourceSpec(path=str(plain_dir)))
        print(f"chart {args.chart} ({len(rendered.manifests)} objects) on Kubernetes {version}, {args.resyncs} resyncs each")
        print(f"{'sync':<8} {'renders':>8} {'requests/resync':>16} {'median s':>9}")
        for label, config in (("chart", chart), ("plain", plain)):
            pipe = Pipeline(client)
            raise_for_failures(pipe.apply(pipe.plan(pipe.load(config), config), ApplySettings()))
            seconds, requests, renders = resyncs(client, config, args.resyncs)
            print(f"{label:<8} {renders:>8} {statistics.median(requests):>16g} {statistics.median(seconds):>9.3f}")
        return 0


def namespace(name: str):
    from kubesync.model import NAMESPACES

    return NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def rendered_text(state, origin: str) -> str:
    import yaml

    objs = [m.obj for m in state.manifests if m.origin.path == origin]
    return yaml.safe_dump_all(objs, sort_keys=False)


if __name__ == "__main__":
    raise SystemExit(main())
