"""A folder holding Chart.yaml renders with the pinned helm (no cluster): values in Helm's order,
origins from `# Source:`, hooks set apart, errors naming the chart, hostile charts refused fast."""

from __future__ import annotations

import json
import os
import time

import pytest

from kubesync import errors
from kubesync.sources import HelmOptions, SourceSpec, Target, current_revision, load
from kubesync.sources.rendercache import CACHE
from tests.support.charts import objects, write, write_chart

TARGET = Target(release="shop", namespace="shop", kube_version="v1.37.2", api_versions=("monitoring.example.com/v1",))


def spec(folder, **helm) -> SourceSpec:
    return SourceSpec(path=str(folder), helm=HelmOptions(**helm) if helm else None)


def test_a_chart_renders_for_the_release_namespace_and_cluster(tmp_path):
    desired = load(spec(write_chart(tmp_path / "web")), target=TARGET)
    got = objects(desired)
    assert sorted(got) == ["ConfigMap/shop-web", "Deployment/shop-web", "Service/shop-web"]
    data = got["ConfigMap/shop-web"]["data"]
    assert data == {"greeting": "hello", "tier": "dev", "namespace": "shop", "kubeVersion": "v1.37.2", "hasMonitoring": "true"}
    assert [str(m.origin) for m in desired.manifests] == ["web templates/service.yaml", "web templates/configmap.yaml",
                                                          "web templates/deployment.yaml"] or \
        {str(m.origin) for m in desired.manifests} == {"web templates/service.yaml", "web templates/configmap.yaml",
                                                       "web templates/deployment.yaml"}
    assert [str(c) for c in desired.charts] == ["web 0.1.0"]


def test_hooks_are_set_apart_and_tests_skipped(tmp_path):
    desired = load(spec(write_chart(tmp_path / "web")), target=TARGET)
    assert [(str(h.ref), h.phases, h.wave, h.delete_policies) for h in desired.hooks] == [
        ("batch/v1 Job shop-web-migrate", ("PreSync",), -5, ("BeforeHookCreation", "HookSucceeded"))]
    assert str(desired.hooks[0].origin) == "web templates/hook-job.yaml"
    assert "Pod/shop-web-test" not in objects(desired)  # --skip-tests


def test_values_merge_in_helms_order(tmp_path):
    chart = write_chart(tmp_path / "web")
    options = dict(values_files=("values-production.yaml",), values=json.dumps({"replicaCount": 3, "tier": "inline"}),
                   set_values=("tier=from-set",), release="rel")
    got = objects(load(spec(chart, **options), target=TARGET))
    data = got["ConfigMap/rel-web"]["data"]
    assert data["greeting"] == "hello from production"  # the file over values.yaml
    assert data["tier"] == "from-set"  # --set over inline over the file
    assert got["Deployment/rel-web"]["spec"]["replicas"] == 3  # inline over values.yaml


def test_offline_the_release_is_the_folder_name_and_the_options_give_the_versions(tmp_path):
    desired = load(spec(write_chart(tmp_path / "web"), kube_version="1.30.4"))
    assert objects(desired)["ConfigMap/web-web"]["data"]["kubeVersion"] == "v1.30.4"


def test_a_values_file_outside_the_source_is_refused(tmp_path):
    (tmp_path / "secret.yaml").write_text("greeting: stolen\n")
    chart = write_chart(tmp_path / "src" / "web")
    with pytest.raises(errors.SourceError, match="values file '../../secret.yaml' is outside the source root"):
        load(SourceSpec(path=str(tmp_path / "src"), subpath="web", helm=HelmOptions(values_files=("../../secret.yaml",))),
             target=TARGET)
    assert chart.exists()


def test_a_template_error_names_the_chart_and_the_template(tmp_path):
    chart = write_chart(tmp_path / "web", templates={"broken.yaml": "kind: {{ .Values.nope.deeper }}\n"})
    with pytest.raises(errors.SourceError) as e:
        load(spec(chart), target=TARGET)
    message = str(e.value)
    assert message.startswith("chart web (web): helm template failed: ")
    assert "web/templates/broken.yaml:1" in message and "nil pointer" in message and str(tmp_path) not in message


def test_revision_is_the_charts_files_and_values_and_polls_without_helm(tmp_path):
    chart = write_chart(tmp_path / "web")
    first = load(spec(chart), target=TARGET).revision
    assert current_revision(spec(chart)) == first
    assert current_revision(spec(chart, values='{"replicaCount":2}')) != first
    (chart / "templates" / "configmap.yaml").write_text((chart / "templates" / "configmap.yaml").read_text() + "\n")
    assert current_revision(spec(chart)) != first


