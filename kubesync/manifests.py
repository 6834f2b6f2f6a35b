"""YAML/JSON documents -> validated Manifests, all-or-nothing.

Sources (a folder, a git tree, kustomize output) hand over ``SourceFile``s: a path and raw bytes.
``load_files`` is the one code path that turns them into Manifests: it decodes, parses, expands
``kind: List`` documents, checks identity fields and names, finds duplicates, and raises a single
``ManifestError`` listing every problem, so a broken source never half-applies.

Messages never quote field values (a Secret's data must not leak into a log or a CI comment);
they quote only names, keys and types.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubesync.documents import Budget, Document, ParseLimits, json_documents, yaml_documents
from kubesync.documents import describe_yaml_error  # noqa: F401  (config.py reads it from here)
from kubesync.errors import ManifestError
from kubesync.annotations import hook as hook_spec
from kubesync.annotations import problems as annotation_problems
from kubesync.hooks import manifest_ref
from kubesync.model import Manifest, ObjectRef, Origin, split_api_version
from kubesync.secrets import remember, remember_names
from kubesync.vocab import is_secret

log = logging.getLogger(__name__)

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
MANIFEST_SUFFIXES = YAML_SUFFIXES + JSON_SUFFIXES


@dataclass(frozen=True)
class SourceFile:
    """One file a source yielded: its origin path (posix, relative) and its raw bytes.

    ``rendered`` marks generated output (kustomize): its line numbers point at nothing a person
    can open, so its manifests get line 0 and the path of the file that produced them.
    """

    path: str
    data: bytes
    rendered: bool = False
    json: bool = False
    """JSON documents whatever the file's name (a Jsonnet program's output)."""


# --- Kubernetes naming rules (k8s.io/apimachinery/pkg/util/validation) -----------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

DNS1123_LABEL_RULE = "a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
DNS1123_SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
)
DNS1035_LABEL_RULE = "a DNS-1035 label: at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit"
PATH_SEGMENT_RULE = "a path segment: not '.' or '..' and without '/' or '%'"


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def is_dns1035_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1035_LABEL.fullmatch(value) is not None


def is_path_segment(value: str) -> bool:
    return bool(value) and value not in (".", "..") and "/" not in value and "%" not in value


_RBAC = "rbac.authorization.k8s.io"
# (group, kind) -> (check, rule text). Kubernetes validates names per kind; most kinds use the
# subdomain rule, but RBAC names like `system:aggregate-to-edit` are legal and common.
NAME_RULES: dict[tuple[str, str], tuple[Any, str]] = {
    ("", "Namespace"): (is_dns1123_label, DNS1123_LABEL_RULE),
    ("", "Service"): (is_dns1035_label, DNS1035_LABEL_RULE),
    (_RBAC, "Role"): (is_path_segment, PATH_SEGMENT_RULE),
    (_RBAC, "ClusterRole"): (is_path_segment, PATH_SEGMENT_RULE),
    (_RBAC, "RoleBinding"): (is_path_segment, PATH_SEGMENT_RULE),
    (_RBAC, "ClusterRoleBinding"): (is_path_segment, PATH_SEGMENT_RULE),
}
DEFAULT_NAME_RULE = (is_dns1123_subdomain, DNS1123_SUBDOMAIN_RULE)


# --- documents -> manifests ------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _label(obj: dict) -> str:
    """The best name for an object in a message: its ObjectRef, or kind/name, or nothing."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if all(isinstance(v, str) and v for v in (api_version, kind, name)):
        return str(ObjectRef.of(obj))
    kind = kind if isinstance(kind, str) and kind else None
    name = name if isinstance(name, str) and name else None
    if kind and name:
        return f"{kind}/{name}"
    return kind or (f"name {name}" if name else "")


def _is_list(obj: dict) -> bool:
    """`kind: List` and typed lists (ConfigMapList ...) are containers, not objects to sync.

    A named object is never a container, even if its kind happens to end in "List".
    """
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and "items" in obj and not _has_name(obj)


def _has_name(obj: dict) -> bool:
    meta = obj.get("metadata")
    return isinstance(meta, dict) and bool(meta.get("name"))


