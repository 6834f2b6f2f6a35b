"""Charts pulled from a chart repository (https) or an OCI registry, pinned by version, cached by digest.

    source: {helm: {repo: https://charts.example, chart: web, version: 1.2.3}}
    source: {helm: {chart: oci://registry.example/charts/web, version: 1.2.3, digest: sha256:...}}

helm does the pulling (its protocols, TLS and auth), in private HELM_*_HOME folders. Credentials go
into those folders' own files (a repositories.yaml, a registry config), readable only by us, never
onto a command line or into a log; they come from files (`usernameFile`, `passwordFile`) or from a
Secret the facade read (`Target.credentials`). A pulled archive is bounded in size (the process may
not write a bigger file) and verified: against the repository index's digest, and against the
pinned `digest` when one is given (the OCI manifest digest helm reports, or the archive's sha256).
It is then kept under `$KUBESYNC_CACHE_DIR/charts/` by its sha256, with a small reference file per
(repository, chart, version); a cached archive is hashed again on every use.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from kubesync.charts import desired_state
from kubesync.documents import Budget, yaml_documents
from kubesync.errors import SourceError, cut, printable
from kubesync.manifests import load_files
from kubesync.model import DesiredState
from kubesync.secrets import remember_values
from kubesync.sources import bounded, helm, snapshot
from kubesync.sources.rendercache import CACHE, digest
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES, Credentials, HelmOptions, SourceSpec, Target, redact

MAX_ARCHIVE_BYTES = 64 * 2**20
MAX_INDEX_BYTES = 64 * 2**20
PULL_TIMEOUT = 120.0
REPO_NAME = "kubesync"
_DIGEST_LINE = re.compile(r"^Digest:\s*(sha256:[0-9a-f]{64})", re.M)


def cache_dir() -> Path:
    """`$KUBESYNC_CACHE_DIR/charts`, else `~/.cache/kubesync/charts`."""
    base = os.environ.get("KUBESYNC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "kubesync")
    return Path(base) / "charts"


def _ref_path(options: HelmOptions) -> Path:
    key = hashlib.sha256(json.dumps([redact(options.repo or ""), options.chart, options.version, options.digest]).encode())
    return cache_dir() / "refs" / key.hexdigest()


def _blob_path(sha: str) -> Path:
    return cache_dir() / "blobs" / f"{sha.replace(':', '-')}.tgz"


def revision(spec: SourceSpec) -> str:
    """What the source is at, without any network: the pinned chart and the options that shape its rendering."""
    options = spec.helm
    assert options is not None
    return "sha256:" + digest(spec.identity(), options.version, options.digest, helm.options_key(options))[:16]


def _what(options: HelmOptions) -> str:
    return f"chart {options.chart_name()} ({options.reference()})"


def credentials(options: HelmOptions, target: Target) -> Credentials | None:
    """From the Secret the facade read, else from the files; their values are scrubbed from messages from now on."""
    creds = target.credentials
    if creds is None and (options.username_file or options.password_file):
        if not (options.username_file and options.password_file):
            raise SourceError(f"{_what(options)}: give both usernameFile and passwordFile")
        creds = Credentials(_read_secret_file(options.username_file, options), _read_secret_file(options.password_file, options))
    if creds is not None:
        remember_values([creds.password, base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()])
    return creds


def _read_secret_file(path: str, options: HelmOptions) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(64 * 1024).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SourceError(f"{_what(options)}: cannot read credentials file {printable(path)}: "
                          f"{getattr(e, 'strerror', None) or e}") from None


def _verified_blob(sha: str) -> bytes | None:
    path = _blob_path(sha)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if "sha256:" + hashlib.sha256(data).hexdigest() == sha else None


def archive(options: HelmOptions, target: Target, max_bytes: int) -> tuple[bytes, str]:
    """(the chart archive, its sha256): from the cache when its reference and bytes check out, else pulled."""
    ref = _ref_path(options)
    if ref.is_file():
        sha = ref.read_text().strip()
        data = _verified_blob(sha)
        if data is not None:
            return data, sha
    data = _pull(options, target, min(max_bytes, MAX_ARCHIVE_BYTES))
    sha = "sha256:" + hashlib.sha256(data).hexdigest()
    blob = _blob_path(sha)
    blob.parent.mkdir(parents=True, exist_ok=True)
    ref.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(blob, data)
    _write_atomic(ref, sha.encode())
    return data, sha


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _pull(options: HelmOptions, target: Target, max_bytes: int) -> bytes:
    creds = credentials(options, target)
    with tempfile.TemporaryDirectory(prefix="kubesync-pull-") as tmp:
        work = Path(tmp)
        env = bounded.clean_env(work, network=True, extra=_homes(work))
        limits = bounded.Limits(timeout=PULL_TIMEOUT, max_output=max_bytes, max_memory=helm.MAX_MEMORY)
        dest = work / "out"
        dest.mkdir()
        tls = ["--ca-file", options.ca_file] if options.ca_file else []
        if options.oci:
            _registry_config(work, options, creds)
            args = ["pull", options.chart, "--version", options.version, "--destination", str(dest), *tls]
        else:
            _repositories(work, options, creds)
            _helm(["repo", "update", REPO_NAME], options, env, limits, work)
            args = ["pull", f"{REPO_NAME}/{options.chart}", "--version", options.version, "--destination", str(dest)]
        said = _helm(args, options, env, limits, work)
        pulled = [p for p in dest.iterdir() if p.name.endswith(".tgz")]
        if len(pulled) != 1:
            raise SourceError(f"{_what(options)}: helm pull wrote {len(pulled)} archives, expected one")
        data = pulled[0].read_bytes()
        _verify(options, data, said, work)
    return data


def _homes(work: Path) -> dict[str, str]:
    return {"HELM_CACHE_HOME": str(work / "cache"), "HELM_CONFIG_HOME": str(work / "config"),
            "HELM_DATA_HOME": str(work / "data"), "HELM_REGISTRY_CONFIG": str(work / "config" / "registry.json"),
            "HELM_REPOSITORY_CONFIG": str(work / "config" / "repositories.yaml"),
            "HELM_REPOSITORY_CACHE": str(work / "cache" / "repository")}


def _private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _repositories(work: Path, options: HelmOptions, creds: Credentials | None) -> None:
    """Helm's repositories.yaml naming the one repository, with its credentials (a 0600 file, never argv)."""
    entry = {"name": REPO_NAME, "url": options.repo, "caFile": options.ca_file or "", "insecure_skip_tls_verify": False,
             "pass_credentials_all": False}
    if creds is not None:
        entry.update(username=creds.username, password=creds.password)
    _private(work / "config" / "repositories.yaml", json.dumps({"apiVersion": "", "repositories": [entry]}))


