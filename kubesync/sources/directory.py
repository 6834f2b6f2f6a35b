"""Files below a folder, and the file-selection rules every source shares.

A source describes its tree as `Entry`s (a folder on disk, or a git tree); `collect` walks them
with one set of rules, so a folder and a git commit of it yield exactly the same files:

- hidden files and folders (a name starting with '.') are skipped;
- `.kubesyncignore` at the source root, in the common gitignore syntax, prunes paths;
- only `*.yaml`, `*.yml` and `*.json` are read, in sorted path order;
- anything that might hide manifests (an unreadable folder, a symlink loop, an oversized file)
  is a problem, never a silent skip: a silently missing object would be pruned;
- a source stays inside its root: a symlink that leaves the folder is refused, naming the link;
- reading stops once the source passes its total size (`SourceSpec.max_bytes`, 256 MiB by default).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from kubesync.errors import SourceError, printable
from kubesync.manifests import MANIFEST_SUFFIXES, SourceFile, texts_of
from kubesync.model import DesiredState
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES, clean_subpath
from kubesync.charts import desired_state
from kubesync.sources import helm, jsonnet, kustomize
from kubesync.sources.spec import Target
from kubesync.sources.ignore import IgnorePattern, IgnoreRules, parse_ignore_file  # noqa: F401  (git.py reads them here)

if TYPE_CHECKING:
    from kubesync.sources.keys import Keys
    from kubesync.sources.spec import SourceSpec

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * 1024 * 1024  # larger files are refused: manifests that big are a mistake
IGNORE_FILE = ".kubesyncignore"


# --- one walk for every source ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One name in a folder of a source tree: a sub-folder (`children`) or a file (`read`).

    `problem` says why the entry cannot be used (a broken link, a loop); it is reported only if
    the rules would have read the entry.
    """

    name: str
    is_dir: bool
    size: int = 0
    read: Callable[[], bytes] | None = None
    children: Callable[[], Iterable["Entry"]] | None = None
    problem: str = ""


@dataclass(frozen=True)
class FileSet:
    """What a source tree yielded: files to parse, problems found while reading it, and warnings
    for the plan (remote kustomize resources, unpinned by the source's revision)."""

    files: tuple[SourceFile, ...]
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    jsonnet: tuple[str, ...] = ()
    """`*.jsonnet` programs found by the walk (paths relative to the folder walked), evaluated by the caller."""
    charts: tuple = ()
    """The Helm charts rendered (model.Chart)."""
    revision: str = ""
    """The source's revision when it is not the content hash of `files` (a chart: its files and values)."""
    encrypted_inputs: tuple[SourceFile, ...] = ()
    """SOPS-encrypted files a kustomization read (ciphertext): they open the ciphertext in its rendering."""
    decrypted: object = None
    """The values files a chart was rendered with decrypted (sources.ciphertext.DecryptedValues), or None."""


def unpinned(remote: Iterable[str]) -> tuple[str, ...]:
    """Plan warnings naming remote kustomize resources (allowRemoteResources: true)."""
    return tuple(
        f"{r}: remote resource, unpinned: the source's revision does not pin it, so a change there is not "
        "noticed by polling or by saved-plan staleness"
        for r in remote
    )


def _sort_key(file: SourceFile) -> list[str]:
    return file.path.split("/")


def collect(
    entries: Iterable[Entry],
    ignore: IgnoreRules,
    *,
    prefix: str = "",
    max_bytes: int | None = None,
    max_total: int | None = None,
) -> FileSet:
    """Walk a source tree with the shared rules; origins are `prefix/relative path`.

    `max_bytes` bounds each file, `max_total` the whole source: past it the walk stops reading.
    """
    walk = _Walk(ignore, prefix, MAX_FILE_BYTES if max_bytes is None else max_bytes, max_total or DEFAULT_MAX_SOURCE_BYTES)
    try:
        walk.folder(entries, "")
    except _SourceTooLarge as e:
        walk.problems.append(str(e))
    return FileSet(tuple(sorted(walk.files, key=_sort_key)), tuple(walk.problems), jsonnet=tuple(walk.jsonnet))


