"""The fields a kind knows, read from its schema, and the fields of an object it does not know.

A server without strict field validation (before 1.25) drops unknown fields without a word: a typo
(`spec.replica`) is applied as if absent. kubectl refuses such objects; so does kubesync, from the
schema it already reads for the diff:

    Fields             a graph of schema nodes, node 0 the kind's root; a node is
                       (props, extra, items, flags): the known property names and their nodes
                       (None: keys are not checked), `additionalProperties` (None: none, ANY: any
                       value), the node of list items, and flags OPEN
                       (`x-kubernetes-preserve-unknown-fields`) and EMBEDDED
                       (`x-kubernetes-embedded-resource`, and a custom resource's root: apiVersion,
                       kind and metadata are always known)
    build(...)         from an OpenAPI definition (v2 `$ref`s, v3 `allOf: [{$ref}]`) or a CRD's
                       inline schema; bounded like the diff's walker (depth, nodes)
    unknown(obj, f)    the paths of unknown fields, as the API server writes them (`spec.replica`,
                       `spec.template.spec.containers[0].imagePullPolice`)

A graph, not a table of paths: the schema of a CRD's own schema (JSONSchemaProps) is recursive, and
a CEL rule (`x-kubernetes-validations`, unknown to 1.20) may sit at any depth of it. Where the schema
cannot tell (no type, int-or-string, RawExtension, past a bound), nothing is reported: a false
"unknown field" would refuse a valid object.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Mapping, Optional

__all__ = ["ANY", "Fields", "build", "unknown", "format_path", "parse_path", "suggest", "to_json", "from_json"]

ANY = -1  # a child that may hold anything
OPEN, EMBEDDED = 1, 2
MAX_DEPTH = 40  # nodes nested while building; deeper is ANY
MAX_NODES = 50_000  # nodes of one kind's graph; past it, ANY
MAX_FOUND = 20  # unknown fields reported per object
META = ("apiVersion", "kind", "metadata")

Node = tuple  # (props: dict[str, int] | None, extra: int | None, items: int | None, flags: int)
Path = tuple  # of str (keys) and int (list indices)

# Types whose JSON is custom-marshalled, which OpenAPI v2 publishes as an empty schema: what their
# value is when it is an object (or a list of objects) is the JSONSchemaProps beside them.
_SCHEMA_PROPS_OR = {"JSONSchemaPropsOrArray": True, "JSONSchemaPropsOrBool": False}


@dataclass(frozen=True, eq=False)
class Fields:
    """The known fields of one kind (see the module docstring); node 0 is the root."""

    nodes: tuple[Node, ...]

    def __bool__(self) -> bool:
        return bool(self.nodes)


class _Builder:
    def __init__(self, definitions: Mapping[str, Any], structural: bool):
        self.definitions = definitions
        self.structural = structural  # a CRD's schema: an object without properties has no fields
        self.nodes: list[Optional[Node]] = []
        self.named: dict[str, int] = {}

    def build(self, node: Any, depth: int = 0) -> int:
        if depth > MAX_DEPTH or len(self.nodes) >= MAX_NODES or not isinstance(node, Mapping):
            return ANY
        node, name, or_array = self._target(node)
        if node is None:
            return ANY
        if name is not None:
            key = name + ("[]" if or_array else "")
            if key in self.named:
                return self.named[key]
            self.named[key] = index = self._new()
        else:
            index = self._new()
        props, extra, items, flags = self._fill(node, depth)
        if name is None and (props, extra, items, flags) == (None, None, None, 0) and index == len(self.nodes) - 1:
            self.nodes.pop()  # a scalar's schema: nothing to check below it
            return ANY
        self.nodes[index] = (props, extra, index if or_array else items, flags)  # or a list of such schemas
        return index

    def _new(self) -> int:
        self.nodes.append(None)
        return len(self.nodes) - 1

    def _target(self, node: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None, bool]:
        """The node a `$ref` (or v3's `allOf: [{$ref}]`) names, its definition's name when the node adds
        nothing to it (so it is built once), and whether it stands for "JSONSchemaProps or a list of them"."""
        ref = node.get("$ref")
        all_of = node.get("allOf")
        if ref is None and isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
        if not isinstance(ref, str):
            return node, None, False
        name = ref.rsplit("/", 1)[-1]
        or_array = False
        package, _, short = name.rpartition(".")
        if short in _SCHEMA_PROPS_OR and not (self.definitions.get(name) or {}).get("properties"):
            or_array = _SCHEMA_PROPS_OR[short]
            name = f"{package}.JSONSchemaProps"
        target = self.definitions.get(name)
        if not isinstance(target, Mapping):
            return None, None, False
        extra = {k: v for k, v in node.items()
                 if k.startswith("x-kubernetes-") or k in ("properties", "additionalProperties", "items")}
        if extra:
            return {**target, **extra}, None, or_array
        return target, name, or_array

    def _fill(self, node: Mapping[str, Any], depth: int) -> Node:
        flags = (OPEN if node.get("x-kubernetes-preserve-unknown-fields") is True else 0) | (
            EMBEDDED if node.get("x-kubernetes-embedded-resource") is True else 0)
        props_node = node.get("properties")
        props = None
        if isinstance(props_node, Mapping) and props_node:
            props = {str(k): self.build(v, depth + 1) for k, v in props_node.items()}
        elif self.structural and node.get("type") == "object":
            props = {}  # pruned to nothing unless additionalProperties or preserve-unknown-fields say otherwise
        extra = node.get("additionalProperties")
        extra_index = ANY if extra is True else (self.build(extra, depth + 1) if isinstance(extra, Mapping) else None)
        items = node.get("items")
        items_index = self.build(items, depth + 1) if isinstance(items, Mapping) else None
        return (props, extra_index, items_index, flags)

    def result(self, root: int) -> Fields | None:
        """The graph (the root is built first, so it is node 0); None when the root says nothing."""
        if root == ANY:
            return None
        return Fields(tuple(n if n is not None else (None, None, None, 0) for n in self.nodes))


def build(node: Mapping[str, Any], definitions: Mapping[str, Any] | None = None, *, structural: bool = False,
          resource_root: bool = False) -> Fields | None:
    """The fields of the schema `node` (whose `$ref`s name `definitions`). `structural`: a CRD's schema,
    where an object without properties holds no fields; `resource_root`: the root of a custom resource,
    whose apiVersion, kind and metadata the server checks itself."""
    builder = _Builder(definitions or {}, structural)
    root = builder.build(node)
    fields = builder.result(root)
    if fields is not None and resource_root:
        props, extra, items, flags = fields.nodes[0]
        fields = Fields((((props, extra, items, flags | EMBEDDED)),) + fields.nodes[1:])
    return fields


def unknown(obj: Any, fields: Fields | None, limit: int = MAX_FOUND) -> list[Path]:
    """The paths of the fields of `obj` its kind does not know, in document order, at most `limit`."""
    if not fields:
        return []
    nodes = fields.nodes
    found: list[Path] = []
    stack: list[tuple[Any, int, Path]] = [(obj, 0, ())]
    while stack and len(found) < limit:
        value, index, path = stack.pop()
        props, extra, items, flags = nodes[index]
        pending = []
        if isinstance(value, dict) and (props is not None or extra is not None):
            for key, child in value.items():
                if flags & EMBEDDED and key in META:
                    continue
                target = props.get(key) if props else None
                if target is None:
                    target = extra
                if target is None:
                    if not flags & OPEN:
                        found.append(path + (key,))
                    continue
                if target != ANY:
                    pending.append((child, target, path + (key,)))
        elif isinstance(value, list) and items is not None and items != ANY:
            pending = [(child, items, path + (i,)) for i, child in enumerate(value)]
        stack.extend(reversed(pending))
    return found[:limit]


def format_path(path: Path) -> str:
    """`spec.template.spec.containers[0].image`: how the API server names a field."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_path(obj: Any, text: str) -> Path | None:
    """The path the server named in `text`, matched against the object it was about (keys may hold
    dots, `metadata.labels.app.kubernetes.io/name`); None when the object has no such field."""
    if text == "":
        return ()
    if isinstance(obj, list) and text.startswith("["):
        index, _, rest = text[1:].partition("]")
        if not index.isdigit() or int(index) >= len(obj):
            return None
        tail = parse_path(obj[int(index)], rest[1:] if rest.startswith(".") else rest)
        return None if tail is None else (int(index),) + tail
    if not isinstance(obj, dict):
        return None
    for key in sorted((k for k in obj if isinstance(k, str)), key=len, reverse=True):
        if text == key:
            return (key,)
        if text.startswith(key) and text[len(key)] in ".[":
            rest = text[len(key):]
            tail = parse_path(obj[key], rest[1:] if rest.startswith(".") else rest)
            if tail is not None:
                return (key,) + tail
    return None


def suggest(fields: Fields | None, path: Path) -> str:
    """The known name closest to an unknown field's last part (`replicas` for `spec.replica`), or ''."""
    if not fields or not path or not isinstance(path[-1], str):
        return ""
    index = 0
    for part in path[:-1]:
        props, extra, items, _ = fields.nodes[index]
        nxt = items if isinstance(part, int) else ((props or {}).get(part, extra))
        if nxt is None or nxt == ANY:
            return ""
        index = nxt
    names = list(fields.nodes[index][0] or ())
    close = difflib.get_close_matches(path[-1], names, n=1, cutoff=0.85)  # a typo, not a newer field
    return close[0] if close else ""


def to_json(fields: Fields | None) -> list | None:
    return None if fields is None else [[p, e, i, f] for p, e, i, f in fields.nodes]


def from_json(data: Any) -> Fields | None:
    """The graph a cache file holds; raises ValueError when it is not one."""
    if data is None:
        return None
    nodes = []
    size = len(data)
    for props, extra, items, flags in data:
        if props is not None and not all(isinstance(v, int) and ANY <= v < size for v in props.values()):
            raise ValueError("a property names no node")
        if any(x is not None and not (isinstance(x, int) and ANY <= x < size) for x in (extra, items)):
            raise ValueError("a child names no node")
        nodes.append((None if props is None else {str(k): v for k, v in props.items()}, extra, items, int(flags)))
    return Fields(tuple(nodes)) if nodes else None
