"""What a source is (SourceSpec, with its Helm and Jsonnet options) and the URL and path rules every
source obeys; no I/O. `Target` says who a rendering is for (release, namespace, the cluster's version)."""

from __future__ import annotations

import os
import posixpath
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from kubesync.errors import SourceError, printable
from kubesync.memory import memory_limit, source_bytes_for
from kubesync.secrets import CREDENTIAL_PARAMS, has_query_credential, redact_credentials as redact  # noqa: F401 (URL rules)

_URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:org/repo.git
SUPPORTED_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git", "file")
FALLBACK_NAME = "kubesync"
# All files of one source together; more is refused, not read. A sixteenth of the process's memory limit
# when it has one (a 512Mi pod: 32 MiB), so the largest source accepted fits with room to spare.
DEFAULT_MAX_SOURCE_BYTES = source_bytes_for(memory_limit())


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
class Credentials:
    """A chart repository's or registry's username and password; never printed (repr is masked)."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(***)"


@dataclass(frozen=True)
class HelmOptions:
    """How to render a Helm chart (kubesync.yaml `source: {helm: ...}`, or the --values/--set/--chart flags).

    A chart in the source (a folder holding Chart.yaml) needs none of the chart fields; a chart from a
    chart repository names `repo`, `chart` and `version`, one from an OCI registry `chart: oci://...`
    and `version`.
    """

    release: str | None = None
    """Helm's release name; None for the sync's name."""
    values_files: tuple[str, ...] = ()
    """Values files in the source, relative to the chart's folder (`values-production.yaml`), in order."""
    values: str = field(default="", repr=False)
    """Inline values as canonical JSON (kubesync.yaml `values:` then --values files, merged in that order)."""
    set_values: tuple[str, ...] = field(default=(), repr=False)
    """`--set key=value` items, applied last, as Helm does."""
    repo: str | None = None
    """An https:// chart repository holding `chart`."""
    chart: str | None = None
    """The chart's name in `repo`, or an `oci://registry/path/chart` reference."""
    version: str | None = None
    """The exact chart version to pull: remote charts are pinned."""
    digest: str | None = None
    """Optional `sha256:...` the pulled chart must have (the OCI manifest digest, or the archive's for a repository)."""
    username_file: str | None = None
    password_file: str | None = None
    """Files holding the repository's credentials (kubesync.yaml-relative paths)."""
    secret: str | None = None
    """`namespace/name` of a Secret with `username` and `password` keys (read by the facade)."""
    ca_file: str | None = None
    """A CA bundle for the repository's or registry's TLS certificate."""
    kube_version: str | None = None
    """The Kubernetes version Helm renders for when there is no cluster (offline `compare`)."""
    api_versions: tuple[str, ...] = ()
    """The API versions Helm's `.Capabilities.APIVersions` reports when there is no cluster."""

    @property
    def remote(self) -> bool:
        return bool(self.chart)

    @property
    def oci(self) -> bool:
        return bool(self.chart and self.chart.startswith("oci://"))

    def chart_name(self) -> str:
        """The chart's own name: the last path segment of an OCI reference, else `chart`."""
        return (self.chart or "").rstrip("/").rsplit("/", 1)[-1]

    def reference(self) -> str:
        """The pinned chart for people: `oci://reg/path/chart 1.2.3` or `https://charts.example nginx 1.2.3`."""
        where = self.chart if self.oci else f"{redact(self.repo or '')} {self.chart}"
        return f"{where} {self.version or '?'}"

    def values_object(self) -> dict:
        return json.loads(self.values) if self.values else {}


@dataclass(frozen=True)
class JsonnetOptions:
    """Top-level arguments and external variables of every `*.jsonnet` in the source (Argo CD's names)."""

    tlas: tuple[tuple[str, str], ...] = ()
    """String top-level arguments (`--tla name=value`)."""
    tla_code: tuple[tuple[str, str], ...] = ()
    """Top-level arguments given as Jsonnet code (`--tla-code replicas=3`)."""
    ext_vars: tuple[tuple[str, str], ...] = ()
    ext_code: tuple[tuple[str, str], ...] = ()
    libs: tuple[str, ...] = ()
    """Library folders inside the source root searched by `import` (`-J vendor`)."""


@dataclass(frozen=True)
class Target:
    """Who a rendering is for: Helm's release and namespace, and the cluster's capabilities
    (`--kube-version`, `--api-versions`) as discovery reports them. Plain data, gathered by the facade."""

    release: str = ""
    namespace: str = ""
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    credentials: Credentials | None = None
    """Resolved from HelmOptions.secret by the facade (the sources layer never talks to the cluster)."""
    ask: Callable[[], "Target"] | None = field(default=None, compare=False, repr=False)
    """The facade's look-up of the cluster's versions (and the chart's Secret), run only when a chart
    renders: a plain-YAML sync never pays for it."""

    def resolved(self) -> "Target":
        """This target with the cluster's answers filled in (asked once: the facade memoizes)."""
        if self.ask is None:
            return self
        got = self.ask()
        return Target(self.release, self.namespace or got.namespace, got.kube_version or self.kube_version,
                      got.api_versions or self.api_versions, got.credentials or self.credentials)

    def key(self) -> str:
        """What the rendering depends on, for the render cache (credentials excluded: they change no output)."""
        return json.dumps([self.release, self.namespace, self.kube_version, sorted(self.api_versions)])


