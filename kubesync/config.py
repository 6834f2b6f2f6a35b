"""kubesync.yaml: the syncs a daemon keeps converged, validated into nested frozen dataclasses.

    syncs:
      - name: shop
        source: {path: ./manifests}          # or {repo: URL, ref: main, path: sub}; helm/jsonnet: configsource.py
        namespace: shop
        context: kind-dev
        prune: true
        selfHeal: true
        interval: 30s
        maxPrune: 0.5
        maxSourceSize: 256Mi                 # all files of the source together (Ki, Mi, Gi or bytes)
        validate: strict                     # strict (default), warn or none: unknown fields (as --validate)
        allowRemoteResources: false          # kustomize remote bases (https://, git@...): unpinned
        decryption:                          # SOPS-encrypted Secrets (Flux's shape); keyFiles is kubesync's own
          provider: sops
          secretRef: {name: sops-age, namespace: kubesync-system}
          keyFiles: [/etc/kubesync/age/age.agekey]
        ignore:
          - {group: apps, kind: Deployment, name: web, paths: [/spec/replicas]}
          - {kind: Deployment, managers: [kube-controller-manager]}
    webhook: {url: https://hooks.example/..., format: slack}    # alerts out
    receiver: {secretFile: ./receiver-secret}                 # POST /webhook/<sync> in

The file is read from YAML nodes (yamlnodes.py), so every problem names its file, line and
field; all problems are reported at once. Values are echoed only where they cannot be
secret (durations, names, enumerations): a webhook URL often carries a token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node

from kubesync import configsource
from kubesync.errors import ConfigError, SourceError
from kubesync.model import INVENTORY_NAMESPACE
from kubesync.manifests import DNS1123_LABEL_RULE, describe_yaml_error, is_dns1123_label
from kubesync.settings import (  # the model lives in settings.py; these names stay importable from here
    DEFAULT_INTERVAL,
    DEFAULT_MAX_PRUNE,
    WEBHOOK_FORMATS,
    Config,
    Decryption,
    IgnoreRule,
    ReceiverConfig,
    SyncConfig,
    Validation,
    WebhookConfig,
    parse_duration,
    parse_size,
    positive_duration,
    share,
    webhook_url,
)
from kubesync.sources import SourceSpec, clean_subpath, is_url
from kubesync.yamlnodes import NodeReader

# kubesync.settings owns the model, the defaults and the value checks; this module reads kubesync.yaml.
__all__ = ["DEFAULT_INTERVAL", "DEFAULT_MAX_PRUNE", "WEBHOOK_FORMATS", "parse_duration", "Config", "SyncConfig",
           "IgnoreRule", "WebhookConfig", "ReceiverConfig", "parse_config", "load_config"]


# --- reading YAML nodes with file:line for every problem --------------------------------------

_SYNC_KEYS = ("name", "source", "namespace", "context", "prune", "selfHeal", "interval", "maxPrune", "ignore", "allowEmpty",
              "maxSourceSize", "maxSourceNodes", "allowRemoteResources", "decryption", "validate")
_DECRYPTION_KEYS = ("provider", "secretRef", "keyFiles")

_SOURCE_KEYS = ("path", "repo", "ref", "helm", "jsonnet")
_IGNORE_KEYS = ("group", "kind", "name", "namespace", "paths", "managers")
_WEBHOOK_KEYS = ("url", "format")
_RECEIVER_KEYS = ("secretFile", "insecure")
_TOP_KEYS = ("syncs", "webhook", "receiver")
_POINTER = re.compile(r"(/([^~/]|~[01])*)+")


def _checked(r: NodeReader, node: Node, where: str, types: tuple[type, ...], expected: str, check: Callable[[Any], Any]) -> Any:
    """A scalar of one of `types`, passed through a settings check; its ValueError becomes a problem."""
    value = r.value(node, where, types, expected)
    try:
        return None if value is None else check(value)
    except ValueError as e:
        r.fail(node, where, str(e))
        return None


def _duration(r: NodeReader, node: Node, where: str) -> float | None:
    return _checked(r, node, where, (str, int, float), "a duration like 30s, 5m or 1h30m", positive_duration)


def _share(r: NodeReader, node: Node, where: str) -> float | None:
    return _checked(r, node, where, (int, float), "a number from 0 to 1", share)


def _bytes(r: NodeReader, node: Node, where: str) -> int | None:
    return _checked(r, node, where, (str, int), "a size like 256Mi", parse_size)


def _count(r: NodeReader, node: Node, where: str) -> int | None:
    return _checked(r, node, where, (int,), "a whole number of nodes above 0", _positive)


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"{value} is not above 0")
    return value


def _validation(text: str) -> Validation:
    try:
        return Validation(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not one of strict, warn, none") from None


def _validate(r: NodeReader, node: Node, where: str) -> Validation | None:
    return _checked(r, node, where, (str,), "one of strict, warn, none", _validation)


def _source(r: NodeReader, node: Node, where: str, base: Path) -> SourceSpec | None:
    fields = r.mapping(node, where, _SOURCE_KEYS)
    if fields is None:
        return None
    spec = _plain_source(r, node, {k: v for k, v in fields.items() if k not in ("helm", "jsonnet")}, where, base)
    helm = configsource.helm_options(r, fields["helm"], f"{where}.helm", base) if "helm" in fields else None
    jsonnet = configsource.jsonnet_options(r, fields["jsonnet"], f"{where}.jsonnet") if "jsonnet" in fields else None
    if helm is not None and helm.remote:
        spec = SourceSpec(path=spec.path if spec else None, repo=spec.repo if spec else None, helm=helm)
        try:
            spec.check()
        except SourceError as e:
            r.fail(fields["helm"], f"{where}.helm", str(e))
            return None
        return spec
    return replace(spec, helm=helm, jsonnet=jsonnet) if spec is not None else None


def _plain_source(r: NodeReader, node: Node, fields: dict[str, Node], where: str, base: Path) -> SourceSpec | None:
    """A folder or a git repository; a remote chart (helm.chart) needs neither."""
    if not fields and r.loader is not None and _names_chart(node):
        return None
    get = {k: r.string(v, f"{where}.{k}") for k, v in fields.items()}
    if "repo" in fields:
        repo = get["repo"]
        if repo is None:
            return None
        try:
            sub = clean_subpath(get.get("path"))
        except SourceError as e:
            r.fail(fields["path"], f"{where}.path", str(e))
            return None
        repo = repo if is_url(repo) else str(_resolve(base, repo))
        return SourceSpec(repo=repo, ref=get.get("ref"), subpath=sub or None)
    if "path" not in fields:
        r.fail(node, where, "needs path (a folder), repo (a git repository) or helm.chart (a chart from a repository)")
        return None
    if "ref" in fields:
        r.fail(fields["ref"], f"{where}.ref", "needs repo: a folder has no refs")
    path = get["path"]
    return SourceSpec(path=str(_resolve(base, path)), root=str(base)) if path else None


def _names_chart(node: Node) -> bool:
    """Whether a source block's helm options name a remote chart (then path and repo are not needed)."""
    for key, value in getattr(node, "value", ()):
        if getattr(key, "value", None) == "helm":
            return any(getattr(k, "value", None) == "chart" for k, _ in getattr(value, "value", ()) or ())
    return False


