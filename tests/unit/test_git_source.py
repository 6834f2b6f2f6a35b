"""sources/git.py: refs read from commit trees of real repositories built in tmp_path."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from kubesync.errors import ManifestError, SourceError
from kubesync.sources import SourceSpec, current_revision, load
from kubesync.sources import directory
from kubesync.sources import git as gitsource

ACTOR = git.Actor("Test", "test@example.com")


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path, monkeypatch):
    """No test reads the user's git config or writes below the real home directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", ACTOR.name)
        monkeypatch.setenv(f"GIT_{who}_EMAIL", ACTOR.email)
    monkeypatch.delenv("GIT_DIR", raising=False)


def cm(name: str, **data: str) -> str:
    body = "".join(f"\n  {k}: '{v}'" for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n" + (f"data:{body}\n" if data else "")


def commit(repo: git.Repo, files: dict[str, str | None], message: str) -> git.Commit:
    """Write (or delete, for None) files in the work tree and commit them."""
    root = Path(repo.working_tree_dir)
    for rel, content in files.items():
        path = root / rel
        if content is None:
            repo.index.remove([rel], working_tree=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        repo.index.add([rel])
    return repo.index.commit(message, author=ACTOR, committer=ACTOR)


@dataclass
class Origin:
    path: Path
    repo: git.Repo
    first: git.Commit  # main, tagged v1
    feature: git.Commit  # branch feature


@pytest.fixture
def origin(tmp_path) -> Origin:
    """main: apps/shop/{a,b}.yaml + other/c.yaml, tagged v1; feature: changes a, deletes b, adds d."""
    path = tmp_path / "origin"
    repo = git.Repo.init(path, initial_branch="main")
    first = commit(
        repo,
        {
            "apps/shop/a.yaml": cm("a", version="1"),
            "apps/shop/b.yaml": cm("b"),
            "apps/shop/README.md": "docs",
            "other/c.yaml": cm("c"),
        },
        "first",
    )
    repo.create_tag("v1", message="release 1")
    repo.create_head("feature").checkout()
    feature = commit(repo, {"apps/shop/a.yaml": cm("a", version="2"), "apps/shop/b.yaml": None, "apps/shop/d.yaml": cm("d")}, "feature")
    repo.heads.main.checkout()
    return Origin(path, repo, first, feature)


def names(state) -> list[str]:
    return [m.ref.name for m in state.manifests]


# --- a local repository, opened in place ------------------------------------------------------


def test_each_ref_is_read_from_its_commit(origin):
    repo = str(origin.path)
    cases = {
        None: (origin.first, ["a", "b", "c"]),
        "main": (origin.first, ["a", "b", "c"]),
        "v1": (origin.first, ["a", "b", "c"]),
        "feature": (origin.feature, ["a", "d", "c"]),
        origin.feature.hexsha: (origin.feature, ["a", "d", "c"]),
        origin.feature.hexsha[:10]: (origin.feature, ["a", "d", "c"]),
        "feature~1": (origin.first, ["a", "b", "c"]),
    }
    for ref, (sha, objects) in cases.items():
        state = load(SourceSpec(repo=repo, ref=ref))
        assert (state.revision, names(state)) == (sha.hexsha, objects), ref


def test_sub_folder_and_repo_relative_origins(origin):
    state = load(SourceSpec(repo=str(origin.path), ref="feature", subpath="apps/shop"))
    assert [str(m) for m in state.manifests] == ["apps/shop/a.yaml:1: v1 ConfigMap a", "apps/shop/d.yaml:1: v1 ConfigMap d"]
    assert state.manifests[0].obj["data"] == {"version": "2"}
    assert state.source == f"{origin.path}@feature:apps/shop"
    assert state.revision == origin.feature.hexsha


def test_two_refs_are_read_side_by_side_without_touching_the_work_tree(origin):
    (origin.path / "apps/shop/a.yaml").write_text("uncommitted: [")
    base = load(SourceSpec(repo=str(origin.path), ref="main", subpath="apps/shop"))
    head = load(SourceSpec(repo=str(origin.path), ref="feature", subpath="apps/shop"))
    assert (names(base), names(head)) == (["a", "b"], ["a", "d"])
    assert origin.repo.active_branch.name == "main"
    assert (origin.path / "apps/shop/a.yaml").read_text() == "uncommitted: ["


def test_remote_branches_after_fetch_and_names_only_on_the_remote(origin, tmp_path):
    clone = git.Repo.clone_from(str(origin.path), tmp_path / "clone")
    assert [h.name for h in clone.heads] == ["main"]
    for ref in ("origin/feature", "feature"):
        state = load(SourceSpec(repo=str(tmp_path / "clone"), ref=ref))
        assert state.revision == origin.feature.hexsha, ref


def test_unknown_ref_names_repo_and_ref(origin):
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(origin.path), ref="nope"))
    assert str(info.value) == f"unknown ref 'nope' in repository {origin.path}: not a branch, tag or commit there (branches: feature, main)"
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(origin.path), ref="0" * 40))
    assert "unknown ref '0000000000000000000000000000000000000000'" in str(info.value)


