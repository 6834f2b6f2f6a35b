"""A commit's tree written to a temporary folder, for the renderers that need files on disk: kustomize
(a kustomization may reference `../`), a Helm chart, the Jsonnet programs of a folder.

Symlinks are recreated only when they stay inside the tree. Chart and Jsonnet renderings of a commit
are cached by the commit (its content never changes), the options and the target, so a steady resync
checks nothing out.
"""

from __future__ import annotations

import logging
import posixpath
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import git

from kubesync.errors import SourceError, printable
from kubesync.manifests import SourceFile
from kubesync.sources import directory, helm, kustomize
from kubesync.sources.directory import FileSet, unpinned
from kubesync.sources.keys import Keys
from kubesync.sources.rendercache import CACHE, digest
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES, HelmOptions, SourceSpec, Target

log = logging.getLogger(__name__)

SYMLINK_MODE = 0o120000


def materialize(tree: git.Tree, dest: Path, max_total: int | None = None) -> None:
    """Write a commit's whole tree to `dest` (a kustomization may reference `../`), at most `max_total` bytes."""
    root = dest.resolve()
    limit, written = max_total or DEFAULT_MAX_SOURCE_BYTES, 0
    for item in tree.traverse():
        written += item.size if item.type == "blob" else 0
        if written > limit:
            raise SourceError(f"the repository passes the source's total size limit of {limit} bytes at {printable(item.path)}")
        target = (dest / item.path).resolve()
        if root not in target.parents:
            raise SourceError(f"refusing tree entry {item.path!r}: it points outside the repository")
        if item.type == "tree":
            target.mkdir(parents=True, exist_ok=True)
        elif item.type == "blob":
            target.parent.mkdir(parents=True, exist_ok=True)
            data = item.data_stream.read()
            if item.mode == SYMLINK_MODE:
                _materialize_link(target, data.decode("utf-8", "replace"), root)
            else:
                target.write_bytes(data)
                if item.mode & stat.S_IXUSR:
                    target.chmod(0o755)


def _materialize_link(target: Path, link: str, root: Path) -> None:
    """Recreate a symlink only when it stays inside the tree; kustomize must not read the host."""
    resolved = (target.parent / link).resolve()
    if resolved == root or root in resolved.parents:
        target.symlink_to(link)
    else:
        log.warning("not recreating symlink %s: it points outside the repository", target.relative_to(root))


def render_kustomization(repo: str, commit: git.Commit, sub: str, kfile: str, max_total: int | None, allow_remote: bool) -> FileSet:
    """The kustomization in `sub` of a commit, rendered on a temporary checkout of the whole tree."""
    where = f"{repo}@{commit.hexsha[:12]}"
    with tempfile.TemporaryDirectory(prefix="kubesync-kustomize-") as tmp:
        checkout = Path(tmp) / "repo"
        checkout.mkdir()
        materialize(commit.tree, checkout, max_total)
        folder = checkout / sub if sub else checkout
        display = f"{where}:{sub}" if sub else where
        rendering = kustomize.render_inside(
            folder, checkout, display, allow_remote=allow_remote, max_bytes=max_total,
            rename=[(str(checkout), where)], boundary_display=where,
        )
    return FileSet((SourceFile(posixpath.join(sub, kfile), rendering.data, rendered=True),),
                   warnings=unpinned(rendering.remote), encrypted_inputs=rendering.encrypted)


def rendered(repo: str, commit: git.Commit, sub: str, spec: SourceSpec, target: Target, *, chart: bool,
              walked: FileSet | None = None, keys: Keys | None = None) -> FileSet:
    """A chart or the Jsonnet programs of a commit, rendered on a temporary checkout; cached by the commit
    (its content never changes), the options and the target, so a steady resync checks nothing out."""
    where = f"{repo}@{commit.hexsha[:12]}"
    display = f"{where}:{sub}" if sub else where
    target = target.resolved() if chart else Target()  # a Jsonnet program does not depend on the cluster
    key = digest("git", repo, commit.hexsha, sub, chart, helm.options_key(spec.helm or HelmOptions()),
                 repr(spec.jsonnet), target.key(), keys.fingerprint() if keys and chart else "")
    cached = CACHE.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    with tempfile.TemporaryDirectory(prefix="kubesync-render-") as tmp:
        checkout = Path(tmp) / "repo"
        checkout.mkdir()
        materialize(commit.tree, checkout, spec.max_bytes)
        folder = checkout / sub if sub else checkout
        if chart:
            fileset = replace(directory.chart_fileset(folder, checkout, display, spec, target, keys), revision="")
        else:
            assert walked is not None
            fileset = directory.with_jsonnet(walked, folder, checkout, spec, printable(sub), cacheable=False)
    CACHE.put(key, fileset, sum(len(f.data) for f in fileset.files))
    return fileset
