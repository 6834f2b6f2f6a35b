"""sources/directory.py and sources/__init__.py: files below a folder, .kubesyncignore, SourceSpec."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesync.errors import ManifestError, SourceError
from kubesync.sources import SourceSpec, clean_subpath, current_revision, dns_label, is_url, load, redact
from kubesync.sources import directory
from kubesync.sources.directory import Entry, IgnoreRules, collect, content_revision, read_directory


@pytest.fixture(autouse=True)
def _no_home(tmp_path, monkeypatch):
    """Sources must never write to the real home directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def cm(name: str, namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{ns}\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def paths(root: Path) -> list[str]:
    return [f.path for f in read_directory(root).files]


def problems(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(path=str(root)))
    return info.value.problems


# --- which files ------------------------------------------------------------------------------


def test_reads_yaml_yml_and_json_recursively_in_sorted_order(tmp_path):
    write(
        tmp_path,
        {
            "b.yaml": cm("b"),
            "a.yml": cm("a"),
            "sub/z.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z"}}',
            "sub/deeper/c.YAML": cm("c"),
            "a-b.yaml": cm("ab"),
            "README.md": "# not a manifest",
            "notes.txt": "x",
            "script.sh": "#!/bin/sh",
        },
    )
    assert paths(tmp_path) == ["a-b.yaml", "a.yml", "b.yaml", "sub/deeper/c.YAML", "sub/z.json"]
    state = load(SourceSpec(path=str(tmp_path)))
    assert [m.ref.name for m in state.manifests] == ["ab", "a", "b", "c", "z"]
    assert [str(m.origin) for m in state.manifests] == ["a-b.yaml:1", "a.yml:1", "b.yaml:1", "sub/deeper/c.YAML:1", "sub/z.json:1"]
    assert state.source == str(tmp_path)


def test_hidden_files_and_folders_are_skipped(tmp_path):
    write(tmp_path, {".hidden.yaml": "not: valid: yaml: [", ".git/config.yaml": "x", "sub/.secret/a.yaml": "x", "ok.yaml": cm("ok")})
    assert paths(tmp_path) == ["ok.yaml"]


def test_empty_folder_gives_zero_manifests_not_an_error(tmp_path):
    state = load(SourceSpec(path=str(tmp_path)))
    assert state.manifests == ()
    assert state.revision == "sha256:e3b0c44298fc1c14"


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(tmp_path / "nope")))
    assert str(info.value) == f"source folder {tmp_path / 'nope'} does not exist"


def test_sub_folder_is_read_with_origins_below_the_source(tmp_path):
    write(tmp_path, {"apps/shop/a.yaml": cm("a"), "apps/other/b.yaml": cm("b")})
    state = load(SourceSpec(path=str(tmp_path), subpath="apps/shop"))
    assert [str(m.origin) for m in state.manifests] == ["apps/shop/a.yaml:1"]
    assert state.source == f"{tmp_path}:apps/shop"


def test_missing_sub_folder_is_named(tmp_path):
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(tmp_path), subpath="apps/nope"))
    assert str(info.value) == f"sub-folder apps/nope does not exist in source folder {tmp_path}"


def test_a_single_file_can_be_the_source(tmp_path):
    write(tmp_path, {"web.txt": cm("web")})
    state = load(SourceSpec(path=str(tmp_path / "web.txt")))
    assert [str(m) for m in state.manifests] == ["web.txt:1: v1 ConfigMap web"]


def test_a_nested_kustomization_is_not_read_as_manifests(tmp_path):
    write(tmp_path, {"a.yaml": cm("a"), "legacy/kustomization.yaml": "resources: [x.yaml]\n", "legacy/x.yaml": cm("x")})
    assert problems(tmp_path) == [
        "legacy/kustomization.yaml: a kustomization below the source root is not rendered; "
        "point the source at its folder, or add it to .kubesyncignore"
    ]
    write(tmp_path, {".kubesyncignore": "legacy/\n"})
    assert [m.ref.name for m in load(SourceSpec(path=str(tmp_path))).manifests] == ["a"]


# --- revision ---------------------------------------------------------------------------------


def test_revision_is_a_content_hash_of_paths_and_bytes(tmp_path):
    one = write(tmp_path / "one", {"a.yaml": cm("a"), "b/c.yaml": cm("c")})
    two = write(tmp_path / "two", {"a.yaml": cm("a"), "b/c.yaml": cm("c")})
    rev = load(SourceSpec(path=str(one))).revision
    assert current_revision(SourceSpec(path=str(one))) == rev
    assert rev.startswith("sha256:") and len(rev) == len("sha256:") + 16
    assert load(SourceSpec(path=str(two))).revision == rev
    (two / "b/c.yaml").write_text(cm("c") + "data: {k: v}\n")
    assert load(SourceSpec(path=str(two))).revision != rev
    (two / "b/c.yaml").rename(two / "c.yaml")
    assert content_revision(read_directory(two).files) != rev


