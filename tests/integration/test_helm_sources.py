"""Helm charts, kustomize helmCharts and Jsonnet apps synced to the real control plane through the facade:
each applies, a second plan is empty, hooks run around the apply and are never owned, the chart's version shows
before and after, and a broken chart is one clear error with nothing applied."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from kubesync import errors
from kubesync.apply import ApplySettings
from kubesync.model import ActionType
from kubesync.settings import Flags, merge
from kubesync.sources import HelmOptions, JsonnetOptions, SourceSpec
from kubesync.cluster.api import Client
from kubesync.sync import Pipeline, raise_for_failures
from tests.support.cloud import load_balancers
from tests.support.events import DEPLOYMENTS, JOBS, ServerEvents
from tests.support.fixtures import require_simulated_nodes
from tests.support.charts import write, write_chart

# CI has ../shared beside the clone; a worktree elsewhere names it with KUBESYNC_TEST_SHARED
SHARED_CHARTS = Path(os.environ.get("KUBESYNC_TEST_SHARED") or Path(__file__).resolve().parents[3] / "shared") / "charts"


class ChartSync:
    """One sync of any source through the facade, as `kubesync apply` runs it."""

    def __init__(self, cluster, source: SourceSpec, name: str, namespace: str):
        self.client, self.source = Client(cluster), source
        settings = merge(Flags(name=f"{name}-{namespace[-6:]}", source=source, namespace=namespace))
        self.spec = replace(settings, inventory_namespace=namespace)

    def plan(self):
        return Pipeline(self.client).plan_source(self.spec)

    def apply(self):
        pipe = Pipeline(self.client)
        planned = pipe.plan_source(self.spec)
        report = pipe.apply(planned, ApplySettings())
        raise_for_failures(report)
        return planned

    def converges(self):
        """Apply, then plan again: nothing left to do. The first plan is returned."""
        first = self.apply()
        again = self.plan().plan
        assert not again.has_changes, [f"{a.type.value} {a.ref} {a.patch}" for a in again.changes]
        return first, again


def get(cluster, path):
    return cluster.get_or_none(path)


def test_a_local_chart_with_values_files_and_inline_values(cluster, namespace):
    chart = write_chart(Path(os.environ.get("TMPDIR", "/tmp")) / f"kubesync-chart-{namespace}" / "web")
    source = SourceSpec(path=str(chart), helm=HelmOptions(values_files=("values-production.yaml",),
                                                         values=json.dumps({"replicaCount": 2}), release="shop"))
    first, again = ChartSync(cluster, source, "web", namespace).converges()
    cm = get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/shop-web")
    assert cm["data"]["greeting"] == "hello from production" and cm["data"]["namespace"] == namespace
    assert cm["data"]["kubeVersion"] == cluster.request("GET", "/version")["gitVersion"]  # discovery's, not helm's default
    assert get(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments/shop-web")["spec"]["replicas"] == 2
    # the hook is listed, never applied; the test Pod is skipped
    assert [str(h.ref) for h in first.plan.hooks] == [f"batch/v1 Job {namespace}/shop-web-migrate"] == [str(h.ref) for h in again.hooks]
    assert get(cluster, f"/apis/batch/v1/namespaces/{namespace}/jobs/shop-web-migrate") is None
    assert get(cluster, f"/api/v1/namespaces/{namespace}/pods/shop-web-test") is None
    # versions before and after: nothing applied before, then unchanged
    assert [str(c) for c in first.plan.charts] == ["web (none) -> 0.1.0"]
    assert [str(c) for c in again.charts] == ["web 0.1.0 (unchanged)"]
    assert {str(a.origin) for a in first.plan.actions} == {"web templates/configmap.yaml", "web templates/deployment.yaml",
                                                           "web templates/service.yaml"}


def test_a_chart_upgrade_shows_both_versions(cluster, namespace, tmp_path):
    chart = write_chart(tmp_path / "web")
    sync = ChartSync(cluster, SourceSpec(path=str(chart)), "upgrade", namespace)
    sync.apply()
    write_chart(chart, version="0.2.0", values="replicaCount: 3\ngreeting: hi\ntier: dev\nimage: {repository: r.example/web, tag: '2'}\n")
    planned = sync.plan()
    assert [str(c) for c in planned.plan.charts] == ["web 0.1.0 -> 0.2.0"]
    assert {a.ref.kind for a in planned.plan.changes} == {"ConfigMap", "Deployment"}


def test_a_vendored_dependency(cluster, namespace, tmp_path):
    app = write_chart(tmp_path / "app", "app", dependencies="dependencies:\n  - {name: web, version: 0.1.0}\n", templates={})
    write_chart(app / "charts" / "web")
    first, _ = ChartSync(cluster, SourceSpec(path=str(app)), "dep", namespace).converges()
    release = first.plan.sync
    assert get(cluster, f"/api/v1/namespaces/{namespace}/services/{release}-web") is not None


def test_kustomize_helm_charts(cluster, namespace, tmp_path):
    app = write(tmp_path / "app", {"kustomization.yaml": f"""\
        namespace: {namespace}
        helmCharts:
          - {{name: web, releaseName: kz, namespace: {namespace}, valuesInline: {{replicaCount: 2}}}}
        """})
    write_chart(app / "charts" / "web")
    ChartSync(cluster, SourceSpec(path=str(app)), "kz", namespace).converges()
    assert get(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments/kz-web")["spec"]["replicas"] == 2


def test_a_jsonnet_app_with_a_top_level_argument(cluster, namespace, tmp_path):
    app = write(tmp_path / "app", {"app.jsonnet": """\
        function(name, replicas=1) [
          {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: name}, data: {replicas: std.toString(replicas)}},
          {apiVersion: 'v1', kind: 'Service', metadata: {name: name},
           spec: {selector: {app: name}, ports: [{port: 80, protocol: 'TCP', targetPort: 8080}]}},
        ]
        """})
    source = SourceSpec(path=str(app), jsonnet=JsonnetOptions(tlas=(("name", "guestbook"),), tla_code=(("replicas", "3"),)))
    ChartSync(cluster, source, "js", namespace).converges()
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/guestbook")["data"] == {"replicas": "3"}


def test_a_template_error_is_one_clear_error_and_nothing_is_applied(cluster, namespace, tmp_path):
    templates = {"ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n",
                 "broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ required \"set name\" .Values.name }}}\n"}
    chart = write_chart(tmp_path / "broken", "broken", templates=templates)
    with pytest.raises(errors.SourceError) as e:
        ChartSync(cluster, SourceSpec(path=str(chart)), "broken", namespace).apply()
    assert str(e.value).startswith("chart broken (broken): helm template failed: ")
    assert "broken/templates/broken.yaml" in str(e.value) and "set name" in str(e.value)
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/ok") is None


# --- real charts from ../shared/charts --------------------------------------------------------------


def delete_cluster_scoped(cluster, planned) -> None:
    """A chart's ClusterRoles, IngressClass and webhook outlive the test namespace: delete them (the webhook
    would otherwise refuse every later Ingress of the session)."""
    client = Client(cluster)
    for r in planned.resolved:
        if not r.ref.namespace:
            try:
                client.delete(r.rtype, "", r.ref.name)
            except errors.ClusterNotFound:
                pass


def test_ingress_nginx_with_default_values_runs_its_hooks_in_order(cluster, client, namespace, server_version):
    """Its pre-install hooks (RBAC and the certificate Job), then the rest, then its post-install hooks (the
    Job that patches the webhook), each step done before the next (the server's order), the hooks deleted
    afterwards (hook-succeeded); a second plan is empty and runs nothing."""
    sync = ChartSync(cluster, SourceSpec(path=str(SHARED_CHARTS / "ingress-nginx")), "ingress", namespace)
    if server_version < (1, 21):  # the chart says kubeVersion: '>=1.21.0-0'
        with pytest.raises(errors.SourceError, match=r"^chart ingress-nginx \(ingress-nginx\): helm template failed: .*kubeVersion"):
            sync.apply()
        return
    require_simulated_nodes()
    events = ServerEvents(client, namespace, JOBS, DEPLOYMENTS)
    with load_balancers(client, namespace):  # its controller's Service is a LoadBalancer: PostSync waits for it
        first = sync.apply()
    try:
        again = sync.plan().plan
        assert not again.has_changes, [f"{a.type.value} {a.ref} {a.patch}" for a in again.changes]
        assert len(first.plan.actions) == 11 and len(first.plan.hooks) == 7
        assert sorted(h.phases for h in first.plan.hooks) == sorted([("PreSync",), ("PostSync",)] + [("PreSync", "PostSync")] * 5)
        for hook in first.plan.hooks:  # never applied as objects
            assert not any(a.ref == hook.ref for a in first.plan.actions)
        release = first.plan.sync
        create, patch = f"{release}-ingress-nginx-admission-create", f"{release}-ingress-nginx-admission-patch"
        controller = f"{release}-ingress-nginx-controller"
        created = events.first("Job", create, when=lambda o: condition(o, "Complete"))
        deployed = events.first("Deployment", controller, type="ADDED")
        available = events.first("Deployment", controller, when=lambda o: condition(o, "Available"))
        patched = events.first("Job", patch, type="ADDED")
        assert None not in (created, deployed, available, patched), events.events
        assert created.revision < deployed.revision < available.revision < patched.revision
        assert events.first("Job", patch, when=lambda o: condition(o, "Complete"))
        assert get(cluster, f"/apis/batch/v1/namespaces/{namespace}/jobs/{create}") is None  # hook-succeeded
        assert get(cluster, f"/apis/batch/v1/namespaces/{namespace}/jobs/{patch}") is None
        assert get(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments/{controller}")
        assert [str(c) for c in again.charts] == ["ingress-nginx 4.15.1 (unchanged)"]
    finally:
        delete_cluster_scoped(cluster, first)


def condition(obj: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or ())


def test_kube_state_metrics_with_default_values(cluster, namespace):
    sync = ChartSync(cluster, SourceSpec(path=str(SHARED_CHARTS / "kube-state-metrics")), "ksm", namespace)
    first = sync.apply()
    try:
        again = sync.plan().plan
        assert not again.has_changes, [f"{a.type.value} {a.ref} {a.patch}" for a in again.changes]
        assert sorted(a.ref.kind for a in first.plan.actions) == ["ClusterRole", "ClusterRoleBinding", "Deployment",
                                                                  "Service", "ServiceAccount"]
        assert first.plan.hooks == ()
    finally:
        delete_cluster_scoped(cluster, first)


# --- charts from a chart repository and an OCI registry, on loopback with TLS and basic auth ----------


@pytest.fixture(scope="module")
def remote_charts(tmp_path_factory):
    """(chart repository, OCI registry, CA file, pushed manifest digest, folder of credential files)."""
    from tests.support.chartrepo import PASSWORD, USER, ChartRepository, OCIRegistry, tls

    base = tmp_path_factory.mktemp("remote-charts")
    certs = tls(base / "tls")
    chart = write_chart(base / "src" / "web")
    (base / "user").write_text(USER + "\n")
    (base / "password").write_text(PASSWORD + "\n")
    with ChartRepository(base / "repo", certs, [chart]) as repo, OCIRegistry(base / "registry", certs) as registry:
        digest = registry.push(chart, base / "push")
        yield repo, registry, certs.ca, digest, base


def remote(remote_charts, kind: str, **options) -> SourceSpec:
    repo, registry, ca, _, base = remote_charts
    where = dict(repo=repo.url, chart="web") if kind == "repo" else dict(chart=f"oci://{registry.host}/charts/web")
    creds = dict(username_file=str(base / "user"), password_file=str(base / "password"))
    return SourceSpec(helm=HelmOptions(**{**where, "version": "0.1.0", "ca_file": str(ca), **creds, **options}))


@pytest.mark.parametrize("kind", ["repo", "oci"])
def test_a_chart_from_a_repository_with_auth(cluster, namespace, remote_charts, kind):
    first, again = ChartSync(cluster, remote(remote_charts, kind, release="rel"), f"remote-{kind}", namespace).converges()
    assert get(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments/rel-web")["spec"]["replicas"] == 1
    assert [str(c) for c in again.charts] == ["web 0.1.0 (unchanged)"]
    assert [str(h.ref) for h in first.plan.hooks] == [f"batch/v1 Job {namespace}/rel-web-migrate"]


def test_a_pinned_oci_digest_is_verified(cluster, namespace, remote_charts):
    _, _, _, digest, _ = remote_charts
    ChartSync(cluster, remote(remote_charts, "oci", digest=digest), "pinned", namespace).converges()
    wrong = "sha256:" + "0" * 64
    with pytest.raises(errors.SourceError, match=rf"chart web .*: pulled digest {digest} is not the pinned {wrong}; refused"):
        ChartSync(cluster, remote(remote_charts, "oci", digest=wrong), "wrong-digest", namespace).plan()


def test_credentials_from_a_secret(cluster, namespace, remote_charts):
    from tests.support.chartrepo import PASSWORD, USER

    data = {k: base64_of(v) for k, v in (("username", USER), ("password", PASSWORD))}
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/secrets",
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "charts"}, "data": data})
    source = remote(remote_charts, "repo", username_file=None, password_file=None, secret=f"{namespace}/charts",
                    version="0.1.0", values=json.dumps({"greeting": "from a secret-authenticated pull"}))
    ChartSync(cluster, source, "secret-creds", namespace).converges()


def base64_of(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("kind", ["repo", "oci"])
def test_a_wrong_version_is_one_clear_error_and_nothing_is_applied(cluster, namespace, remote_charts, kind):
    with pytest.raises(errors.SourceError) as e:
        ChartSync(cluster, remote(remote_charts, kind, version="9.9.9"), f"nover-{kind}", namespace).apply()
    assert str(e.value).startswith("chart web (") and "9.9.9" in str(e.value) and ": cannot pull: " in str(e.value)
    assert "s3cret-chart-pass" not in str(e.value)
    assert cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")["items"][0]["metadata"]["name"] == "kube-root-ca.crt"


def test_a_wrong_password_and_an_unreachable_repository_are_clear_errors(cluster, namespace, remote_charts, tmp_path):
    (tmp_path / "password").write_text("not-the-password\n")
    with pytest.raises(errors.SourceError, match=r"^chart web \(https://127.0.0.1:\d+ web 0.1.0\): cannot pull: .*401"):
        ChartSync(cluster, remote(remote_charts, "repo", password_file=str(tmp_path / "password")), "badpass", namespace).plan()
    from tests.support.chartrepo import free_port

    gone = SourceSpec(helm=HelmOptions(repo=f"https://127.0.0.1:{free_port()}", chart="web", version="0.1.0"))
    with pytest.raises(errors.SourceError, match=r"^chart web \(https://127.0.0.1:\d+ web 0.1.0\): cannot pull: .*(refused|cannot be reached)"):
        ChartSync(cluster, gone, "gone", namespace).apply()
    assert get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/gone-web") is None


def test_a_pulled_chart_is_served_from_the_cache_by_digest(remote_charts, tmp_path):
    from kubesync.sources import Target, load
    from kubesync.sources.pull import cache_dir

    repo, *_ = remote_charts
    source = remote(remote_charts, "repo")
    target = Target(release="c", namespace="c", kube_version="1.37.2")
    load(source, target=target)
    pulls = len(repo.requests)
    load(source, target=Target(release="d", namespace="d", kube_version="1.37.2"))  # another release: rendered, not pulled
    assert len(repo.requests) == pulls
    blobs = list((cache_dir() / "blobs").iterdir())
    assert len(blobs) >= 1 and all(b.name.startswith("sha256-") for b in blobs)
    for blob in blobs:  # a cached archive that no longer matches its digest is pulled again, never used
        blob.write_bytes(b"tampered")
    load(source, target=Target(release="e", namespace="e", kube_version="1.37.2"))
    assert len(repo.requests) > pulls


def test_a_steady_resync_renders_nothing_and_plain_yaml_asks_nothing_more(cluster, namespace, tmp_path):
    """The daemon loads through Pipeline.load each run: an unchanged chart is rendered once (render cache,
    keyed by the chart's digest, values and the cluster's versions); a plain folder never asks for versions."""
    from kubesync.cluster.client import add_request_hook
    from kubesync.sources.rendercache import CACHE

    chart = write_chart(tmp_path / "web")
    sync = ChartSync(cluster, SourceSpec(path=str(chart)), "steady", namespace)
    pipe = Pipeline(Client(cluster))
    renders = CACHE.renders
    for _ in range(3):
        assert len(pipe.load(sync.spec).manifests) == 3
    assert CACHE.renders == renders + 1
    plain = write(tmp_path / "plain", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"})
    sent = []
    remove = add_request_hook(lambda method, path, attempt: sent.append(path))
    try:
        Pipeline(Client(cluster)).load(replace(sync.spec, source=SourceSpec(path=str(plain))))
    finally:
        remove()
    assert sent == []


@pytest.mark.parametrize("kind", ["repo", "oci"])
def test_credentials_never_reach_a_command_line(remote_charts, kind, tmp_path, monkeypatch):
    """helm runs through a wrapper that records every argv and exec's the real one: the password is in
    none of them (ps shows argv to every user), and not in any message."""
    from kubesync import tools
    from kubesync.sources import Target, load
    from tests.support.chartrepo import PASSWORD

    real, log = tools.find("helm"), tmp_path / "argv.log"
    wrapper = tmp_path / "helm"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("KUBESYNC_HELM", str(wrapper))
    from kubesync.sources.rendercache import CACHE

    CACHE.clear()  # render again: the template call is recorded too
    desired = load(remote(remote_charts, kind), target=Target(release="argv", namespace="argv", kube_version="1.37.2"))
    assert len(desired.manifests) == 3
    calls = log.read_text().splitlines()
    assert any(c.startswith("pull ") for c in calls) and any(c.startswith("template ") for c in calls)
    assert not [c for c in calls if PASSWORD in c or "charts:" + PASSWORD in c]


def test_the_daemon_syncs_a_chart_and_resyncs_without_rendering(kubeconfig, cluster, namespace, tmp_path):
    """`kubesync daemon` keeps a chart converged: it applies, stays Synced over timer resyncs, and a values
    change in the chart is applied by the next run."""
    from tests.integration.daemon_harness import DaemonProcess, wait_until

    chart = write_chart(tmp_path / "web")
    name = f"dmn-{namespace[-6:]}"
    (tmp_path / "kubesync.yaml").write_text(
        f"syncs:\n  - name: {name}\n    namespace: {namespace}\n    interval: 1s\n"
        f"    source: {{path: ./web, helm: {{release: dmn, values: {{replicaCount: 2}}}}}}\n")
    deployment = f"/apis/apps/v1/namespaces/{namespace}/deployments/dmn-web"
    with DaemonProcess(["--config", str(tmp_path / "kubesync.yaml")], kubeconfig, tmp_path) as d:
        d.wait_ready(60)
        assert get(cluster, deployment)["spec"]["replicas"] == 2
        wait_until(lambda: (d.metric("kubesync_sync_runs_total", sync=name, result="success") or 0) >= 4, 30, what="resyncs")
        assert d.sync(name)["state"] == "Synced"
        assert get(cluster, f"/apis/batch/v1/namespaces/{namespace}/jobs/dmn-web-migrate") is None  # a hook: not applied
        (chart / "values.yaml").write_text((chart / "values.yaml").read_text().replace("tier: dev", "tier: staging"))
        wait_until(lambda: get(cluster, f"/api/v1/namespaces/{namespace}/configmaps/dmn-web")["data"]["tier"] == "staging",
                   30, what="a values change applied")
        assert d.terminate() == 0
