"""The command line's Helm and Jsonnet flags, into the source's options (kubesync.yaml's `source: {helm, jsonnet}`).

    --chart oci://registry/charts/web --chart-version 1.2.3         a chart from an OCI registry
    --chart web --chart-repo https://charts.example --chart-version 1.2.3
    --release NAME --values FILE (local, repeatable) --set KEY=VALUE (repeatable)
    --kube-version 1.37.2 --api-versions G/V (offline compare; a cluster plan asks the cluster)
    --tla NAME=VALUE --tla-code NAME=CODE --ext-str NAME=VALUE --ext-code NAME=CODE --jpath DIR

Flags add to a kubesync.yaml entry's options; `--values` files are read here (bounded), like Helm's -f.
"""

from __future__ import annotations

import json
from dataclasses import replace

import yaml

from kubesync.errors import UsageError
from kubesync.sources import sops

MAX_VALUES_BYTES = 4 * 2**20


def add_render_flags(p) -> None:
    g = p.add_argument_group("Helm charts and Jsonnet (a folder holding Chart.yaml is a chart; *.jsonnet files are evaluated)")
    g.add_argument("--chart", metavar="NAME|oci://REF", help="render a chart from --chart-repo or an OCI registry (instead of PATH)")
    g.add_argument("--chart-repo", metavar="URL", help="https chart repository holding --chart")
    g.add_argument("--chart-version", metavar="VERSION", help="the exact chart version to pull (required with --chart)")
    g.add_argument("--release", metavar="NAME", help="Helm release name (default: the sync's name)")
    g.add_argument("--values", action="append", metavar="FILE", help="a values file (repeatable; merged after kubesync.yaml's values)")
    g.add_argument("--set", dest="set_values", action="append", metavar="KEY=VALUE", help="a value, as helm --set (repeatable; last)")
    g.add_argument("--kube-version", metavar="VERSION", help="the Kubernetes version charts render for when no cluster is asked")
    g.add_argument("--api-versions", action="append", metavar="G/V", help="API versions charts see when no cluster is asked")
    for flag, what in (("--tla", "a top-level argument (string)"), ("--tla-code", "a top-level argument (Jsonnet code)"),
                       ("--ext-str", "an external variable (string)"), ("--ext-code", "an external variable (Jsonnet code)")):
        g.add_argument(flag, action="append", metavar="NAME=VALUE", help=f"Jsonnet: {what} (repeatable)")
    g.add_argument("--jpath", "-J", action="append", metavar="DIR", help="Jsonnet: a library folder inside the source (repeatable)")


def _pairs(args, name: str, flag: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in getattr(args, name, None) or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag}: {item[:40]!r} is not NAME=VALUE")
        out.append((key, value))
    return tuple(out)


def _values(files) -> str:
    """The --values files merged in order (a later file's keys win, deeply, as in Helm) as canonical JSON."""
    merged: dict = {}
    for path in files or ():
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_VALUES_BYTES + 1)
        except OSError as e:
            raise UsageError(f"--values {path}: cannot read: {e.strerror or e}") from None
        if len(data) > MAX_VALUES_BYTES:
            raise UsageError(f"--values {path}: over {MAX_VALUES_BYTES // 2**20} MiB")
        if sops.is_encrypted(data, sops.file_format(str(path))):
            raise UsageError(f"--values {path}: SOPS-encrypted; name it in kubesync.yaml's helm.valuesFiles (a file of the "
                             "source), which kubesync decrypts in memory at render time")
        try:
            value = yaml.safe_load(data) or {}
        except yaml.YAMLError as e:
            raise UsageError(f"--values {path}: not YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(value, dict):
            raise UsageError(f"--values {path}: must hold a mapping of values")
        merged = merge_values(merged, value)
    return json.dumps(merged, sort_keys=True, separators=(",", ":"), default=str) if merged else ""


def merge_values(base: dict, over: dict) -> dict:
    """Helm's coalescing of two values maps: maps merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge_values(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def helm_flags(args, base=None):
    """HelmOptions from the flags over `base` (a kubesync.yaml entry's), None when neither says anything."""
    from kubesync.sources import HelmOptions

    chart, repo, version = getattr(args, "chart", None), getattr(args, "chart_repo", None), getattr(args, "chart_version", None)
    values = _values(getattr(args, "values", None))
    given = dict(chart=chart, repo=repo, version=version, release=getattr(args, "release", None),
                 kube_version=getattr(args, "kube_version", None),
                 api_versions=tuple(v for item in getattr(args, "api_versions", None) or () for v in item.split(",") if v),
                 set_values=tuple(getattr(args, "set_values", None) or ()))
    given = {k: v for k, v in given.items() if v}
    if not given and not values:
        return base
    options = replace(base or HelmOptions(), **given)
    if values:
        inline = merge_values(options.values_object(), json.loads(values))
        options = replace(options, values=json.dumps(inline, sort_keys=True, separators=(",", ":")))
    if (repo or version) and not options.chart:
        raise UsageError("--chart-repo and --chart-version go with --chart")
    return options


def jsonnet_flags(args, base=None):
    from kubesync.sources import JsonnetOptions

    given = dict(tlas=_pairs(args, "tla", "--tla"), tla_code=_pairs(args, "tla_code", "--tla-code"),
                 ext_vars=_pairs(args, "ext_str", "--ext-str"), ext_code=_pairs(args, "ext_code", "--ext-code"),
                 libs=tuple(getattr(args, "jpath", None) or ()))
    given = {k: v for k, v in given.items() if v}
    if not given:
        return base
    base = base or JsonnetOptions()
    return replace(base, **{k: getattr(base, k) + v for k, v in given.items()})
