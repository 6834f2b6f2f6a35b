"""`*.jsonnet` in a folder is evaluated (Argo CD's rule) in a bounded worker: top-level arguments and
external variables from the options, imports kept inside the source root, runaway programs stopped."""

from __future__ import annotations

import time

import pytest

from kubesync import errors
from kubesync.sources import JsonnetOptions, SourceSpec, current_revision, load
from tests.support.charts import objects, write
from tests.support.git import commit, init_repo

APP = {
    "guestbook.jsonnet": """\
        local labels = import 'lib/labels.libsonnet';
        function(name, replicas=1) [
          {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: name, labels: labels},
           data: {env: std.extVar('env'), replicas: std.toString(replicas)}},
          [{apiVersion: 'v1', kind: 'Service', metadata: {name: name},
            spec: {ports: [{port: 80, protocol: 'TCP'}], selector: {app: name}}}],
        ]
        """,
    "lib/labels.libsonnet": "{app: 'guestbook'}\n",
    "plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n",
}
OPTIONS = JsonnetOptions(tlas=(("name", "gb"),), tla_code=(("replicas", "3"),), ext_vars=(("env", "prod"),))


def test_a_jsonnet_app_evaluates_with_its_arguments_beside_plain_yaml(tmp_path):
    desired = load(SourceSpec(path=str(write(tmp_path / "app", APP)), jsonnet=OPTIONS))
    got = objects(desired)
    assert sorted(got) == ["ConfigMap/gb", "ConfigMap/plain", "Service/gb"]
    assert got["ConfigMap/gb"]["data"] == {"env": "prod", "replicas": "3"}
    assert got["ConfigMap/gb"]["metadata"]["labels"] == {"app": "guestbook"}
    assert {str(m.origin) for m in desired.manifests} == {"guestbook.jsonnet", "plain.yaml:1"}


def test_the_revision_follows_arguments_and_imports(tmp_path):
    app = write(tmp_path / "app", APP)
    first = load(SourceSpec(path=str(app), jsonnet=OPTIONS)).revision
    assert current_revision(SourceSpec(path=str(app), jsonnet=OPTIONS)) == first
    (app / "lib" / "labels.libsonnet").write_text("{app: 'other'}\n")
    assert load(SourceSpec(path=str(app), jsonnet=OPTIONS)).revision != first


def test_a_missing_argument_names_the_file(tmp_path):
    app = write(tmp_path / "app", APP)
    with pytest.raises(errors.ManifestError, match=r"guestbook.jsonnet: jsonnet: RUNTIME ERROR: .*name"):
        load(SourceSpec(path=str(app), jsonnet=JsonnetOptions(ext_vars=(("env", "x"),))))


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside.libsonnet", ".escape/outside.libsonnet"])
def test_imports_stay_inside_the_source_root(tmp_path, target):
    (tmp_path / "outside.libsonnet").write_text("{secret: 1}\n")
    app = write(tmp_path / "src" / "app", {"main.jsonnet": f"import '{target}'\n"})
    (app / ".escape").symlink_to(tmp_path)  # hidden: the walk skips it, only the import follows it
    with pytest.raises(errors.ManifestError, match=r"main.jsonnet: jsonnet: .*leaves the source root"):
        load(SourceSpec(path=str(app)))


def test_library_folders_are_searched_and_must_be_inside(tmp_path):
    app = write(tmp_path / "app", {"main.jsonnet": "import 'k.libsonnet'\n", "vendor/k.libsonnet": "{apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'n'}}\n"})
    assert sorted(objects(load(SourceSpec(path=str(app), jsonnet=JsonnetOptions(libs=("vendor",)))))) == ["Namespace/n"]
    with pytest.raises(errors.SourceError, match="jsonnet library folder '../..' leaves the source root"):
        load(SourceSpec(path=str(app), jsonnet=JsonnetOptions(libs=("../..",))))


def test_an_output_that_is_not_objects_is_refused(tmp_path):
    app = write(tmp_path / "app", {"main.jsonnet": "{a: {b: 1}}\n"})
    with pytest.raises(errors.ManifestError, match="main.jsonnet: the program's output is an object without apiVersion and kind"):
        load(SourceSpec(path=str(app)))


@pytest.mark.parametrize("program, match", [
    ("local f(n) = f(n + 1) + 1; f(0)", "max stack frames exceeded"),
    ("local d(s, n) = if n == 0 then s else d(s + s, n - 1); {a: d('x', 40)}", "used more than 512 MiB of memory"),
])
def test_runaway_programs_are_stopped(tmp_path, program, match):
    app = write(tmp_path / "app", {"main.jsonnet": program + "\n"})
    started = time.monotonic()
    with pytest.raises(errors.SourceError, match=match):
        load(SourceSpec(path=str(app)))
    assert time.monotonic() - started < 5


def test_a_jsonnet_app_in_git_evaluates_at_the_commit(tmp_path):
    import textwrap

    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {f"apps/gb/{k}": textwrap.dedent(v) for k, v in APP.items()})
    desired = load(SourceSpec(repo=str(tmp_path / "repo"), ref=sha, subpath="apps/gb", jsonnet=OPTIONS))
    assert sorted(objects(desired)) == ["ConfigMap/gb", "ConfigMap/plain", "Service/gb"]
    assert desired.revision == sha
    assert {str(m.origin) for m in desired.manifests} == {"apps/gb/guestbook.jsonnet", "apps/gb/plain.yaml:1"}