def _registry_config(work: Path, options: HelmOptions, creds: Credentials | None) -> None:
    """The registry's credentials in the docker config format helm reads (a 0600 file, never argv)."""
    host = (options.chart or "")[len("oci://"):].split("/", 1)[0]
    auths = {host: {"auth": base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()}} if creds else {}
    _private(work / "config" / "registry.json", json.dumps({"auths": auths}))


def _helm(args: list[str], options: HelmOptions, env: dict, limits: bounded.Limits, work: Path) -> str:
    """Run helm; its combined output on success, one SourceError naming the chart otherwise."""
    try:
        result = bounded.run([helm.helm_command(), *args], f"{_what(options)}: helm {args[0]}", limits, env=env, cwd=str(work))
    except bounded.Bounded as e:
        raise SourceError(f"{e}; nothing was applied") from None
    text = (result.stdout.decode("utf-8", "replace") + "\n" + result.stderr).replace(str(work) + "/", "")
    if result.returncode != 0:
        raise SourceError(f"{_what(options)}: cannot pull: {cut(_failure(text), 600)}")
    return text


def _failure(text: str) -> str:
    """helm's reason on one line: `repo update` says why on stdout (`...Unable to get an update ...: 401`), the
    summary on stderr; chatter (`Hang tight ...`) is dropped."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("Hang tight", "Update Complete"))]
    return re.sub(r"^(\.\.\.)?", "", " ".join(re.sub(r"^Error: ", "", line) for line in lines)) or "helm said nothing"


def _verify(options: HelmOptions, data: bytes, said: str, work: Path) -> None:
    """The archive against the repository index's digest, and against a pinned digest."""
    sha = "sha256:" + hashlib.sha256(data).hexdigest()
    if options.oci:
        reported = _DIGEST_LINE.search(said)
        if options.digest and options.digest not in (sha, reported.group(1) if reported else ""):
            raise SourceError(f"{_what(options)}: pulled digest {reported.group(1) if reported else sha} is not the pinned "
                              f"{options.digest}; refused")
        return
    listed = _index_digest(work / "cache" / "repository" / f"{REPO_NAME}-index.yaml", options)
    if listed and "sha256:" + listed != sha:
        raise SourceError(f"{_what(options)}: the archive's sha256 {sha} is not the repository index's sha256:{listed}; refused")
    if options.digest and options.digest != sha:
        raise SourceError(f"{_what(options)}: the archive's sha256 {sha} is not the pinned {options.digest}; refused")


def _index_digest(path: Path, options: HelmOptions) -> str:
    """The digest the repository's index lists for the chart version ("" when it lists none)."""
    if not path.is_file() or path.stat().st_size > MAX_INDEX_BYTES:
        raise SourceError(f"{_what(options)}: the repository's index is missing or over {MAX_INDEX_BYTES // 2**20} MiB")
    problems: list[str] = []
    docs = list(yaml_documents("index.yaml", path.read_text("utf-8", "replace"), problems, Budget()))
    entries = ((docs[0].value or {}).get("entries") or {}).get(options.chart) if docs and isinstance(docs[0].value, dict) else None
    for entry in entries or ():
        if isinstance(entry, dict) and str(entry.get("version")) == options.version:
            return str(entry.get("digest") or "")
    return ""


def load(spec: SourceSpec, target: Target) -> DesiredState:
    """A remote chart as a validated DesiredState: pulled (or cached), unpacked, checked, rendered once per digest."""
    options = spec.helm
    assert options is not None
    max_bytes = spec.max_bytes or DEFAULT_MAX_SOURCE_BYTES
    target = target.resolved()
    data, sha = archive(options, target, max_bytes)
    key = digest("pull", sha, helm.options_key(options), target.key())
    rendered = CACHE.get(key)
    if rendered is None:
        with tempfile.TemporaryDirectory(prefix="kubesync-helm-") as tmp:
            work = Path(tmp)
            chart_dir = snapshot.extract(data, work / "chart", _what(options), max_bytes)
            chart = helm.chart_meta(chart_dir, options.chart_name())
            if options.values_files:
                raise SourceError(f"{_what(options)}: valuesFiles name files in a source; give a remote chart inline "
                                  "values (values:) or --values files")
            rendered = helm.render_copy(chart_dir, work, chart, options, target, [], options.reference(), max_bytes)
        CACHE.put(key, rendered, sum(len(f.data) for f in rendered.files))
    manifests = load_files(rendered.files)  # type: ignore[union-attr]
    return desired_state(manifests, spec.describe(), revision(spec), rendered.warnings, (rendered.chart,))  # type: ignore[union-attr]
