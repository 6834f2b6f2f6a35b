"""Plan and apply against the real control plane: order, idempotence, exact requests, conflicts,
invalid objects, prune safety, foreign owners, CRDs with their custom resources, server dry run."""

from __future__ import annotations

import dataclasses

import textwrap

import pytest

from kubesync.settings import Validation
from kubesync.cluster.api import Client
from kubesync import errors
from kubesync.model import ActionType
from kubesync.sync import raise_for_failures
from kubesync.cluster import inventory as stored_inventory
from tests.support.harness import SyncHarness
from tests.support.manifests import configmap, crd, crd_path, custom, deployment, secret, service, service_account, yaml_text
from tests.support.waits import settle


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


class Sync(SyncHarness):
    """One sync under test: a folder of YAML, planned and applied through the facade (kubesync.sync)."""

    def __init__(self, cluster, folder, name, namespace, **plan_opts):
        super().__init__(cluster, folder, f"{name}-{namespace[-6:]}", namespace, **plan_opts)  # sync names are cluster-wide


APP = yaml_text(
    configmap("settings", {"greeting": "hello"}),
    secret(string_data={"password": "s3cret-value"}),
    service(),
    deployment(replicas=2, container={
        "ports": [{"containerPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "0.5", "memory": "128Mi"}},
        "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}}],
    }),
    service_account("web"),
)


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    write(folder, "app.yaml", APP)
    return folder


def test_first_sync_creates_everything_in_wave_order_and_second_plan_is_empty(cluster, namespace, src):
    sync = Sync(cluster, src, "app", namespace)
    planned, report = sync.apply()
    assert [(o.result, o.action.ref.kind) for o in report.outcomes] == [
        ("created", "ServiceAccount"),
        ("created", "ConfigMap"),
        ("created", "Secret"),
        ("created", "Service"),
        ("created", "Deployment"),
    ]
    assert not report.failures
    live = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubesync"
    assert live["metadata"]["labels"]["kubesync.io/sync"] == sync.spec.name
    secret = cluster.get(f"/api/v1/namespaces/{namespace}/secrets/creds")
    assert secret["data"] == {"password": "czNjcmV0LXZhbHVl"}

    second = sync.plan()
    assert [a.type for a in second.plan.actions] == [ActionType.NOOP] * 5
    assert not second.plan.has_changes
    # The inventory records every object with its uid.
    entries = stored_inventory.read(Client(cluster), sync.spec.name, namespace)
    assert sorted(e.ref.kind for e in entries) == ["ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"]
    assert all(e.uid for e in entries)


def test_steady_state_plan_costs_one_list_per_type(cluster, namespace, src):
    sync = Sync(cluster, src, "app", namespace)
    sync.apply()
    before = dict(cluster.stats.by_method)
    planned = sync.plan()
    after = cluster.stats.by_method
    assert not planned.plan.has_changes
    gets = after["GET"] - before.get("GET", 0)
    # 5 resource types: one labelled LIST each, the inventory, and discovery of 2 group-versions.
    assert gets == 5 + 1 + 2
    assert after["PATCH"] == before.get("PATCH", 0) and after["POST"] == before.get("POST", 0)


def test_each_action_type_sends_exactly_its_request(cluster, namespace, src):
    sync = Sync(cluster, src, "app", namespace)
    sync.apply()
    settle(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    text = (src / "app.yaml").read_text()
    (src / "app.yaml").write_text(text.replace("greeting: hello", "greeting: bonjour").replace("replicas: 2", "replicas: 4"))
    planned = sync.plan()
    types = {a.ref.kind: a.type for a in planned.plan.changes}
    assert types == {"ConfigMap": ActionType.UPDATE, "Deployment": ActionType.SCALE}
    cm = next(a for a in planned.plan.changes if a.ref.kind == "ConfigMap")
    assert cm.patch == ({"op": "replace", "path": "/data/greeting", "value": "bonjour"},)
    before = dict(cluster.stats.by_method)
    _, report = sync.apply(planned)
    delta = {m: cluster.stats.by_method[m] - before.get(m, 0) for m in ("PATCH", "POST", "DELETE")}
    # one JSON patch for the ConfigMap, one patch of the scale subresource; the inventory is a PUT
    assert delta == {"PATCH": 2, "POST": 0, "DELETE": 0}
    assert cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["spec"]["replicas"] == 4
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/settings")["data"] == {"greeting": "bonjour"}

    # delete: drop the Service from the source and prune
    docs = (src / "app.yaml").read_text().split("---\n")
    (src / "app.yaml").write_text("---\n".join(d for d in docs if "kind: Service\n" not in d))
    planned = sync.plan(prune=True)
    assert [(a.type, a.ref.kind) for a in planned.plan.changes] == [(ActionType.DELETE, "Service")]
    before = dict(cluster.stats.by_method)
    _, report = sync.apply(planned)
    assert cluster.stats.by_method["DELETE"] - before.get("DELETE", 0) == 1
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/services/web") is None
    assert "Service" not in {e.ref.kind for e in stored_inventory.read(Client(cluster), sync.spec.name, namespace)}


def test_concurrent_change_between_plan_and_apply_is_rediffed_not_overwritten(cluster, namespace, src):
    sync = Sync(cluster, src, "app", namespace)
    sync.apply()
    (src / "app.yaml").write_text((src / "app.yaml").read_text().replace("greeting: hello", "greeting: bonjour"))
    planned = sync.plan()
    # Someone else edits the same ConfigMap after we planned: adds a key of their own.
    path = f"/api/v1/namespaces/{namespace}/configmaps/settings"
    cluster.request("PATCH", path, body={"data": {"extra": "theirs"}}, content_type="application/merge-patch+json")
    _, report = sync.apply(planned)
    assert not report.failures
    data = cluster.get(path)["data"]
    assert data == {"greeting": "bonjour", "extra": "theirs"}  # ours applied, theirs kept


def test_invalid_object_stops_after_its_wave_and_names_the_file(cluster, namespace, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    write(folder, "a-config.yaml", yaml_text(configmap("ok", {"k": "v"})))
    write(folder, "b-service.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec:\n  ports:\n    - port: 99999\n      protocol: TCP\n")
    write(folder, "c-deploy.yaml", textwrap.dedent(APP).split("---\n")[3])
    sync = Sync(cluster, folder, "bad", namespace)
    with pytest.raises(errors.PlanInvalid) as rejected:  # the plan's server dry run sees it first: nothing applied
        sync.plan()
    [problem] = rejected.value.problems
    assert problem.startswith(f"b-service.yaml:1: v1 Service {namespace}/broken: the server would reject this create: ")
    assert "spec.ports[0].port: Invalid value: 99999" in problem
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/ok") is None
    sync.spec = dataclasses.replace(sync.spec, validation=Validation.NONE)  # what apply does when the object turns invalid later
    planned, report = sync.apply()
    results = {o.action.ref.name + "/" + o.action.ref.kind: o.result for o in report.outcomes}
    assert results == {"ok/ConfigMap": "created", "broken/Service": "failed"}
    [failure] = report.failures
    assert failure.message.startswith(f"b-service.yaml:1: v1 Service {namespace}/broken: PATCH") is False
    assert failure.message.startswith(f"b-service.yaml:1: v1 Service {namespace}/broken: POST")
    assert "spec.ports[0].port: Invalid value: 99999" in failure.message
    assert [a.ref.kind for a in report.not_started] == ["Deployment"]
    assert cluster.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/web") is None
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/ok") is not None
    with pytest.raises(errors.ApplyFailed, match="1 action\\(s\\) in later waves were not started"):
        raise_for_failures(report)


def test_prune_deletes_only_owned_objects_and_refuses_an_empty_source(cluster, namespace, src, tmp_path):
    sync = Sync(cluster, src, "app", namespace)
    sync.apply()
    # An object labelled like ours but never applied by this sync (not in the inventory).
    lookalike = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "lookalike", "labels": {
        "app.kubernetes.io/managed-by": "kubesync", "kubesync.io/sync": sync.spec.name}}, "data": {"x": "y"}}
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=lookalike)

    for f in src.iterdir():
        f.unlink()
    with pytest.raises(errors.PlanRefused, match="the desired state is empty"):
        sync.plan(prune=True)
    assert cluster.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/web") is not None

    write(src, "only.yaml", yaml_text(configmap("settings", {"greeting": "hello"})))
    with pytest.raises(errors.PlanRefused, match=r"delete 4 of 5 object\(s\)"):
        sync.plan(prune=True)
    planned, report = sync.apply(prune=True, force=True)
    deleted = sorted(o.action.ref.kind for o in report.outcomes if o.result == "deleted")
    assert deleted == ["Deployment", "Secret", "Service", "ServiceAccount"]
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/lookalike") is not None
    assert any("lookalike: carries this sync's label but is not in its inventory" in w for w in planned.plan.warnings)


def test_object_owned_by_another_tool_is_left_alone(cluster, namespace, src):
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "labels": {
        "app.kubernetes.io/managed-by": "Helm"}}, "data": {"greeting": "theirs"}}
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=theirs)
    sync = Sync(cluster, src, "app", namespace)
    planned, report = sync.apply()
    assert planned.plan.conflicts == (
        f"app.yaml:1: v1 ConfigMap {namespace}/settings: managed by 'Helm'; left alone",
    )
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/settings")["data"] == {"greeting": "theirs"}
    assert "ConfigMap" not in {o.action.ref.kind for o in report.outcomes}


