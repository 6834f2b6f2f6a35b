"""A folder holding Chart.yaml is a Helm chart (Argo CD's rule), rendered with `helm template`.

    helm template <release> <private copy of the chart> --namespace <ns> --include-crds --skip-tests
         [--kube-version V --api-versions G/V ...]  -f <values files of the source>... -f <inline values>  --set ...

That is Helm's own merge order: the chart's values.yaml, then each -f in order, then --set. The
release is the sync's name unless set, the namespace the sync's, the versions come from the
cluster's discovery (`Target`; offline: the options or a saved plan).

Rendering is bounded like any hostile input (sources/bounded.py): a private copy of the chart that
holds no link out of the source root (sources/snapshot.py), private HELM_*_HOME folders per render,
no network (a local chart needs none; the proxies refuse), a timeout, a memory and an output limit.
`.Files` calls whose path leaves the chart are refused before helm runs; Helm's `lookup` returns
nothing offline, and the plan says so once. Every rendered object keeps `<chart> templates/x.yaml`
(Helm's `# Source:` comment) as its origin. Renderings are cached by the digest of the chart's
files, the values and the target (sources/rendercache.py), so a daemon resync renders nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from kubesync.documents import Budget, yaml_documents
from kubesync.errors import ManifestError, SourceError, cut, printable
from kubesync.manifests import SourceFile
from kubesync.model import Chart
from kubesync.secrets import remember_names, remember_values, value_forms
from kubesync.sources import bounded, ciphertext, snapshot, sops
from kubesync.sources.keys import Keys
from kubesync.sources.rendercache import CACHE, digest
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES, HelmOptions, SourceSpec, Target

log = logging.getLogger(__name__)

CHART_FILE = "Chart.yaml"
TIMEOUT = 60.0
MAX_MEMORY = 512 * bounded.MiB  # real charts take 50-200 MiB; a template bomb passes this in 2-5 s on 2 busy cores
MAX_VALUES_BYTES = 4 * 2**20
_SOURCE = re.compile(r"^# Source: (.+)$", re.M)
_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.M)
# `.Files.Get "../x"`, `.Files.Glob "/etc/*"`, `$.Files.Lines "a/../../b"`: a literal path that leaves the chart
_FILES_CALL = re.compile(r"\.Files\.(?:Get|GetBytes|Glob|Lines|AsConfig|AsSecrets)\s+\(?\s*[\"`]([^\"`]*)[\"`]")
_LOOKUP = re.compile(r"(?:^|[\s(|{])lookup\s+[\"`$(]")
LOOKUP_WARNING = ("its templates call `lookup`, which returns nothing when kubesync renders (as in Argo CD): "
                  "what depends on live cluster state renders as on an empty cluster")


def is_chart(names) -> bool:
    return CHART_FILE in set(names)


def helm_command() -> str:
    """The helm kubesync runs: $KUBESYNC_HELM, else the one built into the kubesync cache (kubesync.tools)."""
    from kubesync import tools

    return str(tools.find("helm"))


@dataclass(frozen=True)
class Rendered:
    """One chart's rendering: its files (one per template), the chart, warnings for the plan."""

    files: tuple[SourceFile, ...]
    chart: Chart
    warnings: tuple[str, ...] = ()
    decrypted: ciphertext.DecryptedValues | None = None
    """SOPS-encrypted values files it was rendered with, decrypted (sources/ciphertext.py marks its Secrets)."""


def chart_meta(folder: Path, display: str) -> Chart:
    """Name and version from Chart.yaml (bounded, as every YAML a source holds)."""
    path = folder / CHART_FILE
    if path.stat().st_size > MAX_VALUES_BYTES:
        raise SourceError(f"{display}/{CHART_FILE}: over {MAX_VALUES_BYTES // 2**20} MiB")
    problems: list[str] = []
    docs = list(yaml_documents(f"{display}/{CHART_FILE}", path.read_text("utf-8", "replace"), problems, Budget()))
    value = docs[0].value if docs else None
    if problems or not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value.get("version"):
        raise ManifestError(problems or [f"{display}/{CHART_FILE}: needs a name and a version (a Helm chart's metadata)"])
    return Chart(printable(value["name"]), printable(str(value["version"])))