class _SourceTooLarge(Exception):
    """The walk passed the source's total size: it stops, naming the file that crossed the line."""


class _Walk:
    """One pass over a tree: hidden and ignored paths pruned, problems gathered, never raised."""

    def __init__(self, ignore: IgnoreRules, prefix: str, max_bytes: int, max_total: int):
        self.ignore, self.prefix, self.max_bytes, self.max_total = ignore, prefix, max_bytes, max_total
        self.total = 0
        self.files: list[SourceFile] = []
        self.problems: list[str] = []
        self.jsonnet: list[str] = []

    def origin(self, rel: str) -> str:
        """The file's name in messages and plans, control characters escaped (a name can forge a line)."""
        return printable(posixpath.join(self.prefix, rel) if self.prefix else rel)

    def count(self, origin: str, size: int) -> None:
        self.total += size
        if self.total > self.max_total:
            raise _SourceTooLarge(
                f"{origin}: the source passes its total size limit of {_size(self.max_total)} here; "
                "add files to .kubesyncignore, or raise maxSourceSize in kubesync.yaml"
            )

    def folder(self, entries: Iterable[Entry], rel_dir: str) -> None:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_dir:
                self.subfolder(entry, rel)
            else:
                self.file(entry, rel)

    def subfolder(self, entry: Entry, rel: str) -> None:
        if self.ignore.ignored(rel, True):
            return
        if entry.problem or entry.children is None:
            self.problems.append(f"{self.origin(rel)}/: {entry.problem or 'cannot be read'}")
            return
        try:
            children = list(entry.children())
        except OSError as e:
            self.problems.append(f"{self.origin(rel)}/: cannot read the folder: {e.strerror or e}")
            return
        self.folder(children, rel)

    def file(self, entry: Entry, rel: str) -> None:
        if self.ignore.ignored(rel, False):
            return
        origin = self.origin(rel)
        if entry.name in kustomize.KUSTOMIZATION_FILES:
            self.problems.append(
                f"{origin}: a kustomization below the source root is not rendered; "
                "point the source at its folder, or add it to .kubesyncignore"
            )
            return
        if jsonnet.is_jsonnet(entry.name):
            if entry.problem:
                self.problems.append(f"{origin}: {entry.problem}")
            else:
                self.count(origin, entry.size)
                self.jsonnet.append(rel)
            return
        if not entry.name.lower().endswith(MANIFEST_SUFFIXES):
            if entry.problem:
                log.warning("skipping %s: %s", origin, entry.problem)
            return
        if entry.problem or entry.read is None:
            self.problems.append(f"{origin}: {entry.problem or 'cannot be read'}")
            return
        if entry.size > self.max_bytes:
            self.problems.append(_too_large(origin, entry.size, self.max_bytes))
            return
        self.count(origin, entry.size)
        try:
            data = entry.read()
        except OSError as e:
            self.problems.append(f"{origin}: cannot read: {e.strerror or e}")
            return
        if len(data) > self.max_bytes:  # grew since it was listed
            self.problems.append(_too_large(origin, len(data), self.max_bytes))
            return
        self.count(origin, len(data) - entry.size)
        self.files.append(SourceFile(origin, data))


