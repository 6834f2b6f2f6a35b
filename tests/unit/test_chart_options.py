"""Pure pieces of chart sources: hooks split from objects, chart versions paired, the inventory's charts,
kubesync.yaml's helm/jsonnet blocks, the CLI's render flags, and the pinning rules of remote charts."""

from __future__ import annotations

import argparse
import json

import pytest

from kubesync import charts, inventory
from kubesync.commands.sourceflags import add_render_flags, helm_flags, jsonnet_flags
from kubesync.config import parse_config
from kubesync.errors import ConfigError, SourceError, UsageError
from kubesync.model import Chart, ChartChange, Manifest, ObjectRef, Origin
from kubesync.sources import HelmOptions, SourceSpec


def manifest(name, annotations=None):
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "annotations": annotations or {}}}
    return Manifest(ObjectRef.of(obj), obj, Origin(f"web templates/{name}.yaml"))


def test_chart_hooks_are_split_from_the_objects_in_order():
    state = charts.desired_state([
        manifest("a"),
        manifest("b", {"helm.sh/hook": "post-install, post-upgrade", "helm.sh/hook-weight": "3",
                       "helm.sh/hook-delete-policy": "hook-succeeded"}),
        manifest("c", {"helm.sh/hook": "pre-delete"}),
        manifest("d", {"helm.sh/hook": "crd-install"}),
    ], "src", "rev")
    assert [m.ref.name for m in state.manifests] == ["a", "d"]
    assert [(h.ref.name, h.phases, h.wave, h.delete_policies) for h in state.hooks] == [
        ("b", ("PostSync",), 3, ("HookSucceeded",)), ("c", (), 0, ("BeforeHookCreation",))]
    assert state.hooks[1].skipped.startswith("a Helm hook kubesync never runs")


def test_chart_versions_are_paired_by_name():
    got = charts.chart_changes([Chart("web", "1.0.0"), Chart("old", "2.0.0")], [Chart("web", "1.1.0"), Chart("new", "0.1.0")])
    assert got == (ChartChange("new", "", "0.1.0"), ChartChange("old", "2.0.0", ""), ChartChange("web", "1.0.0", "1.1.0"))
    assert [str(c) for c in got] == ["new (none) -> 0.1.0", "old 2.0.0 -> (removed)", "web 1.0.0 -> 1.1.0"]


def test_the_inventory_records_the_applied_charts():
    cm = inventory.to_configmap("shop", [], "kubesync-system", "src", charts=(Chart("web", "1.0.0"), Chart("db", "2.1")))
    assert cm["data"]["charts"] == "web 1.0.0\ndb 2.1"
    assert inventory.charts_of(cm) == (Chart("web", "1.0.0"), Chart("db", "2.1"))
    assert inventory.charts_of(inventory.to_configmap("shop", [])) == ()
    assert "charts" not in inventory.to_configmap("shop", [])["data"]


def test_kubesync_yaml_helm_and_jsonnet_blocks(tmp_path):
    config = parse_config("""\
syncs:
  - name: web
    source:
      path: ./web
      helm: {release: rel, valuesFiles: [values-prod.yaml], values: {a: {b: [1, 2]}}, set: [c=d], apiVersions: [x.io/v1]}
  - name: remote
    source:
      helm: {repo: https://charts.example, chart: web, version: 1.2.3, usernameFile: u, passwordFile: p, secret: ns/creds}
  - name: js
    source: {path: ./js, jsonnet: {tlas: {name: x, on: true}, tlaCode: {n: "3"}, extVars: {env: prod}, libs: [vendor]}}
""", "k.yaml", tmp_path)
    web, remote, js = config.syncs
    assert web.source.helm.values_object() == {"a": {"b": [1, 2]}} and web.source.helm.set_values == ("c=d",)
    assert web.source.helm.values_files == ("values-prod.yaml",) and web.source.helm.api_versions == ("x.io/v1",)
    assert remote.source.remote_chart and remote.source.path is None and remote.source.helm.secret == "ns/creds"
    assert remote.source.helm.username_file == str(tmp_path / "u")
    assert js.source.jsonnet.tlas == (("name", "x"), ("on", "true")) and js.source.jsonnet.libs == ("vendor",)
    assert "values" not in repr(web.source) and "{\"a\"" not in repr(web.source.helm)  # values never in a repr