# --- problems that would hide manifests -------------------------------------------------------


def test_symlink_loop_names_the_link(tmp_path):
    write(tmp_path, {"sub/a.yaml": cm("a")})
    (tmp_path / "sub" / "up").symlink_to("..")
    assert problems(tmp_path) == [
        "sub/up/: symlink loop (it points back to a folder above it); remove the link, or add it to .kubesyncignore"
    ]


def test_self_referencing_symlink_names_the_file(tmp_path):
    (tmp_path / "self.yaml").symlink_to("self.yaml")
    assert problems(tmp_path) == [
        "self.yaml: symlink loop (too many levels of symbolic links); remove the link, or add it to .kubesyncignore"
    ]


def test_broken_symlink_to_a_manifest_is_a_problem_but_others_are_skipped(tmp_path):
    (tmp_path / "gone.yaml").symlink_to("nowhere.yaml")
    (tmp_path / "base").symlink_to("missing-folder")
    assert problems(tmp_path) == [
        "gone.yaml: broken symlink (its target does not exist); remove the link, or add it to .kubesyncignore"
    ]


def test_symlinked_folders_and_files_inside_the_source_are_followed(tmp_path):
    write(tmp_path, {"shared/a.yaml": cm("a"), "app/b.yaml": cm("b")})
    (tmp_path / "app" / "shared").symlink_to("../shared")
    (tmp_path / "linked.yaml").symlink_to("app/b.yaml")
    assert paths(tmp_path) == ["app/b.yaml", "app/shared/a.yaml", "linked.yaml", "shared/a.yaml"]


def test_symlinks_leaving_the_source_are_refused(tmp_path):
    write(tmp_path, {"shared/a.yaml": cm("a"), "app/b.yaml": cm("b")})
    (tmp_path / "app" / "shared").symlink_to("../shared")
    assert paths(tmp_path / "app") == ["b.yaml"]
    assert problems(tmp_path / "app") == [
        "shared/: symlink to ../shared, outside the source folder; sources do not read outside their root: "
        "copy the file in, or add the link to .kubesyncignore"
    ]


def test_binary_and_non_utf8_files_are_named(tmp_path):
    write(tmp_path, {"logo.yaml": b"\x89PNG\x00\x01", "latin1.yaml": b"a: caf\xe9\n"})
    assert problems(tmp_path) == [
        "latin1.yaml:1: not valid UTF-8 (byte 0xE9); save the file as UTF-8 or add it to .kubesyncignore",
        "logo.yaml: binary file (it contains a NUL byte); only YAML and JSON text is read, remove it or add it to .kubesyncignore",
    ]


def test_files_over_the_size_limit_are_named(tmp_path, monkeypatch):
    write(tmp_path, {"big.yaml": "# " + "x" * (4 * 2**20) + "\n", "ok.yaml": cm("ok")})
    assert problems(tmp_path) == [
        "big.yaml: file is 4.0 MiB, over the 4 MiB limit; split it, or add it to .kubesyncignore"
    ]
    monkeypatch.setattr(directory, "MAX_FILE_BYTES", 10)
    assert paths(tmp_path) == []
    assert read_directory(tmp_path).problems == (
        "big.yaml: file is 4.0 MiB, over the 10 bytes limit; split it, or add it to .kubesyncignore",
        "ok.yaml: file is 52 bytes, over the 10 bytes limit; split it, or add it to .kubesyncignore",
    )


def test_unreadable_files_and_folders_are_named():
    def fail() -> bytes:
        raise PermissionError(13, "Permission denied")

    def no_children():
        raise PermissionError(13, "Permission denied")

    entries = [
        Entry("locked.yaml", False, size=1, read=fail),
        Entry("private", True, children=no_children),
        Entry("fifo.yaml", False, problem="not a regular file (a pipe, socket or device)"),
    ]
    result = collect(entries, IgnoreRules())
    assert result.files == ()
    assert result.problems == (
        "locked.yaml: cannot read: Permission denied",
        "private/: cannot read the folder: Permission denied",
        "fifo.yaml: not a regular file (a pipe, socket or device)",
    )


def test_unreadable_file_on_disk_is_named(tmp_path, monkeypatch):
    """chmod 0 does not stop root (CI runs as root), so the read itself is made to fail."""
    write(tmp_path, {"locked.yaml": cm("a"), "ok.yaml": cm("b")})
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert problems(tmp_path) == ["locked.yaml: cannot read: Permission denied"]