def test_escaping_sub_folders_are_refused_before_any_io(tmp_path):
    for subpath, message in (
        ("../x", "sub-folder '../x' leaves the source root ('..'); give a path inside it"),
        ("apps/../../x", "sub-folder 'apps/../../x' leaves the source root ('..'); give a path inside it"),
        ("/etc", "sub-folder '/etc' is absolute; give a path relative to the source root"),
    ):
        with pytest.raises(SourceError) as info:
            load(SourceSpec(repo=str(tmp_path / "not-even-a-repo"), subpath=subpath))
        assert str(info.value) == message


def test_missing_sub_folder_or_a_file_is_named(origin):
    sha = origin.first.hexsha[:12]
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(origin.path), subpath="apps/nope"))
    assert str(info.value) == f"sub-folder apps/nope does not exist in {origin.path} at {sha}"
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(origin.path), subpath="other/c.yaml"))
    assert str(info.value) == f"other/c.yaml is a file, not a folder, in {origin.path} at {sha}"


def test_not_a_repository(tmp_path):
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(tmp_path)))
    assert str(info.value) == f"{tmp_path} is not a git repository"
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=str(tmp_path / "nope")))
    assert str(info.value) == f"repository {tmp_path / 'nope'} does not exist"


# --- the same file rules as a folder ----------------------------------------------------------


def test_ignore_hidden_extension_and_size_rules_apply_to_trees(origin, monkeypatch):
    commit(
        origin.repo,
        {
            "apps/shop/.kubesyncignore": "drafts/\n",
            "apps/shop/drafts/x.yaml": "{{{",
            "apps/shop/.hidden.yaml": "{{{",
            "apps/shop/notes.txt": "x",
            "apps/shop/z.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z"}}',
        },
        "rules",
    )
    spec = SourceSpec(repo=str(origin.path), subpath="apps/shop")
    assert [str(m.origin) for m in load(spec).manifests] == ["apps/shop/a.yaml:1", "apps/shop/b.yaml:1", "apps/shop/z.json:1"]
    monkeypatch.setattr(directory, "MAX_FILE_BYTES", 70)
    with pytest.raises(ManifestError) as info:
        load(spec)
    assert info.value.problems == ["apps/shop/a.yaml: file is 72 bytes, over the 70 bytes limit; split it, or add it to .kubesyncignore"]


def test_folder_and_tree_of_the_same_files_yield_the_same_manifests(origin):
    from_tree = load(SourceSpec(repo=str(origin.path), subpath="apps/shop"))
    from_folder = load(SourceSpec(path=str(origin.path), subpath="apps/shop"))
    assert [(str(m), m.obj) for m in from_tree.manifests] == [(str(m), m.obj) for m in from_folder.manifests]


