"""A saved plan cannot be forged (issue 31): `apply --plan` plans the recorded source again, at the
recorded revision, with the recorded settings, against the recorded cluster, and applies only when
that gives the same actions. A tampered file (an added ClusterRoleBinding of cluster-admin to
system:anonymous, an added deletion of an object kubesync never managed, a changed value) or one
stripped of what makes it checkable (its cluster, its source) is refused, and the cluster is unchanged."""

from __future__ import annotations

import copy
import json

import pytest

from tests.support.cli import run

CRB = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: {value}}}\n"


@pytest.fixture
def saved(kubeconfig, namespace, tmp_path):
    """A reviewed plan of one ConfigMap, saved; the fixture's name names the sync."""
    src = tmp_path / "app"
    src.mkdir()
    (src / "a.yaml").write_text(configmap("a", "reviewed"))
    out = tmp_path / "plan.json"
    run("plan", str(src), "--name", f"forge-{namespace[-6:]}", "-n", namespace, "--out", str(out), kubeconfig=kubeconfig,
        check_code=0)
    return out


def apply(path, kubeconfig, *extra, code):
    return run("apply", "--plan", str(path), "--yes", *extra, kubeconfig=kubeconfig, check_code=code)


def tamper(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def escalation(namespace: str) -> dict:
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": f"pwned-{namespace[-6:]}"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "User", "name": "system:anonymous", "apiGroup": "rbac.authorization.k8s.io"}]}
    return {"type": "create", "object": f"rbac.authorization.k8s.io/v1 ClusterRoleBinding pwned-{namespace[-6:]}",
            "ref": {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRoleBinding", "namespace": "",
                    "name": f"pwned-{namespace[-6:]}"},
            "wave": 2, "origin": None, "patch": [], "desired": binding, "live": None, "uid": "", "resource_version": "",
            "replicas": None, "risks": ["rbac"], "note": ""}


def test_an_untampered_plan_applies(saved, kubeconfig, cluster, namespace):
    apply(saved, kubeconfig, code=0)
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/a")["data"] == {"k": "reviewed"}


def test_an_added_cluster_admin_binding_is_refused(saved, kubeconfig, cluster, namespace):
    tamper(saved, lambda d: d["actions"].append(escalation(namespace)))
    refused = apply(saved, kubeconfig, code=1)
    assert (f"create rbac.authorization.k8s.io/v1 ClusterRoleBinding pwned-{namespace[-6:]}: in the saved plan, "
            "not in a fresh plan of its source") in refused.stderr
    assert cluster.get_or_none(f"{CRB}/pwned-{namespace[-6:]}") is None
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/a") is None  # nothing of it applied


def test_an_added_deletion_of_a_foreign_object_is_refused(saved, kubeconfig, cluster, namespace):
    foreign = cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                              body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs"}, "data": {"k": "v"}})

    def delete_theirs(d):
        d["actions"].append({**copy.deepcopy(d["actions"][0]), "type": "delete", "object": f"v1 ConfigMap {namespace}/theirs",
                             "ref": {**d["actions"][0]["ref"], "name": "theirs"}, "desired": None, "patch": [],
                             "uid": foreign["metadata"]["uid"], "risks": ["delete"],
                             "resource_version": foreign["metadata"]["resourceVersion"]})  # passes the staleness check

    tamper(saved, delete_theirs)
    refused = apply(saved, kubeconfig, code=1)
    assert f"delete v1 ConfigMap {namespace}/theirs: in the saved plan, not in a fresh plan of its source" in refused.stderr
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/theirs")["metadata"]["uid"] == foreign["metadata"]["uid"]


def test_a_changed_value_is_refused(saved, kubeconfig, cluster, namespace):
    tamper(saved, lambda d: d["actions"][0]["desired"]["data"].update(k="forged"))
    refused = apply(saved, kubeconfig, code=1)
    assert f"create v1 ConfigMap {namespace}/a: its desired differ from a fresh plan of its source" in refused.stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/a") is None


def test_an_added_hook_is_refused(saved, kubeconfig, cluster, namespace):
    """A hook runs with the plan: a Job slipped into a plan file would run whatever its pod says."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pwn", "namespace": namespace},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "evil"}]}}}}
    hook = {"ref": {"group": "batch", "version": "v1", "kind": "Job", "namespace": namespace, "name": "pwn"},
            "object": f"batch/v1 Job {namespace}/pwn", "phases": ["PreSync"], "wave": 0, "delete_policies": ["HookSucceeded"],
            "origin": "a.yaml:1", "said": "argocd.argoproj.io/hook: PreSync", "skipped": "", "desired": job}
    tamper(saved, lambda d: d["hooks"].append(hook))
    refused = apply(saved, kubeconfig, code=1)
    assert f"hook batch/v1 Job {namespace}/pwn: in the saved plan, not in a fresh plan of its source" in refused.stderr
    assert cluster.get_or_none(f"/apis/batch/v1/namespaces/{namespace}/jobs/pwn") is None


@pytest.mark.parametrize("field, what", [("cluster", "the cluster it was made against"), ("source_spec", "its source"),
                                         ("settings", "the settings it was made with")])
def test_a_plan_stripped_of_what_makes_it_checkable_is_refused(saved, kubeconfig, cluster, namespace, field, what):
    tamper(saved, lambda d: d.pop(field))
    refused = apply(saved, kubeconfig, code=1)
    assert f"the saved plan does not record {what}" in refused.stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/a") is None


def test_a_signed_plan_is_applied_only_with_its_signature(kubeconfig, cluster, namespace, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "a.yaml").write_text(configmap("a", "reviewed"))
    key, other = tmp_path / "key", tmp_path / "other"
    key.write_text("a-signing-key-of-the-pipeline-0123456789\n")
    other.write_text("another-key-of-someone-else-9876543210\n")
    out = tmp_path / "plan.json"
    run("plan", str(src), "--name", f"signed-{namespace[-6:]}", "-n", namespace, "--out", str(out), "--sign-key", str(key),
        kubeconfig=kubeconfig, check_code=0)
    assert json.loads(out.read_text())["signature"].startswith("hmac-sha256:")
    assert "does not match --sign-key" in apply(out, kubeconfig, "--sign-key", str(other), code=1).stderr
    tamper(out, lambda d: d.update(namespace="elsewhere"))
    assert "does not match --sign-key" in apply(out, kubeconfig, "--sign-key", str(key), code=1).stderr
    tamper(out, lambda d: (d.pop("signature"), d.update(namespace=namespace)))
    assert "the plan is not signed" in apply(out, kubeconfig, "--sign-key", str(key), code=1).stderr
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/a") is None
    run("plan", str(src), "--name", f"signed-{namespace[-6:]}", "-n", namespace, "--out", str(out), "--sign-key", str(key),
        kubeconfig=kubeconfig, check_code=0)
    apply(out, kubeconfig, "--sign-key", str(key), code=0)
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/a")["data"] == {"k": "reviewed"}