def _items_nodes(node: Node | None) -> list[Node] | None:
    """The YAML nodes of a List's items, to give each item its own line."""
    if not isinstance(node, MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value == "items" and isinstance(value, SequenceNode):
            return value.value
    return None


def _expand(doc: Document, path: str, problems: list[str]) -> Iterator[tuple[Any, int]]:
    """Yield (object, line) for a document, expanding List kinds (recursively) into their items."""
    value = doc.value
    if not (isinstance(value, dict) and _is_list(value)):
        yield value, doc.line
        return
    items = value.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        problems.append(f"{path}:{doc.line}: {value['kind']}: items must be a list, not {_type_name(items)}")
        return
    nodes = _items_nodes(doc.node)
    for i, item in enumerate(items):
        node = nodes[i] if nodes is not None and i < len(nodes) else None
        line = node.start_mark.line + 1 if node is not None else doc.line
        yield from _expand(Document(item, line, node), path, problems)


def _check_string(field: str, value: Any, example: str) -> str | None:
    if value is None:
        return f"{field} is missing; set it, e.g. {field.rsplit('.', 1)[-1]}: {example}"
    if not isinstance(value, str):
        return f"{field} must be a string, not {_type_name(value)}"
    if not value:
        return f"{field} is empty; set it, e.g. {field.rsplit('.', 1)[-1]}: {example}"
    return None


def _check_object(obj: Any) -> list[str]:
    """What is wrong with one document as a Kubernetes object (empty list when nothing)."""
    if not isinstance(obj, dict):
        return [f"a document must be a mapping with apiVersion, kind and metadata, not {_type_name(obj)}"]
    found = [
        _check_string("apiVersion", obj.get("apiVersion"), "apps/v1"),
        _check_string("kind", obj.get("kind"), "Deployment"),
    ]
    meta = obj.get("metadata")
    if meta is None:
        found.append("metadata is missing; set metadata.name")
    elif not isinstance(meta, dict):
        found.append(f"metadata must be a mapping, not {_type_name(meta)}")
    else:
        found += _check_metadata(obj, meta)
    if is_secret(obj):
        found += _check_secret_data(obj)
    return [f for f in found if f]


def _check_secret_data(obj: dict) -> list[str]:
    """Secret `data` holds base64; a plain value there is a classic mistake. The server's error would
    quote the value, so it is caught here and named by key only, never shown."""
    found = _check_string_data(obj.get("stringData"))
    data = obj.get("data")
    if data is None:
        return found
    if not isinstance(data, dict):
        return found + [f"data must be a mapping, not {_type_name(data)}"]
    for key, value in data.items():
        if not isinstance(value, str):
            found.append(f"data[{key!r}] must be a base64 string, not {_type_name(value)}")
            continue
        try:
            base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            found.append(f"data[{key!r}] is not valid base64 (value not shown); put plain text under stringData instead")
    return found


def _check_string_data(string_data: Any) -> list[str]:
    """`stringData: {pin: 1234}` is refused by the server (it wants strings); quietly quoting it would make
    the create fail while an update plans as "no change", so it is named here by key, value not shown."""
    if string_data is None:
        return []
    if not isinstance(string_data, dict):
        return [f"stringData must be a mapping, not {_type_name(string_data)}"]
    return [
        f"stringData[{key!r}] must be a string, not {_type_name(value)} (value not shown); quote it in YAML"
        for key, value in string_data.items()
        if not isinstance(value, str)
    ]


def _check_metadata(obj: dict, meta: dict) -> list[str | None]:
    name = meta.get("name")
    if name is None and meta.get("generateName") is not None:
        found = _check_generate_name(obj, meta)
    else:
        found = [_check_string("metadata.name", name, "web")]
        if found[0] is None:
            found.append(_check_name(obj, name))
    namespace = meta.get("namespace")
    if namespace is not None:
        if not isinstance(namespace, str):
            found.append(f"metadata.namespace must be a string, not {_type_name(namespace)}")
        elif not is_dns1123_label(namespace):
            found.append(f"metadata.namespace {namespace!r} is not a valid namespace name: it must be {DNS1123_LABEL_RULE}")
    for field in ("labels", "annotations"):
        found += _check_string_map(meta, field)
    if isinstance(meta.get("annotations"), dict):
        # kubesync's, Argo CD's, Flux's and Helm's annotations: an unknown value would silently change
        # what the object does (a wave falling back to its kind's, a hook never run, a prune not prevented)
        found += annotation_problems(meta["annotations"])
    return found


def _check_generate_name(obj: dict, meta: dict) -> list[str | None]:
    """Only a hook may have `generateName` (it gets a new name each run); every other object needs its name
    to be updated and pruned."""
    annotations = meta.get("annotations")
    spec = hook_spec(annotations) if isinstance(annotations, dict) else None
    if spec is None:
        return ["metadata.generateName is only for hooks (a sync must know each object's name to update and prune it); "
                "set metadata.name, or make it a hook (argocd.argoproj.io/hook: PreSync, ...)"]
    prefix = meta["generateName"]
    if not isinstance(prefix, str) or not prefix:
        return [_check_string("metadata.generateName", prefix or None, "migrate-")]
    return [None if is_dns1123_subdomain(prefix + "x") else
            f"metadata.generateName {prefix!r} is not a valid name prefix: with the suffix each run adds it must be "
            f"{DNS1123_SUBDOMAIN_RULE}"]


def _check_name(obj: dict, name: str) -> str | None:
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
    check, rule = NAME_RULES.get((group, kind if isinstance(kind, str) else ""), DEFAULT_NAME_RULE)
    if check(name):
        return None
    return f"metadata.name {name!r} is not a valid {kind} name: it must be {rule}"


def _check_string_map(meta: dict, field: str) -> list[str | None]:
    """Labels and annotations are string maps; an unquoted `version: 1.0` is a classic mistake."""
    value = meta.get(field)
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"metadata.{field} must be a mapping, not {_type_name(value)}"]
    return [
        f"metadata.{field}[{k!r}] must be a string, not {_type_name(v)}; quote the value in YAML"
        for k, v in value.items()
        if not isinstance(v, str)
    ]


