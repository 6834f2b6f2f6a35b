"""What a source is (SourceSpec) and the URL and path rules every source obeys; no I/O."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field

from kubesync.errors import SourceError
from kubesync.secrets import CREDENTIAL_PARAMS, has_query_credential, redact_credentials as redact  # noqa: F401 (URL rules)

_URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:org/repo.git
SUPPORTED_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git", "file")
FALLBACK_NAME = "kubesync"
DEFAULT_MAX_SOURCE_BYTES = 256 * 2**20  # all files of one source together; more is refused, not read


def is_url(repo: str) -> bool:
    """A remote to clone (https, ssh, git, file URL or scp-like `git@host:path`), not a local path."""
    return bool(_URL_SCHEME.match(repo) or (_SCP_LIKE.match(repo) and not os.path.exists(repo)))


def clean_subpath(subpath: str | None) -> str:
    """A sub-folder as a normalised relative posix path ('' for the root); refuses escapes.

    `..` and absolute paths are refused rather than resolved: a source must not read outside
    the folder or repository it names.
    """
    if not subpath:
        return ""
    text = subpath.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[a-zA-Z]:", text):
        raise SourceError(f"sub-folder {subpath!r} is absolute; give a path relative to the source root")
    if ".." in text.split("/"):
        raise SourceError(f"sub-folder {subpath!r} leaves the source root ('..'); give a path inside it")
    cleaned = posixpath.normpath(text)
    return "" if cleaned == "." else cleaned


def dns_label(text: str) -> str:
    """Squeeze a folder or repository name into a DNS-1123 label (sync names label objects)."""
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    return label or FALLBACK_NAME


@dataclass(frozen=True)
class SourceSpec:
    """What to read: a folder (`path`), or a git `repo` at `ref`; either with a `subpath`."""

    path: str | None = None
    repo: str | None = None
    ref: str | None = None
    subpath: str | None = None
    max_bytes: int | None = None
    """Total size of the files read from the source; None for DEFAULT_MAX_SOURCE_BYTES."""
    allow_remote: bool = False
    """Let a kustomization fetch remote resources (https://, git@...): unpinned by the source's revision."""
    root: str | None = field(default=None, compare=False)
    """The folder of the kubesync.yaml that named this source: a plain folder's identity is its path from there."""

    def __repr__(self) -> str:
        """Redacted: a spec ends up in logs and tracebacks, its repo URL may carry a password."""
        shown = {"path": self.path, "repo": self.repo and redact(self.repo), "ref": self.ref, "subpath": self.subpath,
                 "max_bytes": self.max_bytes, "allow_remote": self.allow_remote or None}
        return "SourceSpec(" + ", ".join(f"{k}={v!r}" for k, v in shown.items() if v is not None) + ")"

    def describe(self) -> str:
        """For people and logs: `manifests`, or `repo@ref:sub` with credentials stripped."""
        if self.repo:
            text = f"{redact(self.repo)}@{self.ref or 'HEAD'}"
        else:
            text = self.path or "."
        return f"{text}:{self.subpath}" if self.subpath else text

    def identity(self) -> str:
        """Which source this is, whatever the ref (recorded in the inventory): the repository URL (or
        its absolute path) and sub-folder, or the folder's absolute path."""
        if self.repo:
            repo = redact(self.repo) if re.match(r"^[a-z][a-z0-9+.-]*://|^[^/]+@[^/]+:", self.repo) else os.path.abspath(self.repo)
            return f"{repo}//{clean_subpath(self.subpath or '') or ''}".rstrip("/")
        base = os.path.abspath(self.path or ".")
        return os.path.join(base, clean_subpath(self.subpath)) if self.subpath and clean_subpath(self.subpath) else base

    def default_name(self) -> str:
        """The sync name when none is given: the source folder's name, as a DNS-1123 label."""
        if self.subpath and clean_subpath(self.subpath):
            base = posixpath.basename(clean_subpath(self.subpath))
        elif self.repo:
            base = re.split(r"[/:]", redact(self.repo).rstrip("/"))[-1]
            base = base[:-4] if base.endswith(".git") else base
        else:
            absolute = os.path.abspath(self.path or ".")
            base = os.path.basename(absolute)
            if os.path.isfile(absolute):
                base = os.path.splitext(base)[0]
        return dns_label(base)

    def check(self) -> None:
        """Refuse contradictory specs before any I/O."""
        if bool(self.path) == bool(self.repo):
            raise SourceError("give a source: either a folder PATH or --repo (not both)")
        if self.ref and not self.repo:
            raise SourceError(f"--ref {self.ref} needs --repo: a folder has no refs")
        clean_subpath(self.subpath)