def test_symlinks_in_a_tree_are_problems_not_silent_skips(origin):
    (origin.path / "other" / "link.yaml").symlink_to("c.yaml")
    origin.repo.index.add(["other/link.yaml"])
    origin.repo.index.commit("link", author=ACTOR, committer=ACTOR)
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(repo=str(origin.path), subpath="other"))
    assert info.value.problems == [
        "other/link.yaml: is a symlink, which git sources do not follow; commit the file itself, or add it to .kubesyncignore"
    ]


def test_submodules_are_problems_unless_ignored(origin):
    origin.repo.git.update_index("--add", "--cacheinfo", f"160000,{origin.first.hexsha},other/vendor")
    origin.repo.index.update()
    origin.repo.index.commit("submodule", author=ACTOR, committer=ACTOR)
    with pytest.raises(ManifestError) as info:
        load(SourceSpec(repo=str(origin.path), subpath="other"))
    assert info.value.problems == ["other/vendor/: is a git submodule, which git sources do not read; add it to .kubesyncignore"]
    commit(origin.repo, {"other/.kubesyncignore": "/vendor/\n"}, "ignore it")
    assert names(load(SourceSpec(repo=str(origin.path), subpath="other"))) == ["c"]


def test_an_empty_tree_gives_zero_manifests(origin):
    commit(origin.repo, {"empty/README.md": "nothing yet"}, "empty")
    state = load(SourceSpec(repo=str(origin.path), subpath="empty"))
    assert state.manifests == ()
    assert state.revision == origin.repo.head.commit.hexsha


# --- URLs: the clone cache --------------------------------------------------------------------


def test_file_url_is_cloned_bare_into_the_cache_and_fetched_on_reuse(origin, tmp_path):
    url = origin.path.as_uri()
    state = load(SourceSpec(repo=url, ref="main"))
    assert (state.revision, names(state)) == (origin.first.hexsha, ["a", "b", "c"])
    cache = tmp_path / "cache" / "kubesync" / "git" / hashlib.sha256(url.encode()).hexdigest()
    assert gitsource.cache_path(url) == cache
    assert git.Repo(cache).bare
    assert not (tmp_path / "home").exists()

    assert load(SourceSpec(repo=url)).revision == origin.first.hexsha  # the remote's HEAD
    for ref in ("feature", "origin/feature", "v1"):
        assert load(SourceSpec(repo=url, ref=ref)).revision == (origin.feature if "feature" in ref else origin.first).hexsha

    newer = commit(origin.repo, {"other/e.yaml": cm("e")}, "newer")
    assert load(SourceSpec(repo=url, ref="main"), fetch=False).revision == origin.first.hexsha
    assert current_revision(SourceSpec(repo=url, ref="main")) == newer.hexsha
    state = load(SourceSpec(repo=url, ref="main"))
    assert (state.revision, names(state)) == (newer.hexsha, ["a", "b", "c", "e"])


def test_deleted_remote_branches_are_pruned_from_the_cache(origin):
    url = origin.path.as_uri()
    load(SourceSpec(repo=url, ref="feature"))
    origin.repo.delete_head("feature", force=True)
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=url, ref="feature"))
    assert str(info.value) == f"unknown ref 'feature' in repository {url}: not a branch, tag or commit there (branches: main)"


def test_credentials_never_appear_in_errors(tmp_path):
    url = "https://deploy-bot:s3cr3t-t0ken@127.0.0.1:9/org/repo.git"
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=url, ref="main"))
    message = str(info.value)
    assert message.startswith("cannot fetch https://127.0.0.1:9/org/repo.git: ")
    assert "s3cr3t" not in message and "deploy-bot" not in message
    cache = gitsource.cache_path(url)
    assert not cache.exists() and list(cache.parent.glob("*.tmp")) == []