def _resolve(base: Path, path: str) -> Path:
    """Relative paths in kubesync.yaml are relative to the file, not to where the daemon runs."""
    p = Path(os.path.expanduser(path))
    return Path(os.path.normpath(p if p.is_absolute() else base / p))


def _ignore_rule(r: NodeReader, node: Node, where: str) -> IgnoreRule | None:
    fields = r.mapping(node, where, _IGNORE_KEYS)
    if fields is None:
        return None
    selectors = {k: r.value(fields[k], f"{where}.{k}", (str,), "a string") for k in _IGNORE_KEYS[:4] if k in fields}
    known_problems = len(r.problems)
    paths = r.strings(fields["paths"], f"{where}.paths") if "paths" in fields else ()
    for i, p in enumerate(paths):
        if not _POINTER.fullmatch(p):
            r.fail(fields["paths"].value[i], f"{where}.paths[{i}]", f"{p!r} is not a JSON pointer; write it like /spec/replicas")
    managers = r.strings(fields["managers"], f"{where}.managers") if "managers" in fields else ()
    if not paths and not managers and len(r.problems) == known_problems:
        r.fail(node, where, "needs paths (JSON pointers) or managers (field manager names) to ignore")
        return None
    group = selectors.get("group")
    return IgnoreRule(
        group="" if group == "core" else group,
        kind=selectors.get("kind"),
        name=selectors.get("name"),
        namespace=selectors.get("namespace"),
        paths=paths,
        managers=managers,
    )


