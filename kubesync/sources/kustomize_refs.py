"""Every path a kustomization refers to stays inside the source root; remote resources are opt-in.

kustomize's own `--load-restrictor LoadRestrictionsRootOnly` keeps *files* inside each
kustomization's folder, but lets a base (`resources: [../../../anywhere]`) live anywhere on the
host. So before kustomize runs, the whole graph of kustomizations is walked here: each path in
each field that names a file or folder is resolved (symlinks included) and must stay inside the
boundary, the root of the folder or git checkout. A reference that is a URL (or that kustomize
would fetch as one) is remote: refused unless the sync sets `allowRemoteResources: true`, and then
reported, since the source's revision does not pin what it fetches.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesync.documents import Budget, yaml_documents
from kubesync.errors import printable
from kubesync.sources.spec import redact

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_KUSTOMIZATION_BYTES = 1024 * 1024
MAX_KUSTOMIZATIONS = 1000  # folders walked in one graph; a bigger graph is refused, not walked

# Fields holding a list of paths, and fields holding lists of mappings with path-valued keys.
_PATH_LISTS = ("resources", "bases", "components", "crds", "configurations", "generators", "transformers",
               "validators", "patchesStrategicMerge")
_ITEM_PATHS = {"patches": ("path",), "patchesJson6902": ("path",), "replacements": ("path",),
               "configMapGenerator": ("files", "envs", "env"), "secretGenerator": ("files", "envs", "env"),
               "helmCharts": ("valuesFile", "additionalValuesFiles")}
_MAP_PATHS = {"openapi": ("path",), "helmGlobals": ("chartHome", "configHome")}
# Walked into when they name a folder: these fields take other kustomizations.
_BASE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")

_REMOTE = re.compile(
    r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://"  # a URL (file:// included: never a path, whatever it names)
    r"|[a-zA-Z][a-zA-Z0-9+.-]*::"  # go-getter's forced getters: git::, file::, s3::, hg::, https::...
    r"|[^/\s]*@[^/\s]+:"  # scp-like: git@host:org/repo
    r"|[\w-]+(?:\.[\w-]+)+(?::\d+)?/[^/]+/)"  # host.tld/org/... (github.com/org/repo)
)
_FETCHED_ANYWAY = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*(?:://|::)")
_QUERY = re.compile(r"[?&](?:ref|version|submodules|timeout|depth|sshkey|archive)=", re.I)


def is_remote(ref: str) -> bool:
    """What kustomize would fetch (go-getter and kustomize's own remote forms), never a path to check:
    a URL, `git::...` and every forced getter, `git@host:...`, `github.com/org/repo`, or anything carrying
    go-getter's query parameters (`?ref=`)."""
    return bool(_REMOTE.match(ref.strip())) or bool(_QUERY.search(ref))


@dataclass
class Walk:
    """The findings of one walk: problems (refused references) and remote resources allowed."""

    boundary: str
    display: str
    allow_remote: bool
    problems: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    helm: bool = False
    """The graph has `helmCharts`: kustomize renders them with our helm (--enable-helm)."""
    files: dict[str, str] = field(default_factory=dict)
    """Every file the graph names (real path -> its name in messages): resources, generator and values files."""

    def where(self, path: str) -> str:
        rel = os.path.relpath(path, self.boundary)
        return printable(posixpath.join(self.display, rel.replace(os.sep, "/")) if rel != "." else self.display)


def check(folder: Path, boundary: Path, display: str, *, allow_remote: bool) -> Walk:
    """The problems, remote resources and helmCharts of the kustomization in `folder`, whose root is `boundary`."""
    walk = Walk(os.path.realpath(boundary), display, allow_remote)
    _folder(walk, os.path.realpath(folder))
    return walk


def _kustomization(folder: str) -> str | None:
    return next((os.path.join(folder, n) for n in KUSTOMIZATION_FILES if os.path.isfile(os.path.join(folder, n))), None)


def _folder(walk: Walk, folder: str) -> None:
    if folder in walk.seen:
        return
    walk.seen.add(folder)
    if len(walk.seen) > MAX_KUSTOMIZATIONS:
        walk.problems.append(f"{walk.where(folder)}: more than {MAX_KUSTOMIZATIONS} kustomizations in one graph")
        return
    kfile = _kustomization(folder)
    if kfile is None:
        return
    value = _read(walk, kfile)
    if not isinstance(value, dict):
        return  # kustomize reports a malformed kustomization itself
    for name, ref in _references(value):
        _reference(walk, kfile, folder, name, ref)
    _helm_charts(walk, kfile, folder, value)


def _helm_charts(walk: Walk, kfile: str, folder: str, value: dict) -> None:
    """`helmCharts`: a chart vendored under chartHome must hold no link out of the root; one kustomize
    would pull (`repo:` and not vendored) is remote, refused unless allowRemoteResources."""
    charts = value.get("helmCharts")
    if not isinstance(charts, list) or not charts:
        return
    walk.helm = True
    globals_ = value.get("helmGlobals") if isinstance(value.get("helmGlobals"), dict) else {}
    home = os.path.join(folder, str(globals_.get("chartHome") or "charts"))
    for item in charts:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name, version = item["name"], str(item.get("version") or "")
        vendored = [p for p in (os.path.join(home, name), os.path.join(home, f"{name}-{version}", name)) if os.path.isdir(p)]
        if vendored:
            _links_inside(walk, vendored[0])
        elif item.get("repo"):
            repo = printable(redact(str(item["repo"])))
            if walk.allow_remote:
                walk.remote.append(f"{walk.where(kfile)}: helm chart {printable(name)} from {repo}")
            else:
                walk.problems.append(f"{walk.where(kfile)}: helmCharts: {printable(name)!r} would be pulled from {repo}, "
                                     "which the source's revision does not pin; vendor it under charts/, or set "
                                     "allowRemoteResources: true")


def _links_inside(walk: Walk, chart: str) -> None:
    for dirpath, dirnames, filenames in os.walk(chart):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if not (target == walk.boundary or target.startswith(walk.boundary.rstrip(os.sep) + os.sep)):
                    walk.problems.append(f"{walk.where(path)}: symlink to {printable(os.readlink(path))}, outside the "
                                         "source root; a chart reads nothing outside it")


def _read(walk: Walk, kfile: str) -> Any:
    if os.path.getsize(kfile) > MAX_KUSTOMIZATION_BYTES:
        walk.problems.append(f"{walk.where(kfile)}: larger than {MAX_KUSTOMIZATION_BYTES // 1024} KiB")
        return None
    with open(kfile, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    problems: list[str] = []
    docs = list(yaml_documents(walk.where(kfile), text, problems, Budget()))
    walk.problems += problems
    return docs[0].value if docs else None


def _references(value: dict) -> Iterator[tuple[str, str]]:
    """(field, path) of every path-like value of a kustomization; inline YAML (multi-line) is skipped."""
    for name in _PATH_LISTS:
        for item in _strings(value.get(name)):
            yield name, item
    for name, keys in _ITEM_PATHS.items():
        for item in value.get(name) or () if isinstance(value.get(name), list) else ():
            if isinstance(item, dict):
                for key in keys:
                    for ref in _strings(item.get(key)):
                        yield f"{name}.{key}", ref.split("=", 1)[-1] if key == "files" else ref
    for name, keys in _MAP_PATHS.items():
        section = value.get(name)
        if isinstance(section, dict):
            for key in keys:
                for ref in _strings(section.get(key)):
                    yield f"{name}.{key}", ref


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str) and v and "\n" not in v]