def test_problems_from_reading_and_parsing_are_reported_together(tmp_path):
    (tmp_path / "gone.yaml").symlink_to("nowhere.yaml")
    write(tmp_path, {"bad.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"})
    assert problems(tmp_path) == [
        "gone.yaml: broken symlink (its target does not exist); remove the link, or add it to .kubesyncignore",
        "bad.yaml:1: ConfigMap/a: apiVersion is missing; set it, e.g. apiVersion: apps/v1",
    ]


# --- .kubesyncignore --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, path, is_dir, ignored",
    [
        ("*.json", "a.json", False, True),
        ("*.json", "deep/er/a.json", False, True),
        ("*.json", "a.yaml", False, False),
        ("secret*", "sub/secrets.yaml", False, True),
        ("a?.yaml", "ab.yaml", False, True),
        ("a?.yaml", "abc.yaml", False, False),
        ("a?.yaml", "a/.yaml", False, False),
        ("[ab].yaml", "b.yaml", False, True),
        ("[!ab].yaml", "b.yaml", False, False),
        ("[!ab].yaml", "c.yaml", False, True),
        ("/top.yaml", "top.yaml", False, True),
        ("/top.yaml", "sub/top.yaml", False, False),
        ("sub/a.yaml", "sub/a.yaml", False, True),
        ("sub/a.yaml", "x/sub/a.yaml", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),
        ("build/", "x/build", True, True),
        ("**/tmp", "tmp", True, True),
        ("**/tmp", "a/b/tmp", False, True),
        ("docs/**", "docs/a/b.yaml", False, True),
        ("docs/**", "docs", True, False),
        ("a/**/z.yaml", "a/z.yaml", False, True),
        ("a/**/z.yaml", "a/b/c/z.yaml", False, True),
        ("a/**/z.yaml", "b/a/z.yaml", False, False),
        ("*", "anything/at/all.yaml", False, True),
        ("# comment", "# comment", False, False),
        ("\\#hash.yaml", "#hash.yaml", False, True),
        ("trailing.yaml   ", "trailing.yaml", False, True),
        ("[unclosed", "[unclosed", False, True),
    ],
)
def test_ignore_patterns(pattern, path, is_dir, ignored):
    assert IgnoreRules.parse(pattern).ignored(path, is_dir) is ignored


def test_ignore_negation_last_match_wins():
    rules = IgnoreRules.parse("# generated files\n*.yaml\n!keep.yaml\n\n!/dev/*.yaml\n/dev/skip.yaml\n")
    assert rules.ignored("a.yaml", False)
    assert not rules.ignored("keep.yaml", False)
    assert not rules.ignored("sub/keep.yaml", False)
    assert not rules.ignored("dev/a.yaml", False)
    assert rules.ignored("dev/skip.yaml", False)


def test_kubesyncignore_at_the_root_prunes_files_and_folders(tmp_path):
    write(
        tmp_path,
        {
            ".kubesyncignore": "# drafts and tests\ndrafts/\n*.test.yaml\n!important.test.yaml\n/local.yaml\n",
            "app.yaml": cm("app"),
            "local.yaml": cm("local"),
            "sub/local.yaml": cm("sublocal"),
            "drafts/broken.yaml": "{{{",
            "x.test.yaml": "{{{",
            "important.test.yaml": cm("important"),
        },
    )
    assert paths(tmp_path) == ["app.yaml", "important.test.yaml", "sub/local.yaml"]


def test_a_file_in_an_ignored_folder_cannot_be_re_included(tmp_path):
    write(tmp_path, {".kubesyncignore": "drafts/\n!drafts/keep.yaml\n", "drafts/keep.yaml": cm("keep")})
    assert paths(tmp_path) == []
    write(tmp_path, {".kubesyncignore": "drafts/*\n!drafts/keep.yaml\n", "drafts/skip.yaml": cm("skip")})
    assert paths(tmp_path) == ["drafts/keep.yaml"]


def test_ignored_paths_hide_their_problems(tmp_path):
    (tmp_path / "gone.yaml").symlink_to("nowhere.yaml")
    write(tmp_path, {".kubesyncignore": "gone.yaml\nbig.yaml\n", "big.yaml": b"\x00"})
    assert load(SourceSpec(path=str(tmp_path))).manifests == ()


def test_kubesyncignore_of_a_sub_folder_source_is_its_own(tmp_path):
    write(tmp_path, {".kubesyncignore": "*.yaml\n", "apps/a.yaml": cm("a"), "apps/.kubesyncignore": "b.yaml\n", "apps/b.yaml": cm("b")})
    state = load(SourceSpec(path=str(tmp_path), subpath="apps"))
    assert [m.ref.name for m in state.manifests] == ["a"]


