"""Bad input through the real CLI (`python -m kubesync apply ... --yes`): exit 1, one error naming the
file (and line where the loader knows it), and a cluster left exactly as it was: a valid ConfigMap in
another file of the same folder is NOT created, and no inventory is written.

An object the server rejects is different: loading succeeded, so the earlier waves are applied, the
failing wave finishes, later waves are never started, and the error names the file."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from kubesync.cluster.api import Client
from kubesync import inventory
from kubesync.cluster import inventory as stored_inventory
from tests.support import cli as support_cli
from tests.support.manifests import write

REPO_ROOT = Path(__file__).resolve().parents[2]

GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  k: v\n"


def kubesync(*args: str, kubeconfig: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return support_cli.run(*args, "--kubeconfig", kubeconfig, timeout=timeout)


def _malformed(d, ns):
    (d / "b-bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n data:\n  k: v\n")
    return "b-bad.yaml:5: invalid YAML at column 2: did not find expected key (while parsing a block mapping at line 1)"


def _not_a_mapping(d, ns):
    (d / "b-bad.yaml").write_text(GOOD.replace("good", "other") + "---\n- just\n- a list\n")
    return "b-bad.yaml:8: a document must be a mapping with apiVersion, kind and metadata, not a list"


def _missing_name(d, ns):
    (d / "b-bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {app: web}\ndata:\n  k: v\n")
    return "b-bad.yaml:1: ConfigMap: metadata.name is missing; set it, e.g. name: web"


def _duplicated(d, ns):
    (d / "b-bad.yaml").write_text("# the same ConfigMap again\n" + GOOD.replace("k: v", "k: other"))
    return "b-bad.yaml:2: v1 ConfigMap good: defined twice, first at a-good.yaml:1; keep only one definition"


def _unknown_kind(d, ns):
    (d / "b-bad.yaml").write_text("apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n")
    return (
        "b-bad.yaml:1: example.com/v1 Gizmo g: the cluster does not serve kind 'Gizmo' in 'example.com/v1'; "
        "is its CustomResourceDefinition installed (or misspelled apiVersion/kind)?"
    )


def _five_mib(d, ns):
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: "
    body = head + "x" * (5 * 1024 * 1024 - len(head) - 1) + "\n"
    (d / "b-big.yaml").write_text(body)
    assert (d / "b-big.yaml").stat().st_size == 5 * 1024 * 1024
    return "b-big.yaml: file is 5 MiB, over the 4 MiB limit; split it, or add it to .kubesyncignore"


def _binary(d, ns):
    (d / "b-bin.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    return (
        "b-bin.yaml: binary file (it contains a NUL byte); only YAML and JSON text is read, "
        "remove it or add it to .kubesyncignore"
    )


def _not_utf8(d, ns):
    (d / "b-latin1.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: caf\xe9\n")
    return "b-latin1.yaml:6: not valid UTF-8 (byte 0xE9); save the file as UTF-8 or add it to .kubesyncignore"


def _symlink_loop_folder(d, ns):
    (d / "sub").mkdir()
    os.symlink("..", d / "sub" / "up")
    return "sub/up/: symlink loop (it points back to a folder above it); remove the link, or add it to .kubesyncignore"


def _symlink_loop_file(d, ns):
    os.symlink("b-self.yaml", d / "b-self.yaml")
    return "b-self.yaml: symlink loop (too many levels of symbolic links); remove the link, or add it to .kubesyncignore"


MANIFEST_PROBLEMS = {
    "malformed-yaml": _malformed,
    "not-a-mapping": _not_a_mapping,
    "missing-name": _missing_name,
    "duplicated-object": _duplicated,
    "5-mib-file": _five_mib,
    "binary-file": _binary,
    "not-utf8": _not_utf8,
    "symlink-loop-folder": _symlink_loop_folder,
    "symlink-loop-file": _symlink_loop_file,
}
RESOLVE_PROBLEMS = {
    "unknown-kind": _unknown_kind,
}


def assert_untouched(cluster, namespace: str, sync: str) -> None:
    names = [c["metadata"]["name"] for c in cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"]]
    assert [n for n in names if n != "kube-root-ca.crt"] == []  # the valid ConfigMap was not created either
    inventory_path = f"/api/v1/namespaces/{inventory.DEFAULT_NAMESPACE}/configmaps/{inventory.inventory_name(sync)}"
    assert cluster.get_or_none(inventory_path) is None


@pytest.mark.parametrize("case", list(MANIFEST_PROBLEMS) + list(RESOLVE_PROBLEMS))
def test_bad_input_exits_1_naming_the_file_and_changes_nothing(case, kubeconfig, cluster, namespace, tmp_path):
    folder = write(tmp_path / "src", {"a-good.yaml": GOOD})
    make = MANIFEST_PROBLEMS.get(case) or RESOLVE_PROBLEMS[case]
    problem = make(folder, namespace)
    sync = f"bad-{namespace[-6:]}"
    result = kubesync("apply", str(folder), "--yes", "-n", namespace, "--name", sync, kubeconfig=kubeconfig)
    assert result.returncode == 1, result.stdout + result.stderr
    if case in MANIFEST_PROBLEMS:
        head = "error: 1 problem in the desired state; nothing was applied:"
    else:
        head = "error: 1 object(s) cannot be resolved against the cluster; nothing was applied:"
    assert result.stderr == f"{head}\n  {problem}\n"
    assert result.stdout == ""  # no plan was shown: nothing could be planned
    assert_untouched(cluster, namespace, sync)


def test_the_same_object_twice_once_namespaces_are_defaulted(kubeconfig, cluster, namespace, tmp_path):
    folder = write(tmp_path / "src", {
        "a-good.yaml": GOOD,
        "b-dup.yaml": GOOD.replace("name: good", f"name: good\n  namespace: {namespace}"),
    })
    sync = f"dupns-{namespace[-6:]}"
    result = kubesync("apply", str(folder), "--yes", "-n", namespace, "--name", sync, kubeconfig=kubeconfig)
    assert result.returncode == 1
    assert f"  b-dup.yaml:1: v1 ConfigMap {namespace}/good: defined again (first at a-good.yaml:1)\n" in result.stderr
    assert result.stderr.startswith("error: the same object is defined twice once namespaces are defaulted")
    assert_untouched(cluster, namespace, sync)


def test_every_problem_of_a_source_is_listed_in_one_run(kubeconfig, cluster, namespace, tmp_path):
    folder = write(tmp_path / "src", {"a-good.yaml": GOOD})
    malformed = _malformed(folder, namespace)  # b-bad.yaml
    binary = _binary(folder, namespace)  # b-bin.yaml
    (folder / "c-noname.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {}\n")
    (folder / "d.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "j"}\n "data": {}}\n')
    sync = f"multi-{namespace[-6:]}"
    result = kubesync("apply", str(folder), "--yes", "-n", namespace, "--name", sync, kubeconfig=kubeconfig)
    assert result.returncode == 1
    assert result.stderr == (
        "error: 4 problems in the desired state; nothing was applied:\n"
        f"  {malformed}\n"
        f"  {binary}\n"
        "  c-noname.yaml:1: Secret: metadata.name is missing; set it, e.g. name: web\n"
        "  d.json:3: invalid JSON at column 2: Expecting ',' delimiter\n"
    )
    assert_untouched(cluster, namespace, sync)


DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: web, image: "nginx:1.25"}]
    """