def _reference(walk: Walk, kfile: str, folder: str, name: str, ref: str) -> None:
    target = os.path.realpath(os.path.join(folder, ref))
    inside = target == walk.boundary or target.startswith(walk.boundary.rstrip(os.sep) + os.sep)
    exists = os.path.lexists(os.path.join(folder, ref))
    # a URL, a forced getter (git::) or go-getter's query is fetched whatever lies on disk under that name
    if is_remote(ref) and (not exists or _FETCHED_ANYWAY.match(ref.strip()) or _QUERY.search(ref)):
        if walk.allow_remote:
            walk.remote.append(f"{walk.where(kfile)}: {redact(ref)}")
        else:
            walk.problems.append(
                f"{walk.where(kfile)}: {name}: {printable(redact(ref))!r} is a remote resource, which the source's "
                "revision does not pin; refused unless the sync sets allowRemoteResources: true"
            )
        return
    if not inside:
        walk.problems.append(
            f"{walk.where(kfile)}: {name}: {printable(ref)!r} leaves the source root; kustomize renders "
            "with the source root as its boundary, so move what it needs inside it"
        )
        return
    if name in _BASE_FIELDS and os.path.isdir(target):
        _folder(walk, target)
    elif os.path.isfile(target):
        walk.files.setdefault(target, walk.where(target))