@dataclass(frozen=True)
class SourceSpec:
    """What to read: a folder (`path`), or a git `repo` at `ref`; either with a `subpath`."""

    path: str | None = None
    repo: str | None = None
    ref: str | None = None
    subpath: str | None = None
    max_bytes: int | None = None
    """Total size of the files read from the source; None for DEFAULT_MAX_SOURCE_BYTES."""
    max_nodes: int | None = None
    """Nodes all its documents may expand to; None: derived from the process's memory limit (kubesync.memory)."""
    allow_remote: bool = False
    """Let a kustomization fetch remote resources (https://, git@...): unpinned by the source's revision."""
    helm: HelmOptions | None = None
    """Values and release for a chart in the source, or a chart from a repository (then no path or repo)."""
    jsonnet: JsonnetOptions | None = None
    root: str | None = field(default=None, compare=False)
    """The folder of the kubesync.yaml that named this source: a plain folder's identity is its path from there."""

    def __repr__(self) -> str:
        """Redacted: a spec ends up in logs and tracebacks, its repo URL may carry a password."""
        shown = {"path": self.path, "repo": self.repo and redact(self.repo), "ref": self.ref, "subpath": self.subpath,
                 "max_bytes": self.max_bytes, "allow_remote": self.allow_remote or None,
                 "chart": self.helm.reference() if self.helm and self.helm.remote else None}
        return "SourceSpec(" + ", ".join(f"{k}={v!r}" for k, v in shown.items() if v is not None) + ")"

    def describe(self) -> str:
        """For people and logs: `manifests`, or `repo@ref:sub` with credentials stripped."""
        if self.remote_chart:
            return self.helm.reference()  # type: ignore[union-attr]
        if self.repo:
            text = f"{redact(self.repo)}@{self.ref or 'HEAD'}"
        else:
            text = self.path or "."
        return f"{text}:{self.subpath}" if self.subpath else text

    def identity(self) -> str:
        """Which source this is, whatever the ref (recorded in the inventory): the repository URL (or
        its absolute path) and sub-folder, or the folder's absolute path; a remote chart's repository and name."""
        if self.remote_chart:
            helm = self.helm
            return helm.chart if helm.oci else f"{redact(helm.repo or '')}//{helm.chart}"  # type: ignore[union-attr,return-value]
        if self.repo:
            repo = redact(self.repo) if re.match(r"^[a-z][a-z0-9+.-]*://|^[^/]+@[^/]+:", self.repo) else os.path.abspath(self.repo)
            return f"{repo}//{clean_subpath(self.subpath or '') or ''}".rstrip("/")
        base = os.path.abspath(self.path or ".")
        return os.path.join(base, clean_subpath(self.subpath)) if self.subpath and clean_subpath(self.subpath) else base

    def default_name(self) -> str:
        """The sync name when none is given: the source folder's name (a remote chart's name), as a DNS-1123 label."""
        if self.remote_chart:
            return dns_label(self.helm.chart_name())  # type: ignore[union-attr]
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

    @property
    def remote_chart(self) -> bool:
        """A chart pulled from a chart repository or an OCI registry rather than read from a folder or git."""
        return bool(self.helm and self.helm.remote)

    def check(self) -> None:
        """Refuse contradictory specs before any I/O."""
        if self.remote_chart:
            _check_chart(self.helm, bool(self.path or self.repo))  # type: ignore[arg-type]
            return
        if bool(self.path) == bool(self.repo):
            raise SourceError("give a source: either a folder PATH or --repo (not both)")
        if self.ref and not self.repo:
            raise SourceError(f"--ref {self.ref} needs --repo: a folder has no refs")
        clean_subpath(self.subpath)


_VERSION = re.compile(r"v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.+-]*)?")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _check_chart(helm: HelmOptions, has_other_source: bool) -> None:
    """A remote chart is pinned (an exact version), named once, and fetched over https or oci."""
    name = helm.chart or ""
    if has_other_source:
        raise SourceError(f"chart {name}: give either a chart (helm.chart) or a folder/--repo source, not both")
    if not helm.version or not _VERSION.fullmatch(helm.version):
        raise SourceError(f"chart {helm.chart_name()}: needs an exact version to pull (version: 1.2.3), "
                          f"not {helm.version!r}: a remote chart is pinned like a git ref")
    if helm.digest and not _DIGEST.fullmatch(helm.digest):
        raise SourceError(f"chart {helm.chart_name()}: digest {helm.digest!r} is not sha256:<64 hex digits>")
    if helm.oci:
        if helm.repo:
            raise SourceError(f"chart {name}: an oci:// chart names its registry itself; drop repo")
        return
    if not helm.repo or not re.match(r"^https?://", helm.repo):
        raise SourceError(f"chart {name}: needs repo: https://... (a chart repository), or chart: oci://registry/path/{name}")
    if has_query_credential(helm.repo) or redact(helm.repo) != helm.repo:
        raise SourceError(f"chart {name}: put the repository's credentials in usernameFile/passwordFile or a Secret, "
                          "not in its URL (a URL ends up in logs and on command lines)")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise SourceError(f"chart {printable(name)}: not a chart name (letters, digits, '-', '_', '.')")

