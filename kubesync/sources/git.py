"""Refs of a git repository, read straight from the commit's tree (no checkout).

Reading blobs instead of checking out lets two refs of one repository be read side by side
(`kubesync compare`) and never touches a person's work tree. A local path is opened in place;
a URL is fetched into a bare cache under `$XDG_CACHE_HOME/kubesync/git/<sha256 of the URL>`.

Credentials come from git itself (credential helpers, ssh agent) or from a URL's userinfo. A
password in the URL never reaches a command line (`ps` shows every argument to every user): git
is given the URL without it, and a one-off credential helper that reads it from the environment
(`credential_env`). A credential in a query string (`?token=`) cannot be passed that way and is
refused. The cache is filled with `git fetch URL`, so nothing is written to the cache's config,
and every message passes through `redact()`. A kustomization, a Helm chart or Jsonnet programs of a
commit render on a temporary checkout (checkout.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import posixpath
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import git
from gitdb.exc import BadName, BadObject

from kubesync.errors import SourceError, cut, printable
from kubesync.charts import desired_state
from kubesync.manifests import texts_of
from kubesync.model import CommitInfo, DesiredState
from kubesync.sources.spec import SUPPORTED_SCHEMES, SourceSpec, Target, clean_subpath, has_query_credential, is_url, redact
from kubesync.sources import checkout, helm, kustomize
from kubesync.sources.checkout import SYMLINK_MODE
from kubesync.sources.directory import IGNORE_FILE, MAX_FILE_BYTES, Entry, FileSet, IgnoreRules, collect, parse_ignore_file, unpinned

if TYPE_CHECKING:
    from kubesync.sources.keys import Keys

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 300  # seconds for one fetch; a hung remote must not hang the daemon
REMOTE_HEAD = "refs/remotes/origin/HEAD"
# The cache mirrors branches and tags under their own names, and the remote's HEAD.
FETCH_REFSPECS = ("+HEAD:" + REMOTE_HEAD, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def _git_env() -> dict[str, str]:
    """Never wait for a password on a terminal nobody watches; keep the user's ssh command."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if "GIT_SSH_COMMAND" not in os.environ and "GIT_SSH" not in os.environ:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


# git runs this for `credential.helper`: it answers `get` from the environment of the fetch, so the
# password travels in an environment variable (readable only by the same user), not in argv.
CREDENTIAL_HELPER = (
    """!f() { test "$1" = get || exit 0; printf 'username=%s\\npassword=%s\\n' """
    """"$KUBESYNC_GIT_USERNAME" "$KUBESYNC_GIT_PASSWORD"; }; f"""
)


def credential_env(url: str) -> tuple[str, dict[str, str]]:
    """(the URL git may see, extra environment): a password (or an https user name, often a token) moves from
    the URL to a credential helper.

    The helper list is reset first (an empty `credential.helper`), so a stored credential of the
    person running kubesync does not answer instead; config passes through GIT_CONFIG_COUNT/KEY/VALUE,
    which git reads from the environment, after any the caller set.
    """
    parts = urllib.parse.urlsplit(url)
    # A token as the user name (https://TOKEN@host/..., as GitHub and GitLab accept) is a secret too; over
    # ssh the user name (git@) is not, and ssh needs it in the URL.
    token_user = parts.scheme in ("http", "https") and parts.username and parts.password is None
    if "://" not in url or (parts.password is None and not token_user):
        return url, {}
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    first = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {
        "KUBESYNC_GIT_USERNAME": urllib.parse.unquote(parts.username or ""),
        "KUBESYNC_GIT_PASSWORD": urllib.parse.unquote(parts.password or ""),
        "GIT_CONFIG_COUNT": str(first + 2),
        f"GIT_CONFIG_KEY_{first}": "credential.helper",
        f"GIT_CONFIG_VALUE_{first}": "",
        f"GIT_CONFIG_KEY_{first + 1}": "credential.helper",
        f"GIT_CONFIG_VALUE_{first + 1}": CREDENTIAL_HELPER,
    }
    return clean, env


