"""The CLI forms of chart and Jsonnet sources: flags, a kubesync.yaml entry, a saved plan applied later,
and an offline compare that renders for the versions a saved plan recorded."""

from __future__ import annotations

import json
import textwrap

from tests.support import cli
from tests.support.charts import write_chart
from tests.support.git import commit, init_repo


def test_plan_out_and_apply_a_chart_with_flags(kubeconfig, namespace, tmp_path):
    chart = write_chart(tmp_path / "web")
    (tmp_path / "more.yaml").write_text("replicaCount: 2\n")
    flags = [str(chart), "--name", f"cli-{namespace[-6:]}", "-n", namespace, "--release", "shop",
             "--values", str(tmp_path / "more.yaml"), "--set", "tier=staging"]
    planned = cli.run("plan", *flags, "--out", str(tmp_path / "plan.json"), "-o", "json", kubeconfig=kubeconfig, check_code=0)
    data = json.loads(planned.stdout)
    assert data["charts"] == [{"name": "web", "before": "", "after": "0.1.0"}]
    assert [(h["object"], h["phases"]) for h in data["hooks"]] == [(f"batch/v1 Job {namespace}/shop-web-migrate", ["PreSync"])]
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["source_spec"]["helm"]["release"] == "shop" and saved["capabilities"]["kube_version"].startswith("v1.")
    applied = cli.run("apply", "--plan", str(tmp_path / "plan.json"), "--yes", kubeconfig=kubeconfig, check_code=0)
    assert "» PreSync phase: succeeded" in applied.stdout  # the chart's pre-install hook ran first
    again = cli.run("plan", *flags, "--exit-code", kubeconfig=kubeconfig)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "web 0.1.0 (unchanged)" in again.stdout
    assert f"PreSync   batch/v1 Job {namespace}/shop-web-migrate  wave -5  BeforeHookCreation,HookSucceeded" in again.stdout


def test_a_kubesync_yaml_entry_with_a_chart_and_jsonnet(kubeconfig, namespace, tmp_path):
    write_chart(tmp_path / "web")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.jsonnet").write_text("function(name) {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: name}}\n")
    (tmp_path / "kubesync.yaml").write_text(textwrap.dedent(f"""\
        syncs:
          - name: web-{namespace[-6:]}
            namespace: {namespace}
            source:
              path: ./web
              helm: {{valuesFiles: [values-production.yaml], values: {{replicaCount: 2}}}}
          - name: js-{namespace[-6:]}
            namespace: {namespace}
            source: {{path: ./js, jsonnet: {{tlas: {{name: from-tla}}}}}}
        """))
    config = str(tmp_path / "kubesync.yaml")
    for name, path in ((f"web-{namespace[-6:]}", "web"), (f"js-{namespace[-6:]}", "js")):
        cli.run("apply", str(tmp_path / path), "--config", config, "--name", name, "--yes", kubeconfig=kubeconfig, check_code=0)
        cli.run("plan", str(tmp_path / path), "--config", config, "--name", name, "--exit-code", kubeconfig=kubeconfig, check_code=0)
    shown = cli.run("status", "--name", f"js-{namespace[-6:]}", kubeconfig=kubeconfig)
    assert "from-tla" in shown.stdout, shown.stdout + shown.stderr


def test_compare_renders_both_refs_for_a_saved_plans_versions(kubeconfig, namespace, tmp_path):
    repo = init_repo(tmp_path / "repo")
    files = {str(p.relative_to(tmp_path / "src")): p.read_text() for p in write_chart(tmp_path / "src" / "web").rglob("*") if p.is_file()}
    base = commit(repo, files, "0.1.0")
    head = commit(repo, {"web/Chart.yaml": files["web/Chart.yaml"].replace("0.1.0", "0.2.0")}, "0.2.0")
    cli.run("plan", str(tmp_path / "src" / "web"), "--name", f"cmp-{namespace[-6:]}", "-n", namespace,
            "--out", str(tmp_path / "plan.json"), kubeconfig=kubeconfig, check_code=0)
    shown = cli.run("compare", "--repo", str(tmp_path / "repo"), "--base", base, "--head", head, "--path", "web",
                    "--capabilities-from", str(tmp_path / "plan.json"), "-o", "json", check_code=0)
    data = json.loads(shown.stdout)
    assert data["charts"] == [{"name": "web", "before": "0.1.0", "after": "0.2.0"}]
    version = json.loads((tmp_path / "plan.json").read_text())["capabilities"]["kube_version"]
    cm = next(a for a in data["actions"] if a["ref"]["kind"] == "ConfigMap")
    assert cm["desired"]["data"]["kubeVersion"] == version  # rendered for the saved plan's cluster, offline
