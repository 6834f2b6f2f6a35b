"""kubesync.yaml's `source: {helm: ...}` and `source: {jsonnet: ...}` blocks, read into the source's options.

    source:
      path: ./chart                       # a folder holding Chart.yaml ...
      helm:
        release: web                      # default: the sync's name
        valuesFiles: [values-production.yaml]   # in the source, relative to the chart
        values: {replicaCount: 2}         # inline, merged after the files (Helm's order)
        kubeVersion: "1.37.2"             # only where no cluster is asked (offline compare)
        apiVersions: [monitoring.coreos.com/v1]

    source:
      helm:                               # ... or a chart from a repository, pinned
        repo: https://charts.example.com  # or chart: oci://registry.example/charts/web
        chart: web
        version: 1.2.3
        digest: sha256:...                # optional: the archive (repository) or manifest (OCI) digest
        usernameFile: ./secrets/user      # credentials: files beside kubesync.yaml ...
        passwordFile: ./secrets/password
        secret: kubesync-system/charts    # ... or a Secret with `username` and `password`
        caFile: ./ca.pem

    source:
      path: ./jsonnet-app
      jsonnet: {tlas: {name: web}, tlaCode: {replicas: "2"}, extVars: {env: prod}, extCode: {}, libs: [vendor]}

Values are read whole (any YAML), kept as canonical JSON. Each problem names file:line and field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node

from kubesync.sources.spec import HelmOptions, JsonnetOptions
from kubesync.yamlnodes import NodeReader

HELM_KEYS = ("release", "valuesFiles", "values", "repo", "chart", "version", "digest", "usernameFile", "passwordFile",
             "secret", "caFile", "kubeVersion", "apiVersions", "set")
JSONNET_KEYS = ("tlas", "tlaCode", "extVars", "extCode", "libs")


def _path(base: Path, value: str | None) -> str | None:
    if not value:
        return None
    p = Path(os.path.expanduser(value))
    return os.path.normpath(p if p.is_absolute() else base / p)


def _values(r: NodeReader, node: Node, where: str) -> str:
    if not isinstance(node, MappingNode):
        r.fail(node, where, "must be a mapping of Helm values")
        return ""
    try:
        value = r.loader.construct_object(node, deep=True)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (yaml.YAMLError, TypeError, ValueError, RecursionError) as e:
        r.fail(node, where, f"cannot be read as Helm values: {type(e).__name__}")
        return ""


def helm_options(r: NodeReader, node: Node, where: str, base: Path) -> HelmOptions | None:
    fields = r.mapping(node, where, HELM_KEYS)
    if fields is None:
        return None
    text = {k: r.string(fields[k], f"{where}.{k}") for k in ("release", "repo", "chart", "version", "digest", "usernameFile",
                                                             "passwordFile", "secret", "caFile") if k in fields}
    kube = r.value(fields["kubeVersion"], f"{where}.kubeVersion", (str, int, float), "a version like 1.37.2") if "kubeVersion" in fields else None
    secret = text.get("secret")
    if secret and secret.count("/") != 1:
        r.fail(fields["secret"], f"{where}.secret", "must be NAMESPACE/NAME of a Secret with username and password keys")
    return HelmOptions(
        release=text.get("release"),
        values_files=r.strings(fields["valuesFiles"], f"{where}.valuesFiles") if "valuesFiles" in fields else (),
        values=_values(r, fields["values"], f"{where}.values") if "values" in fields else "",
        set_values=r.strings(fields["set"], f"{where}.set") if "set" in fields else (),
        repo=text.get("repo"), chart=text.get("chart"), version=text.get("version"), digest=text.get("digest"),
        username_file=_path(base, text.get("usernameFile")), password_file=_path(base, text.get("passwordFile")),
        secret=secret, ca_file=_path(base, text.get("caFile")),
        kube_version=str(kube) if kube is not None else None,
        api_versions=r.strings(fields["apiVersions"], f"{where}.apiVersions") if "apiVersions" in fields else (),
    )


def _pairs(r: NodeReader, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, MappingNode):
        r.fail(node, where, "must be a mapping of names to values")
        return ()
    out = []
    for key, value in node.value:
        name = str(key.value)
        got = r.value(value, f"{where}.{name}", (str, int, float, bool), "a string")
        if got is not None:
            out.append((name, str(got).lower() if isinstance(got, bool) else str(got)))
    return tuple(out)


def jsonnet_options(r: NodeReader, node: Node, where: str) -> JsonnetOptions | None:
    fields = r.mapping(node, where, JSONNET_KEYS)
    if fields is None:
        return None
    get = {k: _pairs(r, fields[k], f"{where}.{k}") for k in JSONNET_KEYS[:4] if k in fields}
    return JsonnetOptions(tlas=get.get("tlas", ()), tla_code=get.get("tlaCode", ()), ext_vars=get.get("extVars", ()),
                          ext_code=get.get("extCode", ()), libs=r.strings(fields["libs"], f"{where}.libs") if "libs" in fields else ())
