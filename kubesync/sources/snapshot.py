"""A private, bounded copy of a folder (a Helm chart) that cannot reach outside the source root.

Helm's chart loader follows symlinks, so a chart with `files/key -> /root/.kube/config` would put
that file in `.Files`. Rendering a copy made here closes that: every symlink is resolved, one whose
target leaves the boundary is refused naming the link, and the copy holds regular files only. The
copy is also what the render cache's digest is computed over, so what was hashed is what is rendered
(a file swapped between the check and the render cannot slip in).

Archives pulled from a repository are unpacked here too (`extract`): regular files and folders only,
no absolute or `..` names, bounded in count and size.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from kubesync.errors import SourceError, printable

MAX_FILES = 10_000
MAX_FILE_BYTES = 16 * 2**20
MAX_DEPTH = 32


@dataclass
class Copy:
    """What was copied: the digest of (path, bytes) over every file, and how much."""

    digest: str = ""
    files: int = 0
    bytes: int = 0


class _Budget:
    def __init__(self, display: str, max_total: int):
        self.display, self.max_total = display, max_total
        self.files = self.total = 0

    def take(self, rel: str, size: int) -> None:
        self.files += 1
        self.total += size
        if self.files > MAX_FILES:
            raise SourceError(f"{self.display}: more than {MAX_FILES} files; a chart that large is refused")
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{self.display}/{printable(rel)}: over {MAX_FILE_BYTES // 2**20} MiB; refused")
        if self.total > self.max_total:
            raise SourceError(f"{self.display}: passes the source's size limit of {self.max_total // 2**20} MiB "
                              f"at {printable(rel)}")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def copy_tree(src: Path, dest: Path | None, boundary: Path, display: str, max_total: int) -> Copy:
    """Copy `src` (a folder inside `boundary`) to `dest`, links resolved; SourceError on any link out.
    With `dest` None nothing is written: the digest alone (a revision poll)."""
    root = os.path.realpath(boundary)
    budget = _Budget(display, max_total)
    h = hashlib.sha256()
    _copy_dir(str(src), dest, "", root, budget, h, 0, frozenset())
    return Copy("sha256:" + h.hexdigest(), budget.files, budget.total)


def _copy_dir(src: str, dest: Path | None, rel: str, root: str, budget: _Budget, h, depth: int, seen: frozenset) -> None:
    real = os.path.realpath(src)
    if depth > MAX_DEPTH or real in seen:
        raise SourceError(f"{budget.display}/{printable(rel)}: nested too deeply, or a symlink loop")
    if dest is not None:
        dest.mkdir(parents=True, exist_ok=True)
    for name in sorted(os.listdir(src)):
        path, sub = os.path.join(src, name), posixpath.join(rel, name) if rel else name
        target = os.path.realpath(path)
        if not _inside(target, root):
            raise SourceError(f"{budget.display}/{printable(sub)}: symlink to {printable(os.readlink(path))}, outside the "
                              "source root; a chart reads nothing outside it: copy the file in")
        try:
            st = os.stat(path)
        except OSError as e:
            raise SourceError(f"{budget.display}/{printable(sub)}: cannot read: {e.strerror or e}") from None
        if stat.S_ISDIR(st.st_mode):
            _copy_dir(path, dest / name if dest is not None else None, sub, root, budget, h, depth + 1, seen | {real})
        elif stat.S_ISREG(st.st_mode):
            budget.take(sub, st.st_size)
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > st.st_size:  # grew since it was listed
                budget.take(sub, len(data))
            if dest is not None:
                (dest / name).write_bytes(data)
            h.update(f"{sub}\0{len(data)}\0".encode())
            h.update(data)
        else:
            raise SourceError(f"{budget.display}/{printable(sub)}: not a regular file (a pipe, socket or device)")


def extract(archive: bytes, dest: Path, display: str, max_total: int) -> Path:
    """Unpack a chart archive (.tgz) into `dest`; returns the chart's folder (the archive's top folder)."""
    budget = _Budget(display, max_total)
    tops: set[str] = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                name = posixpath.normpath(member.name.lstrip("./") or ".")
                if member.name.startswith("/") or name.startswith("..") or "/../" in f"/{name}/":
                    raise SourceError(f"{display}: archive entry {printable(member.name)!r} leaves the chart")
                if member.isdir():
                    continue
                if not member.isreg():
                    continue  # links and devices are never unpacked (Helm's loader skips them too)
                budget.take(name, member.size)
                data = tar.extractfile(member).read(MAX_FILE_BYTES + 1)  # type: ignore[union-attr]
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                tops.add(name.split("/", 1)[0])
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise SourceError(f"{display}: not a readable chart archive: {e}") from None
    if len(tops) != 1 or not (dest / next(iter(tops))).is_dir():
        raise SourceError(f"{display}: a chart archive holds one top folder with Chart.yaml; this one holds {len(tops)}")
    return dest / next(iter(tops))