def _git_failure(e: Exception) -> str:
    """A git error for people: stderr when there is one, redacted and cut."""
    detail = getattr(e, "stderr", "") or str(e)
    detail = " ".join(str(detail).replace("stderr:", "").split()).strip("' ")
    return cut(redact(detail))


# --- opening a repository: in place, or through the clone cache ------------------------------


@dataclass
class OpenRepo:
    """A repository ready to read, with the name people know it by."""

    repo: git.Repo
    display: str  # the URL (redacted) or the path as given
    cached: bool  # a clone in the cache (branches mirrored) rather than a repository opened in place


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/kubesync/git`, else `~/.cache/kubesync/git`."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "kubesync" / "git"


def cache_path(url: str) -> Path:
    """The cache folder of a URL, keyed by the URL without credentials (a rotated token keeps it)."""
    return cache_root() / hashlib.sha256(redact(url).encode()).hexdigest()


def _check_url(url: str) -> None:
    if url.startswith("-"):
        raise SourceError(f"repository {redact(url)!r} looks like an option; give a URL or a path")
    if has_query_credential(url):
        raise SourceError(
            f"repository {redact(url)}: a credential in the URL's query string would be shown on git's command "
            "line; put it in the URL's userinfo (https://USER:TOKEN@host/...) or in a git credential helper"
        )
    scheme = url.split("://", 1)[0].lower() if "://" in url else "ssh"
    if scheme not in SUPPORTED_SCHEMES:
        raise SourceError(
            f"repository {redact(url)}: unsupported URL scheme {scheme!r}; use one of {', '.join(SUPPORTED_SCHEMES)}"
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One fetch at a time per cache folder, across processes (a CLI run beside the daemon)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch(repo: git.Repo, url: str) -> None:
    log.debug("fetching %s", redact(url))
    visible, credentials = credential_env(url)
    try:
        repo.git.fetch(
            "--prune", "--force", "--quiet", visible, *FETCH_REFSPECS,
            env={**_git_env(), **credentials}, kill_after_timeout=FETCH_TIMEOUT,
        )
    except git.GitCommandError as e:
        raise SourceError(f"cannot fetch {redact(url)}: {_git_failure(e)}") from None


def _clone(url: str, path: Path) -> None:
    """Fill a new bare cache in a temp folder, then rename it into place (atomic for readers)."""
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent))
    try:
        repo = git.Repo.init(tmp, bare=True)
        try:
            _fetch(repo, url)
        finally:
            repo.close()
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_cached(url: str, *, fetch: bool = True) -> OpenRepo:
    """A bare clone of `url` in the cache: created on first use, fetched on reuse."""
    _check_url(url)
    path = cache_path(url)
    with _locked(path):
        if not (path / "HEAD").exists():
            log.info("cloning %s into %s", redact(url), path)
            _clone(url, path)
        elif fetch:
            repo = git.Repo(path)
            try:
                _fetch(repo, url)
            finally:
                repo.close()
    return OpenRepo(git.Repo(path), redact(url), cached=True)


def open_local(path: str) -> OpenRepo:
    """A repository on disk, opened in place: nothing is fetched or checked out."""
    try:
        repo = git.Repo(path)
    except git.NoSuchPathError:
        raise SourceError(f"repository {path} does not exist") from None
    except git.InvalidGitRepositoryError:
        raise SourceError(f"{path} is not a git repository") from None
    return OpenRepo(repo, path, cached=False)


def open_repo(repo: str, *, fetch: bool = True) -> OpenRepo:
    return open_cached(repo, fetch=fetch) if is_url(repo) else open_local(repo)


# --- refs and trees ---------------------------------------------------------------------------


def _candidates(opened: OpenRepo, ref: str | None) -> list[str]:
    """Names to try for a ref, most specific first.

    A plain branch name that exists only on a remote resolves to `<remote>/<name>`; in the
    cache, branches are mirrored under their own names, so `origin/x` means `x` there.
    """
    if not ref or ref == "HEAD":
        return [REMOTE_HEAD] if opened.cached else ["HEAD"]
    names = [ref]
    if opened.cached:
        if ref.startswith("origin/"):
            names.append(ref[len("origin/") :])
    else:
        names += [f"{remote.name}/{ref}" for remote in opened.repo.remotes]
    return names


def _existing_commit(repo: git.Repo, name: str) -> git.Commit | None:
    try:
        commit = repo.commit(name)
        if repo.odb.info(commit.binsha).type != b"commit":  # a full sha is taken on trust otherwise
            return None
        return commit
    except (BadName, BadObject, ValueError, IndexError):
        return None


def resolve(opened: OpenRepo, ref: str | None) -> git.Commit:
    """The commit a branch, tag, sha, or remote branch names; SourceError naming repo and ref."""
    for name in _candidates(opened, ref):
        commit = _existing_commit(opened.repo, name)
        if commit is not None:
            return commit
    branches = sorted(h.name for h in opened.repo.heads)[:10]
    known = f" (branches: {', '.join(branches)})" if branches else ""
    raise SourceError(f"unknown ref {ref or 'HEAD'!r} in repository {opened.display}: not a branch, tag or commit there{known}")


def _subtree(commit: git.Commit, sub: str, display: str) -> git.Tree:
    if not sub:
        return commit.tree
    try:
        item = commit.tree / sub
    except KeyError:
        raise SourceError(f"sub-folder {sub} does not exist in {display} at {commit.hexsha[:12]}") from None
    if item.type != "tree":
        raise SourceError(f"{sub} is a file, not a folder, in {display} at {commit.hexsha[:12]}")
    return item


def _read_blob(blob: git.Blob) -> bytes:
    try:
        return blob.data_stream.read()
    except (ValueError, git.GitCommandError, BadObject) as e:
        raise OSError(f"cannot read blob {blob.hexsha[:12]}: {e}") from e


def _name(item: git.objects.base.IndexObject) -> str:
    """An entry's own name; `Submodule.name` would read .gitmodules (and fail without one)."""
    return posixpath.basename(item.path)


def _tree_entries(tree: git.Tree) -> Iterator[Entry]:
    """A git tree as Entries for the shared walk; symlinks and submodules are never followed."""
    for item in tree:
        name = _name(item)
        if item.type == "tree":
            yield Entry(name, True, children=partial(_tree_entries, item))
        elif item.type == "blob" and item.mode == SYMLINK_MODE:
            yield Entry(
                name,
                False,
                problem="is a symlink, which git sources do not follow; commit the file itself, or add it to .kubesyncignore",
            )
        elif item.type == "blob":
            yield Entry(name, False, size=item.size, read=partial(_read_blob, item))
        else:
            yield Entry(
                name,
                True,
                problem="is a git submodule, which git sources do not read; add it to .kubesyncignore",
            )


def _ignore_rules(tree: git.Tree, prefix: str) -> IgnoreRules:
    try:
        blob = tree / IGNORE_FILE
    except KeyError:
        return IgnoreRules()
    where = printable(posixpath.join(prefix, IGNORE_FILE))
    if blob.size > MAX_FILE_BYTES:
        raise SourceError(f"{where}: {blob.size} bytes, over the {MAX_FILE_BYTES} bytes a file may have")
    return parse_ignore_file(blob.data_stream.read(), where)


def read_tree(tree: git.Tree, prefix: str, max_total: int | None = None) -> FileSet:
    """Every manifest file of a tree, by the same rules as a folder; origins are repo-relative."""
    return collect(list(_tree_entries(tree)), _ignore_rules(tree, prefix), prefix=prefix, max_total=max_total)


# --- the source -------------------------------------------------------------------------------


def read_commit(
    opened: OpenRepo, commit: git.Commit, subpath: str | None, max_total: int | None = None, allow_remote: bool = False,
    spec: "SourceSpec | None" = None, target: Target | None = None, keys: "Keys | None" = None,
) -> FileSet:
    """The files of one commit (or its sub-folder): a kustomize or Helm rendering (`keys` open its SOPS-encrypted
    values files), or the tree's files (with its Jsonnet programs evaluated)."""
    sub = clean_subpath(subpath)
    try:
        tree = _subtree(commit, sub, opened.display)
        names = [_name(item) for item in tree]
        kfile = kustomize.find_kustomization(names)
        if kfile:
            return checkout.render_kustomization(opened.display, commit, sub, kfile, max_total, allow_remote)
        spec = spec or SourceSpec(repo=opened.display, subpath=sub or None, max_bytes=max_total)
        if helm.is_chart(names):
            return checkout.rendered(opened.display, commit, sub, spec, target or Target(), chart=True, keys=keys)
        fileset = read_tree(tree, printable(sub), max_total)
        if fileset.jsonnet and not fileset.problems:
            rendered = checkout.rendered(opened.display, commit, sub, spec, target or Target(), chart=False, walked=fileset)
            return replace(fileset, files=rendered.files)
        return fileset
    except ValueError as e:  # gitpython refuses a tree entry git itself would not check out ('..', '.git', 'a/b')
        if "Invalid repository path" not in str(e):
            raise
        raise SourceError(f"{opened.display}@{commit.hexsha[:12]}: a tree entry of this commit is a path git refuses "
                          f"({printable(str(e).split('path', 1)[-1].strip())}); a crafted commit: nothing was read") from None


def current_revision(spec: "SourceSpec", *, fetch: bool = True) -> str:
    """The commit sha the spec's ref names now, without reading the tree (a cheap poll)."""
    assert spec.repo, "git.current_revision needs spec.repo"
    opened = open_repo(spec.repo, fetch=fetch)
    try:
        return resolve(opened, spec.ref).hexsha
    finally:
        opened.repo.close()


MAX_COMMIT_BYTES = 1 << 20  # a commit object larger than this is not read for its message


def describe_commit(spec: "SourceSpec", sha: str) -> CommitInfo:
    """The subject and author of a commit the source already fetched (nothing is fetched here); its
    message is read only from a commit object of sane size, and only its first line is kept."""
    assert spec.repo, "git.describe_commit needs spec.repo"
    opened = open_repo(spec.repo, fetch=False)
    try:
        commit = _existing_commit(opened.repo, sha)
        if commit is None:
            raise SourceError(f"commit {sha[:12]} is not in {opened.display}")
        if opened.repo.odb.info(commit.binsha).size > MAX_COMMIT_BYTES:
            subject = "(a commit object over 1 MiB: its message is not shown)"
        else:
            subject = cut(printable(str(commit.message).strip().split("\n", 1)[0]), 200)
        author = cut(printable(f"{commit.author.name} <{commit.author.email}>"), 200)
        return CommitInfo(commit.hexsha, subject, author, float(commit.authored_date))
    finally:
        opened.repo.close()


def load(spec: "SourceSpec", *, fetch: bool = True, keys: "Keys | None" = None, sealed_ok: bool = False,
         target: Target | None = None) -> DesiredState:
    """A git source as a validated DesiredState; the revision is the resolved commit sha."""
    from kubesync.sources import encrypted

    assert spec.repo, "git.load needs spec.repo"
    clean_subpath(spec.subpath)  # refuse an escaping sub-folder before any I/O
    opened = open_repo(spec.repo, fetch=fetch)
    try:
        commit = resolve(opened, spec.ref)
        fileset = read_commit(opened, commit, spec.subpath, spec.max_bytes, spec.allow_remote, spec, target, keys)
    finally:
        opened.repo.close()
    manifests = encrypted.load_fileset(fileset, keys, sealed_ok=sealed_ok, max_nodes=spec.max_nodes)
    log.debug("read %d objects from %s at %s", len(manifests), spec.describe(), commit.hexsha[:12])
    state = desired_state(manifests, spec.describe(), commit.hexsha, fileset.warnings, fileset.charts)
    return replace(state, texts=texts_of(fileset.files))