def _size(n: int) -> str:
    """4194304 -> '4 MiB', 4194400 -> '4.0 MiB', 1536 -> '1.5 KiB', 10 -> '10 bytes'."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n // scale} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _too_large(origin: str, size: int, limit: int) -> str:
    return f"{origin}: file is {_size(size)}, over the {_size(limit)} limit; split it, or add it to .kubesyncignore"


# --- folders on disk --------------------------------------------------------------------------


def _stat_problem(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links); remove the link, or add it to .kubesyncignore"
    if e.errno == errno.ENOENT:
        return "broken symlink (its target does not exist); remove the link, or add it to .kubesyncignore"
    return f"cannot read: {e.strerror or e}"


def _outside(entry: os.DirEntry, root: str) -> str:
    """The problem of a symlink whose target leaves the source folder ('' when it stays inside)."""
    if not entry.is_symlink():
        return ""
    target = os.path.realpath(entry.path)
    if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
        return ""
    return (
        f"symlink to {printable(os.readlink(entry.path))}, outside the source folder; sources do not read "
        "outside their root: copy the file in, or add the link to .kubesyncignore"
    )


def _disk_entry(entry: os.DirEntry, ancestors: frozenset[tuple[int, int]], root: str) -> Entry:
    """One scandir entry as an Entry; symlinks are followed inside the root, loops back to an ancestor refused."""
    try:
        st = os.stat(entry.path)
    except OSError as e:
        return Entry(entry.name, False, problem=_stat_problem(e))
    outside = _outside(entry, root)
    if outside:
        return Entry(entry.name, stat.S_ISDIR(st.st_mode), problem=outside)
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            return Entry(
                entry.name,
                True,
                problem="symlink loop (it points back to a folder above it); remove the link, or add it to .kubesyncignore",
            )
        return Entry(entry.name, True, children=partial(_disk_entries, entry.path, ancestors | {key}, root))
    if stat.S_ISREG(st.st_mode):
        return Entry(entry.name, False, size=st.st_size, read=Path(entry.path).read_bytes)
    return Entry(entry.name, False, problem="not a regular file (a pipe, socket or device)")


def _disk_entries(path: str, ancestors: frozenset[tuple[int, int]], root: str) -> Iterator[Entry]:
    with os.scandir(path) as it:
        found = sorted(it, key=lambda e: e.name)
    return (_disk_entry(e, ancestors, root) for e in found)


def _ignore_rules(root: Path, prefix: str) -> IgnoreRules:
    """The root's .kubesyncignore: a regular file inside the root, at most MAX_FILE_BYTES."""
    path = root / IGNORE_FILE
    where = printable(posixpath.join(prefix, IGNORE_FILE))
    if not path.is_file():
        return IgnoreRules()
    real, inside = os.path.realpath(path), os.path.realpath(root)
    if not real.startswith(inside.rstrip(os.sep) + os.sep):
        raise SourceError(f"{where}: symlink to outside the source folder; sources do not read outside their root")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceError(_too_large(where, size, MAX_FILE_BYTES))
    return parse_ignore_file(path.read_bytes(), where)


def read_directory(root: Path, *, prefix: str = "", max_bytes: int | None = None, max_total: int | None = None) -> FileSet:
    """Every manifest file below `root`, by the shared rules; origins are `prefix/relative path`."""
    ignore = _ignore_rules(root, prefix)
    st = root.stat()
    try:
        entries = list(_disk_entries(str(root), frozenset({(st.st_dev, st.st_ino)}), os.path.realpath(root)))
    except OSError as e:
        raise SourceError(f"cannot read source folder {printable(root)}: {e.strerror or e}") from e
    return collect(entries, ignore, prefix=prefix, max_bytes=max_bytes, max_total=max_total)


def content_revision(files: Iterable[SourceFile]) -> str:
    """A short content hash of (path, bytes): the same files give the same revision anywhere."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.path}\0{len(f.data)}\0".encode())
        h.update(f.data)
    return "sha256:" + h.hexdigest()[:16]


def _root(spec: "SourceSpec") -> tuple[Path, str]:
    """The folder to read and the origin prefix (the sub-folder, so origins stay source-relative)."""
    base = Path(spec.path or ".")
    if not base.exists():
        raise SourceError(f"source folder {printable(spec.path)} does not exist")
    sub = clean_subpath(spec.subpath)
    root = base / sub if sub else base
    if not root.exists():
        raise SourceError(f"sub-folder {printable(sub)} does not exist in source folder {printable(spec.path)}")
    return root, sub


def read_source(spec: "SourceSpec", target: "Target | None" = None, keys: "Keys | None" = None) -> FileSet:
    """The files of a folder source: a kustomize rendering, a Helm chart's rendering (`keys` open its
    SOPS-encrypted values files), a single file, or the folder's files (with its Jsonnet programs evaluated)."""
    root, prefix = _root(spec)
    if root.is_file():
        return _single_file(root, printable(prefix or root.name))
    names = os.listdir(root)
    kfile = kustomize.find_kustomization(names)
    if not kfile and helm.is_chart(names):
        return chart_fileset(root, kustomize_boundary(Path(spec.path or ".")), printable(prefix or root.name), spec,
                             target or Target(), keys)
    if kfile:
        base = kustomize_boundary(Path(spec.path or "."))
        rendering = kustomize.render_inside(
            root, base, printable(root), allow_remote=spec.allow_remote, max_bytes=spec.max_bytes,
            boundary_display=printable(base),
        )
        return FileSet((SourceFile(posixpath.join(prefix, kfile), rendering.data, rendered=True),),
                       warnings=unpinned(rendering.remote), encrypted_inputs=rendering.encrypted)
    fileset = read_directory(root, prefix=printable(prefix), max_total=spec.max_bytes)
    return with_jsonnet(fileset, root, kustomize_boundary(Path(spec.path or ".")), spec, printable(prefix))


