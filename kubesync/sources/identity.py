"""Which source a sync's objects came from, the same on every machine (recorded in the inventory).

A prune is refused when the inventory was written from another source (two repositories'
`manifests/` folders must not prune each other), so the identity must not depend on where a
repository happens to be checked out:

    a git source (--repo URL)            git:<host>/<path>//<sub-folder>     (credentials and .git dropped)
    a folder inside a git work tree      git:<host>/<path>//<folder in the repository>   (its origin remote)
    a git work tree without a remote     the work tree's absolute path, and the folder inside it
    a folder under a kubesync.yaml       dir:<path relative to the kubesync.yaml's folder>
    any other folder                     its absolute path

So a CI runner's checkout, a colleague's clone and the daemon's git source of one repository are one
source; a different repository with a folder of the same name is another. The identity kubesync
recorded before (an absolute path) is accepted as an alias of the same source and replaced by the new
one on the next apply.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from dataclasses import dataclass

from kubesync.secrets import redact_credentials
from kubesync.sources.spec import SourceSpec, clean_subpath

log = logging.getLogger(__name__)

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")
_SCP = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>(?!//).+)$")


@dataclass(frozen=True)
class SourceIdentity:
    primary: str
    """What this run records."""
    aliases: tuple[str, ...] = ()
    """Older forms of the same source (accepted as equal when an inventory recorded them)."""


def repository_key(url: str) -> str | None:
    """`git:host/path` for a remote URL (https, ssh, git, scp-like), credentials, ports of the
    scheme's default and `.git` dropped, the host lower-cased; None for a local path or file:// URL."""
    url = redact_credentials(url.strip())
    m = _SCHEME.match(url)
    if m:
        scheme, rest = m.group(1).lower(), m.group("rest")
        if scheme == "file":
            return None
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].lower()
        host = re.sub(r":(443|80|22|9418)$", "", host)
    else:
        scp = _SCP.match(url)
        if not scp or os.path.exists(url):
            return None
        host, path = scp.group("host").lower(), scp.group("path")
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    return f"git:{host}/{path}" if host and path else None


def _joined(base: str, sub: str) -> str:
    sub = clean_subpath(sub)
    return f"{base}//{sub}" if sub else base


def _work_tree(folder: str) -> tuple[str, str | None] | None:
    """(work tree root, origin URL or None) of the git work tree holding `folder`, or None."""
    try:
        import git  # gitpython: reads .git (and a worktree's common dir) without running git
    except ImportError:  # pragma: no cover - a dependency
        return None
    try:
        repo = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, OSError):
        return None
    try:
        root = repo.working_tree_dir
        if not root:
            return None
        reader = repo.config_reader()
        url = None
        for remote in ("origin", *sorted(r.name for r in repo.remotes if r.name != "origin")):
            if reader.has_option(f'remote "{remote}"', "url"):
                url = str(reader.get_value(f'remote "{remote}"', "url"))
                break
        return os.path.realpath(root), url
    except Exception as e:  # a damaged .git: fall back to the path
        log.debug("cannot read the git work tree around %s: %s", folder, e)
        return None
    finally:
        repo.close()


def _folder_identity(spec: SourceSpec) -> str:
    folder = os.path.realpath(os.path.join(spec.path or ".", clean_subpath(spec.subpath)))
    tree = _work_tree(folder if os.path.isdir(folder) else os.path.dirname(folder))
    if tree is not None:
        root, url = tree
        inside = os.path.relpath(folder, root).replace(os.sep, "/")
        inside = "" if inside == "." else inside
        key = repository_key(url) if url else None
        return _joined(key or root, inside)
    if spec.root:
        relative = os.path.relpath(folder, os.path.realpath(spec.root)).replace(os.sep, "/")
        if not relative.startswith(".."):
            return "dir:" + ("" if relative == "." else posixpath.normpath(relative))
    return folder


def _repo_identity(spec: SourceSpec) -> str:
    key = repository_key(spec.repo or "")
    if key is None:  # a local repository: its origin, when it has one
        local = spec.repo or ""
        if local.startswith("file://"):
            local = local[len("file://"):]
        tree = _work_tree(local) if os.path.isdir(local) else None
        origin = repository_key(tree[1]) if tree and tree[1] else None
        key = origin or os.path.realpath(local)
    return _joined(key, spec.subpath or "")


def identify(spec: SourceSpec) -> SourceIdentity:
    """The source's identity (see the module docstring), with the form kubesync recorded before."""
    if spec.remote_chart:  # a chart pulled from a repository: the repository and the chart's name, any version
        return SourceIdentity(spec.identity())
    primary = _repo_identity(spec) if spec.repo else _folder_identity(spec)
    legacy = spec.identity()
    return SourceIdentity(primary, (legacy,) if legacy != primary else ())


def _repo_key(repo: str) -> str | None:
    """A repository's key (`git:host/path`), for a URL or a local clone with an origin; None otherwise."""
    key = repository_key(repo)
    if key is None and os.path.isdir(repo):
        tree = _work_tree(repo)
        key = repository_key(tree[1]) if tree and tree[1] else None
    return key


def syncs_reading(repo: str, syncs) -> list[tuple[object, str]]:
    """(sync, sub-folder) for every sync (settings.SyncConfig) whose source is `repo`: a git source of the
    same repository (same key, or the same local path), or a folder inside the local checkout `repo`."""
    key = _repo_key(repo)
    local = os.path.realpath(repo) if os.path.isdir(repo) else None
    out = []
    for sync in syncs:
        src = sync.source
        if src.repo:
            same = (key is not None and _repo_key(src.repo) == key) or (
                local is not None and os.path.isdir(src.repo) and os.path.realpath(src.repo) == local)
            if same:
                out.append((sync, clean_subpath(src.subpath)))
        elif src.path and local is not None:
            folder = os.path.realpath(os.path.join(src.path, clean_subpath(src.subpath)))
            inside = os.path.relpath(folder, local).replace(os.sep, "/")
            if inside == "." or not inside.startswith(".."):
                out.append((sync, "" if inside == "." else inside))
    return out