def _manifests_of(path: str, docs: Iterable[Document], rendered: bool, problems: list[str]) -> Iterator[Manifest]:
    """Validate every object of a file's documents; yield the good ones, note the bad ones."""
    def where(line: int) -> str:
        return path if rendered else f"{path}:{line}"

    for doc in docs:
        for line, key, first in doc.duplicates:
            prefix = _label(doc.value) if isinstance(doc.value, dict) else ""
            first_at = f" (first at line {first})" if first != line else ""
            problems.append(
                f"{where(line)}: {prefix + ': ' if prefix else ''}duplicate key {key!r}{first_at}; "
                "only the last one would count, remove the other"
            )
        for obj, line in _expand(doc, path, problems):
            wrong = _check_object(obj)
            if wrong:
                label = _label(obj) if isinstance(obj, dict) else ""
                problems += [f"{where(line)}: {label + ': ' if label else ''}{w}" for w in wrong]
                continue
            yield Manifest(manifest_ref(obj), obj, Origin(path, 0 if rendered else line))


def parse_documents(
    path: str, text: str, problems: list[str], *, rendered: bool = False, budget: Budget | None = None, json: bool = False
) -> list[Manifest]:
    """Parse one file's text into Manifests, appending what is wrong to ``problems``.

    JSON is chosen by the ``.json`` suffix (or `json`); everything else is (multi-document) YAML.
    """
    parse = json_documents if json or path.lower().endswith(JSON_SUFFIXES) else yaml_documents
    return list(_manifests_of(path, parse(path, text, problems, budget or Budget()), rendered, problems))


def parse(path: str, text: str) -> list[Manifest]:
    """Parse one file's text into Manifests, or raise ManifestError listing every problem."""
    return list(load_files([SourceFile(path, text.encode("utf-8"))]))


def decode(file: SourceFile, problems: list[str]) -> str | None:
    """The file's text, or None (with a problem noted) for binary or non-UTF-8 files."""
    data = file.data
    if b"\0" in data:
        problems.append(
            f"{file.path}: binary file (it contains a NUL byte); only YAML and JSON text is read, "
            "remove it or add it to .kubesyncignore"
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        problems.append(
            f"{file.path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02X}); save the file as UTF-8 "
            "or add it to .kubesyncignore"
        )
        return None


def texts_of(files: Iterable[SourceFile]) -> dict[str, str]:
    """Path -> text of the files whose lines mean something (not rendered output), for DesiredState.texts:
    an error found later (an unknown field) names the line of the field."""
    out = {}
    for f in files:
        if not f.rendered and b"\0" not in f.data:
            try:
                out[f.path] = f.data.decode("utf-8-sig")
            except UnicodeDecodeError:
                continue
    return out


def _duplicates(manifests: Iterable[Manifest], problems: list[str]) -> None:
    """The same object (version excluded) defined twice is refused, naming both places."""
    first: dict[tuple[str, str, str, str], Manifest] = {}
    for m in manifests:
        seen = first.setdefault(m.ref.key, m)
        if seen is not m:
            problems.append(f"{m.origin}: {m.ref}: defined twice, first at {seen.origin}; keep only one definition")


def load_files(
    files: Iterable[SourceFile], problems: Iterable[str] = (), limits: ParseLimits | None = None
) -> tuple[Manifest, ...]:
    """Every file -> Manifests, in file then document order; all-or-nothing.

    ``problems`` carries what the source already found (unreadable or oversized files), so the
    person fixing the source sees everything in one run. ``limits`` bound every document, and
    YAML aliases across the whole load (see kubesync.documents).
    """
    found = list(problems)
    manifests: list[Manifest] = []
    budget = Budget(limits)
    count = 0
    paths = []
    for file in files:
        count += 1
        paths.append(file.path)
        text = decode(file, found)
        if text is not None:
            manifests += parse_documents(file.path, text, found, rendered=file.rendered, budget=budget, json=file.json)
    _duplicates(manifests, found)
    remember_names(paths)  # messages name files and objects in full, even where a Secret value is part of a name
    remember(m.obj for m in manifests)  # Secret values are scrubbed from every message from now on
    if found:
        raise ManifestError(found)
    log.debug("parsed %d objects from %d files", len(manifests), count)
    return tuple(manifests)
