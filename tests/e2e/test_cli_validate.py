"""No silent typos, on the real control plane through the CLI: an unknown field fails `plan` and `apply`
with its file, line and path and nothing is applied (1.37: the server's strict field validation; 1.20,
which has none: the server's schema); `--validate=warn` applies and warns; `--validate=none` applies as
before; a CRD with CEL rules, which 1.20 would store without them, is refused there and applied on 1.37."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.support.cli import run

TYPOS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replica: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          imagePullPolice: Always
"""
VALID = TYPOS.replace("  replica: 2\n", "  replicas: 2\n").replace("          imagePullPolice: Always\n", "")
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: prod}\n"  # an earlier wave than the Deployment


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", "-").replace("-yaml", ".yaml")).write_text(textwrap.dedent(text))
    return folder


def strict_head(server_version) -> str:
    if server_version >= (1, 25):
        return "the server rejects 1 object(s) of the plan (server-side dry run); nothing was applied:"
    return ("1 object(s) of the plan are invalid (unknown fields checked against the server's schema: Kubernetes before "
            "1.25 has no strict field validation); nothing was applied:")


def typo_lines(namespace: str) -> list[str]:
    ref = f"apps/v1 Deployment {namespace}/web"
    return [f'  web.yaml:6: {ref}: unknown field "spec.replica" (did you mean "replicas"?)',
            f'  web.yaml:16: {ref}: unknown field "spec.template.spec.containers[0].imagePullPolice" (did you mean "imagePullPolicy"?)']


def test_typos_fail_plan_and_apply_with_file_line_and_path_and_nothing_is_applied(tmp_path, kubeconfig, cluster, namespace,
                                                                                  server_version):
    src = write(tmp_path / "src", a_config_yaml=CONFIG, web_yaml=TYPOS)
    sync = f"typos-{namespace[-6:]}"
    for command in (["plan"], ["apply", "--yes"], ["diff"]):
        proc = run(*command, str(src), "-n", namespace, "--name", sync, kubeconfig=kubeconfig, check_code=1)
        lines = proc.stderr.splitlines()
        assert lines[0] == f"error: {strict_head(server_version)}", proc.stderr
        assert lines[1:3] == typo_lines(namespace), proc.stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/settings") is None
    assert cluster.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/web") is None
    assert cluster.get_or_none(f"/api/v1/namespaces/kubesync-system/configmaps/kubesync-inventory-{sync}") is None


def test_a_typo_added_to_an_applied_object_fails_its_update(tmp_path, kubeconfig, cluster, namespace, server_version):
    src = write(tmp_path / "src", web_yaml=VALID)
    run("apply", str(src), "-n", namespace, "--name", f"upd-{namespace[-6:]}", kubeconfig=kubeconfig, check_code=0)
    write(src, web_yaml=TYPOS)
    proc = run("apply", str(src), "-n", namespace, "--name", f"upd-{namespace[-6:]}", kubeconfig=kubeconfig, check_code=1)
    assert proc.stderr.splitlines()[1:3] == typo_lines(namespace), proc.stderr
    live = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert live["spec"]["replicas"] == 2 and "replica" not in live["spec"]


def test_a_typo_in_a_namespace_the_plan_creates_is_refused_before_the_namespace_is_created(tmp_path, kubeconfig, cluster,
                                                                                         namespace):
    """Nothing in a namespace that does not exist yet can be dry-run: the schema checks it, on every version."""
    fresh = f"{namespace}-new"
    src = write(tmp_path / "src", ns_yaml=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {fresh}}}\n",
                web_yaml=TYPOS.replace("  name: web\n", f"  name: web\n  namespace: {fresh}\n"))
    proc = run("apply", str(src), "--yes", "--name", f"new-{namespace[-6:]}", kubeconfig=kubeconfig, check_code=1)
    assert "(unknown fields checked against the server's schema: " in proc.stderr.splitlines()[0], proc.stderr
    assert f'web.yaml:7: apps/v1 Deployment {fresh}/web: unknown field "spec.replica" (did you mean "replicas"?)' in proc.stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{fresh}") is None