def check_templates(folder: Path, chart: Chart) -> tuple[str, ...]:
    """Refuse `.Files` paths that leave the chart; a warning when a template calls `lookup`."""
    problems, lookup = [], False
    for dirpath, _, names in os.walk(folder):
        for name in sorted(names):
            if not name.endswith((".yaml", ".yml", ".tpl", ".txt", ".json")):
                continue
            path = os.path.join(dirpath, name)
            text = Path(path).read_text("utf-8", "replace")
            rel = os.path.relpath(path, folder)
            for m in _FILES_CALL.finditer(text):
                target = m.group(1)
                if target.startswith("/") or ".." in re.split(r"[/\\]", target):
                    line = text.count("\n", 0, m.start()) + 1
                    problems.append(f"chart {chart.name}: {printable(rel)}:{line}: .Files reads {printable(target)!r}, "
                                    "outside the chart; a chart reads only its own files")
            lookup = lookup or bool(_LOOKUP.search(text))
    if problems:
        raise ManifestError(problems)
    return (f"chart {chart.name}: {LOOKUP_WARNING}",) if lookup else ()


def _values_files(chart_dir: Path, boundary: Path, helm: HelmOptions, display: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of each values file the options name, read from inside the source root."""
    root = os.path.realpath(boundary)
    out = []
    for name in helm.values_files:
        path = os.path.realpath(chart_dir / name)
        if not (path == root or path.startswith(root.rstrip(os.sep) + os.sep)):
            raise SourceError(f"chart {display}: values file {printable(name)!r} is outside the source root")
        if not os.path.isfile(path):
            raise SourceError(f"chart {display}: values file {printable(name)!r} does not exist")
        if os.path.getsize(path) > MAX_VALUES_BYTES:
            raise SourceError(f"chart {display}: values file {printable(name)!r} is over {MAX_VALUES_BYTES // 2**20} MiB")
        out.append((name, Path(path).read_bytes()))
    return out


@dataclass(frozen=True)
class ValuesFile:
    """A values file of the source, as helm is given it."""

    name: str
    data: bytes
    decrypted: bool = False
    """The plaintext of a SOPS-encrypted file: handed to helm through a pipe, never written to a file."""


def open_values(values: list[tuple[str, bytes]], keys: Keys | None, chart: str) -> list[ValuesFile]:
    """The values files with each SOPS-encrypted one decrypted in memory (helm-secrets' `secrets.yaml`), every
    value that was encrypted registered with the redactor first; a DecryptionError names the file and recipients."""
    out = []
    for name, data in values:
        fmt = sops.file_format(name)
        if fmt not in ("yaml", "json") or not sops.is_encrypted(data, fmt):
            out.append(ValuesFile(name, data))
            continue
        display = f"chart {chart}: values file {printable(name)}"
        plain = sops.decrypt(data, fmt, keys or Keys(), display)
        remember_names([name])
        encrypted, opened = ciphertext.documents(name, data, []), ciphertext.documents(name, plain, [])
        remember_values(form for a, b in zip(encrypted, opened) for _, value, _ in ciphertext.pairs(a.value, b.value)
                        for form in value_forms(value if isinstance(value, str) else json.dumps(value), "stringData"))
        out.append(ValuesFile(name, plain, decrypted=True))
    return out


def argv(helm: str, chart_dir: Path, options: HelmOptions, target: Target, values: list) -> list:
    """The `helm template` command line (values travel in files, or pipes (bounded.Piped): no value is ever on a
    command line but --set's)."""
    kube_version = target.kube_version or options.kube_version or ""
    api_versions = target.api_versions or options.api_versions
    args = [helm, "template", target.release or "release", str(chart_dir), "--namespace", target.namespace or "default",
            "--include-crds", "--skip-tests"]
    if kube_version:
        args += ["--kube-version", kube_version.lstrip("v").split("+", 1)[0]]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    for path in values:
        args += ["--values", path if isinstance(path, bounded.Piped) else str(path)]
    for item in options.set_values:
        args += ["--set", item]
    return args


def render_copy(chart_dir: Path, work: Path, chart: Chart, options: HelmOptions, target: Target,
                values: list[ValuesFile], display: str, max_bytes: int) -> Rendered:
    """Render a private copy of a chart (already checked) in the private folder `work`; decrypted values go
    to helm through pipes."""
    warnings = check_templates(chart_dir, chart)
    files: list = []
    piped: list[bytes] = []
    for i, item in enumerate(values):
        if item.decrypted:
            files.append(bounded.Piped(len(piped)))
            piped.append(item.data)
            continue
        files.append(work / f"values-{i}.yaml")
        files[-1].write_bytes(item.data)
    if options.values:
        files.append(work / "values-inline.json")
        files[-1].write_text(options.values)
    homes = {"HELM_CACHE_HOME": str(work / "cache"), "HELM_CONFIG_HOME": str(work / "config"),
             "HELM_DATA_HOME": str(work / "data")}
    limits = bounded.Limits(timeout=TIMEOUT, max_output=max_bytes, max_memory=MAX_MEMORY)
    what = f"chart {chart.name} ({display}): helm template"
    try:
        result = bounded.run(argv(helm_command(), chart_dir, options, target, files), what, limits,
                             env=bounded.clean_env(work, extra=homes), cwd=str(work), piped=piped)
    except bounded.Bounded as e:
        raise SourceError(f"{e}; nothing was applied") from None
    if result.returncode != 0:
        raise SourceError(f"chart {chart.name} ({display}): helm template failed: {helm_error(result.stderr, chart_dir, chart)}")
    return Rendered(tuple(split_output(result.stdout.decode("utf-8", "replace"), chart)), chart, warnings)


def helm_error(stderr: str, chart_dir: Path, chart: Chart) -> str:
    """Helm's message, one line, cut short, without our temp paths (`chart/templates/x.yaml:3:12: ...`)."""
    text = stderr.replace(str(chart_dir), chart.name).replace(str(chart_dir.parent) + "/", "")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("WARNING")]
    text = " ".join(lines)
    text = re.sub(r"^Error: ", "", text).replace(" Use --debug flag to render out invalid YAML", "")
    return cut(text, 600) or "helm exited with an error and said nothing"


def split_output(text: str, chart: Chart) -> list[SourceFile]:
    """Helm's stream as one rendered SourceFile per template, named `<chart> templates/x.yaml`."""
    groups: dict[str, list[str]] = {}
    for doc in _DOC_SPLIT.split(text):
        if not doc.strip():
            continue
        m = _SOURCE.search(doc)
        source = m.group(1).strip() if m else f"{chart.name}/(no source)"
        top, _, rest = source.partition("/")
        origin = printable(f"{top} {rest}" if rest else source)
        groups.setdefault(origin, []).append(doc)
    return [SourceFile(origin, "\n---\n".join(docs).encode(), rendered=True) for origin, docs in groups.items()]


def render_folder(chart_dir: Path, boundary: Path, display: str, spec: SourceSpec, target: Target,
                  keys: Keys | None = None) -> tuple[Rendered, str]:
    """(rendering, revision) of a chart folder of the source: copied, digested, rendered once per digest.

    The revision is the digest of the chart's files and the options (not of the rendering: a timer
    poll, which has no cluster to ask for versions, must compute the same value without helm), and of
    the values files as read: an encrypted one's ciphertext. `keys` open SOPS-encrypted values files; a
    rendering that needed them is cached under them too (another sync without them renders nothing)."""
    options = spec.helm or HelmOptions()
    max_bytes = spec.max_bytes or DEFAULT_MAX_SOURCE_BYTES
    target = target.resolved()
    chart = chart_meta(chart_dir, display)
    values = _values_files(chart_dir, boundary, options, chart.name)
    revision = "sha256:" + digest(snapshot.copy_tree(chart_dir, None, boundary, display, max_bytes).digest, values,
                                  options_key(options))[:16]
    opened = open_values(values, keys, chart.name)
    key = digest("helm", revision, target.key(), keys.fingerprint() if keys and any(v.decrypted for v in opened) else "")
    cached = CACHE.get(key)
    if cached is not None:
        return cached, revision  # type: ignore[return-value]
    with tempfile.TemporaryDirectory(prefix="kubesync-helm-") as tmp:
        work = Path(tmp)
        copy = snapshot.copy_tree(chart_dir, work / "chart" / chart_dir.name, boundary, display, max_bytes)
        if "sha256:" + digest(copy.digest, values, options_key(options))[:16] != revision:
            raise SourceError(f"chart {chart.name} ({display}): its files changed while it was read; try again")
        rendered = render_copy(work / "chart" / chart_dir.name, work, chart, options, target, opened, display, max_bytes)
    secret = [(v.name, data, v.data) for (_, data), v in zip(values, opened) if v.decrypted]
    rendered = replace(rendered, decrypted=ciphertext.decrypted_values(secret))
    CACHE.put(key, rendered, sum(len(f.data) for f in rendered.files))
    return rendered, revision


def options_key(options: HelmOptions) -> str:
    """What of the options changes a rendering (credentials and CA files do not)."""
    return json.dumps([options.release, options.values_files, options.values, options.set_values, options.kube_version,
                       sorted(options.api_versions)])


def chart_revision(chart_dir: Path, boundary: Path, display: str, spec: SourceSpec) -> str:
    """The revision `render_folder` reports, without rendering (a cheap poll)."""
    options = spec.helm or HelmOptions()
    values = _values_files(chart_dir, boundary, options, display)
    copy = snapshot.copy_tree(chart_dir, None, boundary, display, spec.max_bytes or DEFAULT_MAX_SOURCE_BYTES)
    return "sha256:" + digest(copy.digest, values, options_key(options))[:16]