def test_an_unchanged_chart_renders_once(tmp_path):
    chart = write_chart(tmp_path / "web")
    CACHE.clear()
    renders = CACHE.renders
    for _ in range(3):
        load(spec(chart), target=TARGET)
    assert CACHE.renders == renders + 1
    load(spec(chart), target=Target(release="shop", namespace="shop", kube_version="v1.38.0"))  # a cluster upgrade
    assert CACHE.renders == renders + 2


def test_a_lookup_is_said_once_in_the_warnings(tmp_path):
    chart = write_chart(tmp_path / "web", templates={
        "a.yaml": '{{- $s := lookup "v1" "Secret" .Release.Namespace "x" }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
        "b.yaml": '{{- if (lookup "v1" "Namespace" "" "y") }}{{ end }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n'})
    desired = load(spec(chart), target=TARGET)
    assert len(desired.manifests) == 2
    assert desired.warnings == ("chart web: its templates call `lookup`, which returns nothing when kubesync renders "
                                "(as in Argo CD): what depends on live cluster state renders as on an empty cluster",)


def test_a_vendored_dependency_renders_offline(tmp_path):
    chart = write_chart(tmp_path / "app", "app", dependencies="dependencies:\n  - {name: web, version: 0.1.0}\n",
                        templates={})
    write_chart(chart / "charts" / "web")
    desired = load(spec(chart), target=TARGET)
    assert sorted(objects(desired)) == ["ConfigMap/shop-web", "Deployment/shop-web", "Service/shop-web"]
    assert {str(m.origin) for m in desired.manifests} >= {"app charts/web/templates/configmap.yaml"}


def test_a_missing_dependency_is_one_clear_error(tmp_path):
    chart = write_chart(tmp_path / "app", "app", dependencies="dependencies:\n  - {name: redis, version: 1.0.0, repository: https://charts.example}\n")
    with pytest.raises(errors.SourceError, match=r"^chart app \(app\): helm template failed: .*redis"):
        load(spec(chart), target=TARGET)


# --- hostile charts: refused in under 5 s, nothing read outside the source -------------------------


def refused_fast(source: SourceSpec, match: str) -> None:
    started = time.monotonic()
    with pytest.raises(errors.SourceError, match=match):
        load(source, target=TARGET)
    assert time.monotonic() - started < 5


def test_a_template_that_loops_to_a_gigabyte_is_refused(tmp_path):
    bomb = '{{- range $i := until 25000000 }}\nk{{ $i }}: "{{ repeat 40 "x" }}"\n{{- end }}\n'
    chart = write_chart(tmp_path / "bomb", "bomb", templates={"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n" + bomb})
    refused_fast(spec(chart), r"chart bomb \(bomb\): helm template used more than 512 MiB of memory")


def test_files_get_of_a_path_outside_the_chart_is_refused(tmp_path):
    chart = write_chart(tmp_path / "web", templates={
        "cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  stolen: {{ .Files.Get "../../../etc/passwd" | quote }}\n'})
    refused_fast(spec(chart), r"chart web: templates/cm.yaml:5: .Files reads '../../../etc/passwd', outside the chart")


def test_a_symlink_out_of_the_chart_is_refused(tmp_path):
    (tmp_path / "outside.txt").write_text("secret\n")
    chart = write_chart(tmp_path / "src" / "web", templates={
        "cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  stolen: {{ .Files.Get "files/key" | quote }}\n'})
    (chart / "files").mkdir()
    os.symlink(tmp_path / "outside.txt", chart / "files" / "key")
    refused_fast(SourceSpec(path=str(tmp_path / "src"), subpath="web"), r"web/files/key: symlink to .*outside.txt, outside the source root")


def test_a_symlink_inside_the_source_is_followed(tmp_path):
    chart = write_chart(tmp_path / "web", templates={
        "cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  key: {{ .Files.Get "files/key" | quote }}\n'})
    write(tmp_path / "web", {"shared/key.txt": "inside\n"})
    (chart / "files").mkdir()
    os.symlink("../shared/key.txt", chart / "files" / "key")
    assert objects(load(spec(chart), target=TARGET))["ConfigMap/x"]["data"]["key"] == "inside\n"