@pytest.mark.parametrize("helm, message", [
    ("{chart: web, version: 1.0.0}", "needs repo: https://... (a chart repository), or chart: oci://registry/path/web"),
    ("{repo: https://x.example, chart: web}", "needs an exact version to pull (version: 1.2.3), not None"),
    ("{repo: https://x.example, chart: web, version: latest}", "not 'latest'"),
    ("{repo: 'https://u:p@x.example', chart: web, version: 1.0.0}", "put the repository's credentials in usernameFile/passwordFile"),
    ("{chart: oci://r.example/web, version: 1.0.0, digest: md5:1}", "is not sha256:<64 hex digits>"),
    ("{chart: oci://r.example/web, version: 1.0.0, secret: creds}", "must be NAMESPACE/NAME of a Secret"),
])
def test_remote_charts_are_pinned_and_keep_credentials_out_of_urls(tmp_path, helm, message):
    with pytest.raises(ConfigError) as e:
        parse_config(f"syncs:\n  - name: x\n    source:\n      helm: {helm}\n", "k.yaml", tmp_path)
    assert message in str(e.value) and "k.yaml:4" in str(e.value)
    assert ":p@" not in str(e.value)


def args(*argv):
    p = argparse.ArgumentParser()
    add_render_flags(p)
    return p.parse_args(argv)


def test_render_flags_add_to_the_entrys_options(tmp_path):
    (tmp_path / "a.yaml").write_text("image: {tag: '1', pull: Always}\nreplicas: 1\n")
    (tmp_path / "b.yaml").write_text("image: {tag: '2'}\n")
    base = HelmOptions(values_files=("values-prod.yaml",), values=json.dumps({"replicas": 5, "keep": True}))
    got = helm_flags(args("--values", str(tmp_path / "a.yaml"), "--values", str(tmp_path / "b.yaml"), "--set", "x=y",
                          "--api-versions", "a.io/v1,b.io/v1"), base)
    assert got.values_files == ("values-prod.yaml",) and got.set_values == ("x=y",) and got.api_versions == ("a.io/v1", "b.io/v1")
    assert got.values_object() == {"image": {"tag": "2", "pull": "Always"}, "replicas": 1, "keep": True}
    assert helm_flags(args(), base) is base and helm_flags(args()) is None
    assert jsonnet_flags(args("--tla", "a=b", "--tla-code", "n=1+1", "-J", "lib")).tla_code == (("n", "1+1"),)
    with pytest.raises(UsageError, match="--tla: 'nope' is not NAME=VALUE"):
        jsonnet_flags(args("--tla", "nope"))
    with pytest.raises(UsageError, match="--chart-repo and --chart-version go with --chart"):
        helm_flags(args("--chart-version", "1.0.0"))


def test_an_encrypted_values_flag_file_is_refused_for_valuesfiles_which_are_decrypted_in_memory(tmp_path):
    """--values files become inline values (digested into the revision, kept in saved plans): never plaintext."""
    (tmp_path / "secrets.yaml").write_text("db:\n  password: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]\n"
                                           "sops:\n  mac: ENC[AES256_GCM,data:zzz,iv:x,tag:y,type:str]\n")
    with pytest.raises(UsageError, match="secrets.yaml: SOPS-encrypted; name it in kubesync.yaml's helm.valuesFiles"):
        helm_flags(args("--values", str(tmp_path / "secrets.yaml")))


def test_a_remote_chart_spec_describes_itself_without_credentials():
    spec = SourceSpec(helm=HelmOptions(repo="https://charts.example/stable", chart="web", version="1.2.3"))
    spec.check()
    assert (spec.describe(), spec.identity(), spec.default_name()) == (
        "https://charts.example/stable web 1.2.3", "https://charts.example/stable//web", "web")
    with pytest.raises(SourceError, match="give either a chart"):
        SourceSpec(path=".", helm=HelmOptions(chart="oci://r.example/web", version="1.0.0")).check()