def widgets(group: str) -> str:
    """A CRD of Widgets and one Widget: the custom resource is planned before its type exists."""
    return yaml_text(crd(group, "Widget", {"size": {"type": "integer"}}), custom(group, "Widget", "gizmo", {"size": 3}))


def test_crd_and_custom_resource_apply_in_one_run(cluster, namespace, tmp_path):
    folder = tmp_path / "crd"
    folder.mkdir()
    group = f"{namespace}.example.com"
    write(folder, "crd.yaml", widgets(group))
    sync = Sync(cluster, folder, "crd", namespace)
    try:
        planned, report = sync.apply()
        assert [(o.result, o.action.ref.kind) for o in report.outcomes] == [
            ("created", "CustomResourceDefinition"), ("created", "Widget")]
        widget = cluster.get(f"/apis/{group}/v1/namespaces/{namespace}/widgets/gizmo")
        assert widget["spec"] == {"size": 3}
        assert not sync.plan().plan.has_changes
    finally:
        cluster.request("DELETE", crd_path(f"widgets.{group}"))


def test_server_dry_run_changes_nothing(cluster, namespace, src):
    sync = Sync(cluster, src, "app", namespace)
    planned, report = sync.apply(dry_run=True)
    assert [o.result for o in report.outcomes] == ["created"] * 5
    assert cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"] == [
        cm for cm in cluster.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"] if cm["metadata"]["name"] == "kube-root-ca.crt"
    ]
    assert cluster.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/web") is None
    assert stored_inventory.read(Client(cluster), sync.spec.name, namespace) == []
    # and a server dry run still reports what the server would reject
    write(src, "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec:\n  ports:\n    - port: 99999\n      protocol: TCP\n")
    sync.spec = dataclasses.replace(sync.spec, validation=Validation.NONE)  # planned with --validate=none: apply's dry run reports it
    planned, report = sync.apply(dry_run=True)
    assert [o.action.ref.name for o in report.failures] == ["broken"]
    assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/services/broken") is None