def test_the_cache_never_stores_the_url(origin):
    url = origin.path.as_uri()
    load(SourceSpec(repo=url))
    config = (gitsource.cache_path(url) / "config").read_text()
    assert str(origin.path) not in config


def test_unsupported_schemes_and_option_like_urls_are_refused():
    with pytest.raises(SourceError) as info:  # not a URL: taken as a path, never handed to git fetch
        load(SourceSpec(repo="ext::sh -c touch% /tmp/pwned"))
    assert str(info.value) == "repository ext::sh -c touch% /tmp/pwned does not exist"
    with pytest.raises(SourceError) as info:
        gitsource.open_cached("ftp://host/r.git")
    assert str(info.value) == (
        "repository ftp://host/r.git: unsupported URL scheme 'ftp'; use one of https, http, ssh, git, git+ssh, ssh+git, file"
    )
    with pytest.raises(SourceError) as info:
        gitsource.open_cached("--upload-pack=touch /tmp/x")
    assert str(info.value) == "repository '--upload-pack=touch /tmp/x' looks like an option; give a URL or a path"


def test_a_crafted_tree_entry_is_one_clear_source_error(tmp_path):
    """A commit whose tree holds an entry named `..` (git itself refuses to check it out): made with git's
    plumbing, as an attacker would, it must not escape as 'unexpected ValueError' (issue 31)."""
    import subprocess

    repo = tmp_path / "evil"

    def git(*args, data=None):
        return subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, text=True, check=True).stdout.strip()

    repo.mkdir()
    git("init", "-q", "-b", "main")
    blob = git("hash-object", "-w", "--stdin", data="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    sub = git("mktree", data=f"100644 blob {blob}\tcm.yaml\n")
    root = git("mktree", "--missing", data=f"040000 tree {sub}\t..\n100644 blob {blob}\tok.yaml\n")
    commit = git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit-tree", root, "-m", "crafted")
    git("update-ref", "refs/heads/main", commit)
    with pytest.raises(SourceError, match=r"a tree entry of this commit is a path git refuses .*'tree/\.\.'.*nothing was read"):
        load(SourceSpec(repo=str(repo), ref="main"))


# --- the commit behind a revision (the daemon's dashboard shows it beside a revision being tried) ---------


def test_a_revision_is_described_by_its_commits_subject_and_author_from_the_clone_already_there(origin, tmp_path):
    from kubesync.sources import describe_revision

    ann = git.Actor("Ann \x1b[31mExample", "ann@example.com")
    message = "Bump the quota\u202e to 8\n\nA body that is not shown.\n" + "x" * 500
    sha = origin.repo.index.commit(message, author=ann, committer=ACTOR).hexsha
    info = describe_revision(SourceSpec(repo=str(origin.path), ref="main"), sha)
    assert info.sha == sha and info.subject == "Bump the quota\\u202e to 8"  # one line, what could forge output escaped
    assert info.author == "Ann \\x1b[31mExample <ann@example.com>" and info.time > 0
    # A URL source is read from its clone in the cache, never fetched for this.
    url = f"file://{origin.path}"
    load(SourceSpec(repo=url, ref="main"))
    assert describe_revision(SourceSpec(repo=url, ref="main"), sha).subject == info.subject
    assert describe_revision(SourceSpec(path=str(tmp_path)), "sha256:" + "0" * 64) is None  # a folder has no commit
    with pytest.raises(SourceError, match="is not in"):
        describe_revision(SourceSpec(repo=str(origin.path)), "f" * 40)


def test_a_huge_commit_message_is_not_read(origin, monkeypatch):
    from kubesync.sources import describe_revision

    sha = origin.repo.index.commit("y" * 200 + "\n" + "z" * 3000, author=ACTOR, committer=ACTOR).hexsha
    monkeypatch.setattr(gitsource, "MAX_COMMIT_BYTES", 1000)
    assert "message is not shown" in describe_revision(SourceSpec(repo=str(origin.path)), sha).subject