def test_validate_warn_applies_without_the_unknown_fields_and_warns(tmp_path, kubeconfig, cluster, namespace):
    src = write(tmp_path / "src", web_yaml=TYPOS)
    sync = ("--name", f"warn-{namespace[-6:]}", "-n", namespace)
    proc = run("apply", str(src), *sync, "--validate=warn", kubeconfig=kubeconfig, check_code=0)
    warned = [f"{line.strip()}: the server drops it (--validate=warn)" for line in typo_lines(namespace)]
    assert all(w in proc.stdout.splitlines() for w in [f"  {w}" for w in warned]), proc.stdout
    live = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert live["spec"]["replicas"] == 1 and "replica" not in live["spec"]  # the server's default: the typo had no effect
    again = run("plan", str(src), *sync, "--validate=warn", "-o", "json", kubeconfig=kubeconfig, check_code=0)
    plan = json.loads(again.stdout)
    assert [a["type"] for a in plan["actions"]] == ["noop"]
    assert [w for w in plan["warnings"] if 'unknown field "' in w] == warned


def test_validate_none_applies_as_before_and_kubesync_yaml_can_say_so(tmp_path, kubeconfig, cluster, namespace):
    src = write(tmp_path / "src", web_yaml=TYPOS)
    sync = f"none-{namespace[-6:]}"
    proc = run("apply", str(src), "--name", sync, "-n", namespace, "--validate=none", kubeconfig=kubeconfig, check_code=0)
    assert "unknown field" not in proc.stdout + proc.stderr
    assert cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["spec"]["replicas"] == 1
    config = tmp_path / "kubesync.yaml"
    config.write_text(f"syncs:\n  - name: {sync}\n    source: {{path: ./src}}\n    namespace: {namespace}\n    validate: none\n")
    proc = run("plan", "--config", str(config), "--name", sync, str(src), "--exit-code", kubeconfig=kubeconfig, check_code=2)
    assert "+  replica: 2" in proc.stdout  # as before: unchecked, the dropped field is a change every time
    proc = run("plan", "--config", str(config), "--name", sync, str(src), "--validate=strict", kubeconfig=kubeconfig,
               check_code=1)  # the flag beats the file
    assert 'unknown field "spec.replica"' in proc.stderr


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.{group}
spec:
  group: {group}
  names: {{kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      selectableFields:
        - jsonPath: .spec.color
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-validations:
                - rule: "self.size >= 0"
              properties:
                color: {{type: string}}
                size: {{type: integer}}
"""


def test_a_crd_with_cel_rules_is_refused_where_the_server_would_drop_them_and_applied_where_it_keeps_them(
        tmp_path, kubeconfig, cluster, namespace, server_version):
    group = f"{namespace[-6:]}.cel.example.com"
    src = write(tmp_path / "src", crd_yaml=CRD.format(group=group))
    name = f"gadgets.{group}"
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    try:
        proc = run("apply", str(src), "--name", f"cel-{namespace[-6:]}", "--yes", kubeconfig=kubeconfig)
        if server_version < (1, 25):
            assert proc.returncode == 1, proc.stdout + proc.stderr
            ref = f"apiextensions.k8s.io/v1 CustomResourceDefinition {name}"
            assert proc.stderr.splitlines()[1:] == [
                f'  crd.yaml:13: {ref}: unknown field "spec.versions[0].selectableFields"',
                f'  crd.yaml:21: {ref}: unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations"',
            ], proc.stderr
            assert cluster.get_or_none(path) is None
        else:
            assert proc.returncode == 0, proc.stdout + proc.stderr
            version = cluster.get(path)["spec"]["versions"][0]
            assert version["selectableFields"] == [{"jsonPath": ".spec.color"}]
            rules = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"]
            assert [r["rule"] for r in rules] == ["self.size >= 0"]
    finally:
        try:
            cluster.request("DELETE", path)
        except Exception:
            pass


@pytest.mark.parametrize("value", ["server", "strict"])
def test_validate_server_is_still_accepted_as_strict(tmp_path, kubeconfig, namespace, value):
    src = write(tmp_path / "src", web_yaml=TYPOS)
    proc = run("plan", str(src), "-n", namespace, f"--validate={value}", kubeconfig=kubeconfig, check_code=1)
    assert 'unknown field "spec.replica"' in proc.stderr
