"""A kustomization with `helmCharts` renders with our helm (--enable-helm --helm-command), inside the
source root: a vendored chart only, unless the sync allows remote resources; no link out of the root."""

from __future__ import annotations

import os

import pytest

from kubesync import errors
from kubesync.sources import SourceSpec, load
from tests.support.charts import objects, write, write_chart

KUSTOMIZATION = """\
    helmCharts:
      - name: web
        releaseName: shop
        namespace: shop
        valuesInline: {replicaCount: 2}
    labels:
      - pairs: {team: payments}
    """


def test_helm_charts_render_with_our_helm(tmp_path):
    app = write(tmp_path / "app", {"kustomization.yaml": KUSTOMIZATION})
    write_chart(app / "charts" / "web")
    desired = load(SourceSpec(path=str(app)))
    got = objects(desired)
    assert sorted(got) == ["ConfigMap/shop-web", "Deployment/shop-web", "Service/shop-web"]
    assert got["Deployment/shop-web"]["spec"]["replicas"] == 2
    assert got["ConfigMap/shop-web"]["metadata"]["labels"]["team"] == "payments"
    assert [str(h.ref) for h in desired.hooks] == ["batch/v1 Job shop-web-migrate", "v1 Pod shop-web-test"]


def test_a_chart_kustomize_would_pull_is_refused_unless_remote_is_allowed(tmp_path):
    app = write(tmp_path / "app", {"kustomization.yaml": "helmCharts:\n  - {name: nginx, repo: 'https://charts.example', version: 1.0.0}\n"})
    with pytest.raises(errors.ManifestError, match=r"helmCharts: 'nginx' would be pulled from https://charts.example, which the "
                                                   r"source's revision does not pin"):
        load(SourceSpec(path=str(app)))


def test_a_vendored_chart_with_a_link_out_of_the_root_is_refused(tmp_path):
    (tmp_path / "key").write_text("secret\n")
    app = write(tmp_path / "src" / "app", {"kustomization.yaml": KUSTOMIZATION})
    chart = write_chart(app / "charts" / "web")
    os.symlink(tmp_path / "key", chart / "key.txt")
    with pytest.raises(errors.ManifestError, match=r"charts/web/key.txt: symlink to .*key, outside the source root"):
        load(SourceSpec(path=str(tmp_path / "src"), subpath="app"))