def _decryption(r: NodeReader, node: Node, where: str, base: Path) -> Decryption:
    """Flux's `decryption: {provider: sops, secretRef: {name}}`, plus key files; the Secret's namespace defaults
    to kubesync's own (kubesync-system)."""
    fields = r.mapping(node, where, _DECRYPTION_KEYS) or {}
    provider = _optional(r, fields, "provider", where, NodeReader.string, "sops")
    if provider != "sops":
        r.fail(fields["provider"], f"{where}.provider", f"{provider!r} is not a decryption provider kubesync knows; use sops")
    ref = None
    if "secretRef" in fields:
        ref_fields = r.mapping(fields["secretRef"], f"{where}.secretRef", ("name", "namespace")) or {}
        name = _optional(r, ref_fields, "name", f"{where}.secretRef", NodeReader.string, None)
        namespace = _optional(r, ref_fields, "namespace", f"{where}.secretRef", NodeReader.string, INVENTORY_NAMESPACE)
        if not name:
            r.fail(fields["secretRef"], f"{where}.secretRef", "needs name: the Secret holding the age key (*.agekey entries)")
        else:
            ref = (namespace, name)
    files = r.strings(fields["keyFiles"], f"{where}.keyFiles") if "keyFiles" in fields else ()
    return Decryption(tuple(str(_resolve(base, f)) for f in files), ref)


def _optional(r: NodeReader, fields: dict[str, Node], key: str, where: str, read: Callable[..., Any], default: Any) -> Any:
    if key not in fields:
        return default
    value = read(r, fields[key], f"{where}.{key}")
    return default if value is None else value


def _sync(r: NodeReader, node: Node, where: str, base: Path) -> SyncConfig | None:
    fields = r.mapping(node, where, _SYNC_KEYS)
    if fields is None:
        return None
    if "source" not in fields:
        r.fail(node, where, "needs source, e.g. source: {path: ./manifests}")
        return None
    source = _source(r, fields["source"], f"{where}.source", base)
    if source is None:
        return None
    source = replace(source, max_bytes=_optional(r, fields, "maxSourceSize", where, _bytes, None),
                     max_nodes=_optional(r, fields, "maxSourceNodes", where, _count, None),
                     allow_remote=_optional(r, fields, "allowRemoteResources", where, NodeReader.boolean, False))
    name = _optional(r, fields, "name", where, NodeReader.string, None) or source.default_name()
    if not is_dns1123_label(name):
        r.fail(fields.get("name", node), f"{where}.name", f"{name!r} is not a valid sync name: it must be {DNS1123_LABEL_RULE}")
    namespace = _optional(r, fields, "namespace", where, NodeReader.string, "")
    if namespace and not is_dns1123_label(namespace):
        r.fail(fields["namespace"], f"{where}.namespace", f"{namespace!r} is not a valid namespace name: it must be {DNS1123_LABEL_RULE}")
    ignore = [_ignore_rule(r, n, f"{where}.ignore[{i}]") for i, n in enumerate(r.items(fields["ignore"], f"{where}.ignore"))] if "ignore" in fields else []
    return SyncConfig(
        name=name,
        source=source,
        namespace=namespace,
        context=_optional(r, fields, "context", where, NodeReader.string, None),
        prune=_optional(r, fields, "prune", where, NodeReader.boolean, False),
        self_heal=_optional(r, fields, "selfHeal", where, NodeReader.boolean, False),
        interval=_optional(r, fields, "interval", where, _duration, DEFAULT_INTERVAL),
        max_prune=_optional(r, fields, "maxPrune", where, _share, DEFAULT_MAX_PRUNE),
        ignore=tuple(rule for rule in ignore if rule is not None),
        allow_empty=_optional(r, fields, "allowEmpty", where, NodeReader.boolean, False),
        decryption=_decryption(r, fields["decryption"], f"{where}.decryption", base) if "decryption" in fields else Decryption(),
        validation=_optional(r, fields, "validate", where, _validate, Validation.STRICT),
    )