def with_jsonnet(fileset: FileSet, folder: Path, boundary: Path, spec: "SourceSpec", prefix: str,
                 cacheable: bool = True) -> FileSet:
    """The walk's files plus the evaluated `*.jsonnet` programs it found (imports kept inside `boundary`)."""
    if not fileset.jsonnet or fileset.problems:
        return fileset
    rendered = jsonnet.evaluate(folder, fileset.jsonnet, spec.jsonnet, boundary=boundary, prefix=prefix,
                                max_bytes=spec.max_bytes, cacheable=cacheable)
    return replace(fileset, files=tuple(sorted(fileset.files + tuple(rendered), key=_sort_key)))


def chart_fileset(chart_dir: Path, boundary: Path, display: str, spec: "SourceSpec", target: "Target",
                  keys: "Keys | None" = None) -> FileSet:
    """A chart folder's rendering as a FileSet, with its chart, warnings and revision."""
    rendered, revision = helm.render_folder(chart_dir, boundary, display, spec, target, keys)
    return FileSet(rendered.files, warnings=rendered.warnings, charts=(rendered.chart,), revision=revision,
                   decrypted=rendered.decrypted)


def source_revision(spec: "SourceSpec") -> str:
    """The revision `load` reports, without rendering a chart (a cheap poll)."""
    root, prefix = _root(spec)
    if root.is_dir() and helm.is_chart(os.listdir(root)) and not kustomize.find_kustomization(os.listdir(root)):
        return helm.chart_revision(root, kustomize_boundary(Path(spec.path or ".")), printable(prefix or root.name), spec)
    return content_revision(read_source(spec).files)


def kustomize_boundary(path: Path) -> Path:
    """What a folder's kustomization may read: the git work tree the folder is in (overlays reach
    `../../base` inside a repository), else the folder itself."""
    here = Path(os.path.realpath(path))
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def _single_file(path: Path, origin: str) -> FileSet:
    """A source that names one file is read whatever its name (the person chose it)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return FileSet((), (_too_large(origin, size, MAX_FILE_BYTES),))
    try:
        return FileSet((SourceFile(origin, path.read_bytes()),))
    except OSError as e:
        return FileSet((), (f"{origin}: cannot read: {e.strerror or e}",))


def load(spec: "SourceSpec", keys: "Keys | None" = None, *, sealed_ok: bool = False, target: "Target | None" = None) -> DesiredState:
    """A folder source as a validated DesiredState, revision = content hash (of the files as read: ciphertext;
    a chart's: its files and values)."""
    from kubesync.sources import encrypted

    fileset = read_source(spec, target, keys)
    manifests = encrypted.load_fileset(fileset, keys, sealed_ok=sealed_ok, max_nodes=spec.max_nodes)
    revision = fileset.revision or content_revision(fileset.files)
    log.debug("read %d objects from %d files in %s (%s)", len(manifests), len(fileset.files), spec.describe(), revision)
    state = desired_state(manifests, spec.describe(), revision, fileset.warnings, fileset.charts)
    return replace(state, texts=texts_of(fileset.files))