def test_a_kubesyncignore_that_is_not_utf8_is_refused(tmp_path):
    write(tmp_path, {".kubesyncignore": b"\xff\xfe*\n"})
    with pytest.raises(SourceError) as info:
        load(SourceSpec(path=str(tmp_path)))
    assert str(info.value) == ".kubesyncignore: not valid UTF-8; save it as UTF-8"


# --- SourceSpec -------------------------------------------------------------------------------


def test_describe_strips_credentials():
    assert SourceSpec(path="manifests").describe() == "manifests"
    assert SourceSpec(path="manifests", subpath="apps").describe() == "manifests:apps"
    spec = SourceSpec(repo="https://bot:t0ken@github.com/org/infra.git", ref="main", subpath="apps/shop")
    assert spec.describe() == "https://github.com/org/infra.git@main:apps/shop"
    assert SourceSpec(repo="/srv/infra").describe() == "/srv/infra@HEAD"
    assert repr(spec) == "SourceSpec(repo='https://github.com/org/infra.git', ref='main', subpath='apps/shop')"
    assert spec.repo == "https://bot:t0ken@github.com/org/infra.git"  # kept for git itself


@pytest.mark.parametrize(
    "spec, name",
    [
        (SourceSpec(path="./Shop_Manifests/"), "shop-manifests"),
        (SourceSpec(path="deploy", subpath="apps/Web.Front"), "web-front"),
        (SourceSpec(repo="https://u:p@github.com/org/Infra.git"), "infra"),
        (SourceSpec(repo="git@github.com:org/platform.git", subpath="."), "platform"),
        (SourceSpec(repo="/srv/repos/gitops/"), "gitops"),
        (SourceSpec(path="___"), "kubesync"),
        (SourceSpec(path="x" * 80), "x" * 63),
    ],
)
def test_default_name_is_the_source_folder_as_a_dns_label(spec, name):
    assert spec.default_name() == name


def test_default_name_of_a_file_drops_the_extension(tmp_path):
    write(tmp_path, {"web-app.yaml": cm("a")})
    assert SourceSpec(path=str(tmp_path / "web-app.yaml")).default_name() == "web-app"
    assert SourceSpec(path=str(tmp_path)).default_name() == dns_label(tmp_path.name)


@pytest.mark.parametrize(
    "spec, message",
    [
        (SourceSpec(), "give a source: either a folder PATH or --repo (not both)"),
        (SourceSpec(path="a", repo="b"), "give a source: either a folder PATH or --repo (not both)"),
        (SourceSpec(path="a", ref="main"), "--ref main needs --repo: a folder has no refs"),
        (SourceSpec(path="a", subpath="../etc"), "sub-folder '../etc' leaves the source root ('..'); give a path inside it"),
        (SourceSpec(path="a", subpath="/etc"), "sub-folder '/etc' is absolute; give a path relative to the source root"),
    ],
)
def test_bad_specs_are_refused_before_any_io(spec, message):
    with pytest.raises(SourceError) as info:
        load(spec)
    assert str(info.value) == message


def test_clean_subpath():
    assert clean_subpath(None) == ""
    assert clean_subpath(".") == ""
    assert clean_subpath("./apps//shop/") == "apps/shop"
    with pytest.raises(SourceError):
        clean_subpath("apps/../../x")


def test_redact_and_is_url():
    text = "fatal: unable to access 'https://user:p%40ss@host/r.git/' and ssh://git:pw@h:22/r and http://tok@x/y"
    assert redact(text) == "fatal: unable to access 'https://host/r.git/' and ssh://h:22/r and http://x/y"
    assert is_url("https://github.com/org/r.git")
    assert is_url("file:///srv/r")
    assert is_url("git@github.com:org/r.git")
    assert not is_url("/srv/repos/r")
    assert not is_url("relative/repo")


# --- the demo app -----------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "manifests-example"


def test_manifests_example_is_a_valid_source_in_its_own_namespace():
    state = load(SourceSpec(path=str(EXAMPLE)))
    kinds = sorted(m.ref.kind for m in state.manifests)
    assert kinds == ["ConfigMap", "Deployment", "Namespace", "Role", "RoleBinding", "Secret", "Service", "ServiceAccount"]
    assert {m.ref.namespace for m in state.manifests if m.ref.kind != "Namespace"} == {"kubesync-demo"}
    by_kind = {m.ref.kind: m.obj for m in state.manifests}
    assert all(port["protocol"] == "TCP" for port in by_kind["Service"]["spec"]["ports"])
    assert by_kind["Deployment"]["spec"]["replicas"] == 2
    assert by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert "stringData" in by_kind["Secret"] and "data" not in by_kind["Secret"]
    assert SourceSpec(path=str(EXAMPLE)).default_name() == "manifests-example"
