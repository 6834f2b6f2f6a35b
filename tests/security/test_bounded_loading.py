"""Finding 1 and the loading parts of finding 8: hostile YAML/JSON is refused early, with file:line.

Each test reproduces an attack that passed (or crashed) before the loader counted and bounded what
it builds; the alias bomb is measured in a child process under a memory cap.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap

import pytest

from kubesync.errors import ManifestError, SourceError
from kubesync.manifests import SourceFile, load_files
from kubesync.sources import SourceSpec, load
from tests.support.manifests import write

BOMB_LEVELS = 10  # 9 ** 10 = 3.5 billion strings from a 539-byte file


def alias_bomb() -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb", "data:"]
    lines.append('  a0: &a0 ["x","x","x","x","x","x","x","x","x"]')
    lines += [f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, BOMB_LEVELS)]
    return "\n".join(lines) + "\n"


def problems_of(files: dict[str, str]) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_files([SourceFile(name, text.encode()) for name, text in files.items()])
    return info.value.problems


CHILD = """
import json, sys, time
from kubesync.errors import KubesyncError
from kubesync.sources import SourceSpec, load, directory  # imports are not the refusal's cost
started = time.perf_counter()
try:
    load(SourceSpec(path=sys.argv[1]))
    outcome = "loaded"
except KubesyncError as e:
    outcome = str(e)
elapsed = time.perf_counter() - started
# VmHWM is this program's peak (ru_maxrss would also count the forked parent before exec).
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "seconds": elapsed, "max_rss_mb": peak_kb / 1024}))
"""


def test_alias_bomb_is_refused_within_a_second_and_100_mb(tmp_path):
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    cap = 1024 * 2**20  # a runaway expansion dies here instead of swapping the machine

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, timeout=60, preexec_fn=limit
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert "bomb.yaml:12: expands to more than 1000000 nodes" in found["outcome"]
    assert found["seconds"] < 1.0, found
    assert found["max_rss_mb"] < 100, found


def test_many_small_bombs_share_one_alias_budget():
    doc = textwrap.dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c%d}
        data:
          a: &a [x, x, x, x, x, x, x, x, x, x]
          b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
          c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
          d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
          e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
        """
    )
    found = problems_of({"many.yaml": "---\n".join(doc % i for i in range(200))})
    assert len(found) == 1
    assert found[0].startswith("many.yaml:")
    assert found[0].endswith(": YAML aliases in this source expand to more than 1000000 nodes in total")


def test_ordinary_anchors_and_merge_keys_still_load():
    text = textwrap.dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: app, labels: &labels {app: web, tier: front}}
        data:
          base: &base {a: "1", b: "2"}
          more: {<<: *base, c: "3"}
          again: *labels
        """
    )
    manifests = load_files([SourceFile("ok.yaml", text.encode())])
    assert manifests[0].obj["data"]["more"] == {"a": "1", "b": "2", "c": "3"}


@pytest.mark.parametrize("depth", [101, 300, 900, 5000])
def test_deep_yaml_is_refused_with_file_and_line(depth):
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\ndata:\n  k: {'[' * depth}{']' * depth}\n"
    found = problems_of({"deep.yaml": text})
    assert len(found) == 1
    assert found[0].startswith("deep.yaml:5: ")
    assert "nested deeper than 100 levels" in found[0] or "exceeded maximum nesting depth" in found[0]


@pytest.mark.parametrize("depth", [101, 300, 5000, 50000])
def test_deep_json_is_refused_with_file_and_line(depth):
    text = '{"apiVersion": "v1",\n "kind": "ConfigMap",\n "data":\n' + "[" * depth + "]" * depth + "}"
    assert problems_of({"deep.json": text}) == ["deep.json:4: nested deeper than 100 levels"]


def test_depth_through_an_alias_counts_in_full():
    inner = "[" * 60 + "1" + "]" * 60
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n  a: &a {inner}\n  b: {'[' * 50}*a {']' * 50}\n"
    assert problems_of({"alias.yaml": text}) == ["alias.yaml:6: nested deeper than 100 levels (through a YAML alias)"]


def test_a_source_over_its_total_size_stops_reading(tmp_path):
    for i in range(5):
        (tmp_path / f"cm{i}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{k: '{'x' * 1000}'}}\n")
    assert len(load(SourceSpec(path=str(tmp_path))).manifests) == 5
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(tmp_path), max_bytes=2500))
    assert info.value.problems == [
        "cm2.yaml: the source passes its total size limit of 2.4 KiB here; "
        "add files to .kubesyncignore, or raise maxSourceSize in kubesync.yaml"
    ]


def test_a_newline_in_a_file_name_cannot_forge_a_line(tmp_path):
    (tmp_path / "x.yaml\nerror: all good, applied.yaml").write_text("kind: ConfigMap\n")
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(path=str(tmp_path)))
    lines = str(info.value).splitlines()
    assert lines[0] == "2 problems in the desired state; nothing was applied:"
    assert len(lines) == 3
    assert not any(line.startswith("error:") for line in lines)
    assert all(line.startswith("  x.yaml\\nerror: all good") for line in lines[1:])


def test_a_symlink_out_of_the_folder_is_refused_naming_the_link(tmp_path):
    outside = write(tmp_path / "outside", {
        "stolen.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\nstringData: {k: v}\n",
    })
    source = write(tmp_path / "source", {"ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"})
    (source / "link").symlink_to(outside)
    (source / "file.yaml").symlink_to(outside / "stolen.yaml")
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(path=str(source)))
    assert info.value.problems == [
        f"file.yaml: symlink to {outside / 'stolen.yaml'}, outside the source folder; sources do not read outside "
        "their root: copy the file in, or add the link to .kubesyncignore",
        f"link/: symlink to {outside}, outside the source folder; sources do not read outside their root: "
        "copy the file in, or add the link to .kubesyncignore",
    ]


def test_a_git_kustomization_checkout_stops_at_the_source_size(tmp_path):
    """The kustomize checkout of a commit is written to disk: it is bounded like any read."""
    import subprocess as sp

    repo = write(tmp_path / "repo", {
        "kustomization.yaml": "resources: [cm.yaml]\n",
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    })
    (repo / "blob.bin").write_bytes(b"x" * 5000)
    sp.run(["git", "init", "-q"], cwd=repo, check=True)
    sp.run(["git", "add", "."], cwd=repo, check=True)
    sp.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.x", "commit", "-qm", "x"], cwd=repo, check=True)
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(repo), max_bytes=4096))
    assert "passes the source's total size limit of 4096 bytes at blob.bin" in str(info.value)


def test_deep_nesting_in_kubesync_yaml_and_a_saved_plan_is_a_clean_error(tmp_path):
    from kubesync.config import parse_config
    from kubesync.errors import ConfigError, UsageError
    from kubesync.planfile import read

    with pytest.raises(ConfigError) as info:
        parse_config("syncs: " + "[" * 5000 + "]" * 5000 + "\n", "k.yaml", tmp_path)
    assert str(info.value).startswith("k.yaml")
    plan = tmp_path / "plan.json"
    plan.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(UsageError) as info:
        read(str(plan))
    assert str(info.value) == f"{plan}: not a kubesync plan (nested too deeply)"