def _webhook(r: NodeReader, node: Node) -> WebhookConfig | None:
    fields = r.mapping(node, "webhook", _WEBHOOK_KEYS)
    if fields is None:
        return None
    if "url" not in fields:
        r.fail(node, "webhook", "needs url")
        return None
    url = r.string(fields["url"], "webhook.url")
    try:
        url = url if url is None else webhook_url(url)
    except ValueError as e:
        r.fail(fields["url"], "webhook.url", str(e))
    fmt = _optional(r, fields, "format", "webhook", NodeReader.string, "json")
    if fmt not in WEBHOOK_FORMATS:
        r.fail(fields["format"], "webhook.format", f"{fmt!r} is not one of {', '.join(WEBHOOK_FORMATS)}")
    return WebhookConfig(url, fmt) if url else None


def _receiver(r: NodeReader, node: Node, base: Path) -> ReceiverConfig:
    fields = r.mapping(node, "receiver", _RECEIVER_KEYS) or {}
    secret = _optional(r, fields, "secretFile", "receiver", NodeReader.string, None)
    insecure = _optional(r, fields, "insecure", "receiver", NodeReader.boolean, False)
    return ReceiverConfig(str(_resolve(base, secret)) if secret else None, insecure)


def _unique_names(r: NodeReader, syncs: list[tuple[int, Node, SyncConfig | None]]) -> None:
    first: dict[str, int] = {}
    for i, node, sync in syncs:
        if sync is None:
            continue
        if sync.name in first:
            r.fail(
                node,
                f"syncs[{i}].name",
                f"{sync.name!r} is already used by syncs[{first[sync.name]}]; sync names name inventories and must be unique",
            )
        first.setdefault(sync.name, i)


def _compose(text: str, path: str) -> tuple[Node | None, yaml.SafeLoader]:
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node(), loader
    except yaml.MarkedYAMLError as e:
        raise ConfigError(describe_yaml_error(path, e)) from None
    except RecursionError:  # PyYAML's composer recurses per level of nesting
        raise ConfigError(f"{path}: nested too deeply to be a kubesync.yaml") from None


def _raise(problems: list[str], path: str) -> None:
    if len(problems) == 1:
        raise ConfigError(problems[0])
    raise ConfigError(f"{len(problems)} problems in {path}:\n" + "\n".join("  " + p for p in problems))


def parse_config(text: str, path: str = "kubesync.yaml", base_dir: str | os.PathLike | None = None) -> Config:
    """Validate a kubesync.yaml text; relative source paths resolve against `base_dir`."""
    base = Path(base_dir) if base_dir is not None else Path(path).resolve().parent
    node, loader = _compose(text, path)
    if node is None:
        raise ConfigError(f"{path}: is empty; list at least one sync under syncs:")
    r = NodeReader(path, loader)
    fields = r.mapping(node, "(top level)", _TOP_KEYS)
    if fields is None:
        _raise(r.problems, path)
    if "syncs" not in fields:
        r.fail(node, "syncs", "is missing; list at least one sync under syncs:")
        _raise(r.problems, path)
    nodes = r.items(fields["syncs"], "syncs")
    if not nodes and not r.problems:
        r.fail(fields["syncs"], "syncs", "is empty; list at least one sync")
    syncs = [(i, n, _sync(r, n, f"syncs[{i}]", base)) for i, n in enumerate(nodes)]
    _unique_names(r, syncs)
    webhook = _webhook(r, fields["webhook"]) if "webhook" in fields else None
    receiver = _receiver(r, fields["receiver"], base) if "receiver" in fields else ReceiverConfig()
    if r.problems:
        _raise(r.problems, path)
    return Config(tuple(s for _, _, s in syncs if s is not None), webhook, receiver, path)


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate a kubesync.yaml file; ConfigError names file:line and the field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {p}: {getattr(e, 'strerror', None) or e}") from None
    return parse_config(text, str(p), p.resolve().parent)
