"""`kubesync plan` against the nodes: a Deployment whose pods fit no node is flagged `unschedulable`
(and `--fail-on unschedulable` exits 1, as a CI gate would use it); a plan that fits says the headroom."""

from __future__ import annotations

import json

from tests.support import cli as support_cli
from tests.support.fixtures import require_simulated_nodes

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          resources: {{requests: {{cpu: "{cpu}", memory: 256Mi}}}}
"""


def plan(tmp_path, kubeconfig, namespace, *extra, **deployment):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / "app.yaml").write_text(DEPLOYMENT.format(**deployment))
    return support_cli.run("plan", str(folder), "-n", namespace, "--name", f"cap-{namespace[-6:]}", *extra, kubeconfig=kubeconfig)


def test_a_deployment_larger_than_any_node_is_flagged_unschedulable(tmp_path, kubeconfig, namespace):
    require_simulated_nodes()
    result = plan(tmp_path, kubeconfig, namespace, "--fail-on", "unschedulable", name="big", replicas=1, cpu="64")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: the plan has risky changes named by --fail-on: unschedulable" in result.stderr
    assert f"create  apps/v1 Deployment {namespace}/big" in result.stdout and "unschedulable" in result.stdout
    assert "Capacity (3 nodes: 12 CPU and 48Gi allocatable, the largest node 4 CPU and 16Gi):" in result.stdout
    assert (f"  unschedulable: apps/v1 Deployment {namespace}/big: one pod requests 64 CPU and 256Mi memory; the largest node "
            "offers 4 CPU and 16Gi (0/3 nodes are available: insufficient cpu)") in result.stdout


def test_a_plan_that_fits_says_the_headroom_left(tmp_path, kubeconfig, namespace):
    require_simulated_nodes()
    result = plan(tmp_path, kubeconfig, namespace, "--fail-on", "unschedulable", "-o", "json", name="web", replicas=3, cpu="500m")
    assert result.returncode == 0, result.stdout + result.stderr
    capacity = json.loads(result.stdout)["capacity"]
    assert capacity["fits"] is True and capacity["nodes"] == 3
    assert capacity["total"]["requests.cpu"] == {"before": "0", "after": "1.5"}
    assert capacity["headroom"] == {"requests.cpu": "10.5", "requests.memory": "47.25Gi"}
    text = plan(tmp_path, kubeconfig, namespace, name="web", replicas=3, cpu="500m")
    assert "  fits: 10.5 CPU and 47.25Gi memory left on the nodes (at most: workloads this plan leaves alone are not counted)" in text.stdout