def test_object_rejected_by_the_server_applies_earlier_waves_only_and_names_the_file(kubeconfig, cluster, namespace, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a-config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  k: v\n")  # wave 2
    (folder / "b-service.yaml").write_text(  # wave 3: the server answers 422
        "# a Service whose port is out of range\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  ports:\n    - port: 99999\n      protocol: TCP\n"
    )
    (folder / "c-deploy.yaml").write_text(textwrap.dedent(DEPLOYMENT))  # wave 4: must not start
    sync = f"rejected-{namespace[-6:]}"
    # --validate=none: the apply-time path (an object the server rejects only when written; by default
    # the plan's dry run rejects it first, see tests/e2e/test_review.py)
    result = kubesync("apply", str(folder), "--yes", "-n", namespace, "--name", sync, "--validate=none", kubeconfig=kubeconfig)
    assert result.returncode == 1, result.stdout + result.stderr

    server_says = (
        'Service "broken" is invalid: [spec.ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive, '
        "spec.ports[0].targetPort: Invalid value: 99999: must be between 1 and 65535, inclusive]"
    )
    failure = f"b-service.yaml:2: v1 Service {namespace}/broken: POST /api/v1/namespaces/{namespace}/services: {server_says}"
    assert f"+ created   v1 ConfigMap {namespace}/ok\n" in result.stdout
    assert f"! failed    {failure}\n" in result.stdout
    assert "Apply complete: 1 created, 0 patched, 0 scaled, 0 deleted, 1 failed." in result.stdout
    assert "Deployment" not in result.stdout.split("Apply complete:")[0].split("\n+ created")[-1]
    lines = result.stderr.splitlines()
    assert f"  {failure}" in lines
    assert "  1 action(s) in later waves were not started" in lines
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/ok") is not None
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/services/broken") is None
    assert cluster.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/web") is None
    entries = stored_inventory.read(Client(cluster), sync)
    assert [(e.ref.kind, e.ref.name) for e in entries] == [("ConfigMap", "ok")]
    # One action failed; the Deployment was not started, which is not a failure of its own
    # (sync.raise_for_failures appends the "not started" note to the failures it counts).
    assert lines[0] == "error: 1 action(s) failed:", result.stderr


def test_a_namespace_on_a_cluster_scoped_object_is_ignored_with_a_warning(kubeconfig, cluster, namespace, tmp_path):
    """Upstream manifests often carry one (kubectl, Argo CD and Flux apply them; the server ignores it)."""
    folder = tmp_path / "src"
    folder.mkdir()
    name = f"reader-{namespace}"
    (folder / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nrules: []\n"
    )
    sync = f"crole-{namespace[-6:]}"
    warning = (
        f"role.yaml:1: rbac.authorization.k8s.io/v1 ClusterRole {namespace}/{name}: ClusterRole is cluster-scoped; "
        f"metadata.namespace '{namespace}' is ignored (remove it from the manifest)"
    )
    try:
        applied = kubesync("apply", str(folder), "--yes", "--name", sync, kubeconfig=kubeconfig)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert warning in applied.stdout + applied.stderr
        live = cluster.get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
        assert "namespace" not in live["metadata"]
        again = kubesync("plan", str(folder), "--name", sync, "--exit-code", kubeconfig=kubeconfig)
        assert again.returncode == 0, again.stdout + again.stderr  # no perpetual diff
    finally:
        cluster.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
