"""List and map semantics of one kind, read from the API server's own schema instead of tables.

    KindSchema             per path (map keys from the object's root, list indices left out): how a
                           list merges (`x-kubernetes-list-type` map/set/atomic, its
                           `x-kubernetes-list-map-keys`, `x-kubernetes-patch-merge-key`, the keys'
                           defaults) and which maps have free-form keys (`additionalProperties`,
                           with `x-kubernetes-map-type` granular or atomic), and the fields the
                           kind knows (`fields`, diff/fields.py: the unknown-field check of servers
                           without strict field validation)
    from_openapi(doc)      an OpenAPI v2 (`definitions`) or v3 (`components.schemas`) document
    from_crd(crd)          a CustomResourceDefinition's `openAPIV3Schema` per served version
    to_json / from_json    plain data for the on-disk cache

Pure: the schema is fetched by kubesync.cluster.openapi. Where the schema says nothing about a path
(no annotation, or below `x-kubernetes-preserve-unknown-fields`), the hand tables of mergekeys.py and
normalize.py still answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from kubesync.diff import fields as known
from kubesync.diff.mergekeys import MergeRule, merge_rule as table_rule

__all__ = ["KindSchema", "from_openapi", "from_crd", "to_json", "from_json"]

MAX_DEPTH = 40  # deeper than any built-in kind; bounds a hostile or recursive CRD schema
MAX_NODES = 50_000  # schema nodes visited for one kind
_UNSET: Any = object()


@dataclass(frozen=True, eq=False)
class KindSchema:
    """What the schema of one kind says about its lists and maps (see the module docstring)."""

    lists: Mapping[tuple[str, ...], Mapping[str, Any]] = field(default_factory=dict)
    """path -> {"type": "map"|"set"|"atomic"|"", "keys": [...], "mergeKey": str, "defaults": {...}}"""

    maps: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    """path of a free-form map (additionalProperties) -> its map type: "granular" or "atomic"."""

    open: frozenset[tuple[str, ...]] = frozenset()
    """roots of `x-kubernetes-preserve-unknown-fields` subtrees: below them the schema says nothing."""

    fields: known.Fields | None = None
    """The fields the kind knows (None: the schema cannot tell; nothing is reported unknown)."""

    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def merge_rule(self, fields: tuple[str, ...], kind: str) -> MergeRule | None:
        """The rule for the list at `fields`: the schema's where it says something, else the table's."""
        hit = self._memo.get(fields, _UNSET)
        if hit is _UNSET:
            hit = self._memo[fields] = _decide(self.lists.get(fields), fields, kind)
        return hit

    def free_form(self, fields: tuple[str, ...]) -> bool | None:
        """True for a map of free-form keys, None when the schema does not say (ask the table)."""
        return True if fields in self.maps else None

    def atomic_map(self, fields: tuple[str, ...]) -> bool:
        """A free-form map with `x-kubernetes-map-type: atomic`: one owner, replaced and removed whole."""
        return self.maps.get(fields) == "atomic"

    def __bool__(self) -> bool:
        return bool(self.lists or self.maps or self.open or self.fields)


def _decide(info: Mapping[str, Any] | None, fields: tuple[str, ...], kind: str) -> MergeRule | None:
    """Schema first (list-type, then patch-merge-key), the hand table where the schema is silent.

    The table still contributes what a schema cannot say: the desired order of `env` and the server's
    default of a key field (`protocol: TCP`) on versions whose schema does not publish defaults.
    """
    table = table_rule(fields, kind)
    if not info:
        return table
    list_type = info.get("type") or ""
    pattern = "^" + ".".join(fields)
    if list_type == "atomic":
        return None
    if list_type == "set":
        return MergeRule(pattern, ())
    keys = tuple(info.get("keys") or ())
    if list_type == "map" and keys:
        defaults = {**(table.defaults if table else {}), **(info.get("defaults") or {})}
        ordered = bool(table and table.ordered and table.keys == keys)
        return MergeRule(pattern, keys, defaults, ordered=ordered)
    merge_key = info.get("mergeKey")
    if merge_key:
        if table is not None and table.keys[:1] == (merge_key,):
            return table  # the table knows the server-side-apply keys (containerPort + protocol)
        return MergeRule(pattern, (merge_key,), dict(info.get("defaults") or {}))
    return table


# ----------------------------------------------------------------------------- reading schemas


class _Walker:
    """Walks one kind's schema from its root, recording lists, free-form maps and open subtrees."""

    def __init__(self, definitions: Mapping[str, Any]):
        self.definitions = definitions
        self.lists: dict[tuple[str, ...], dict] = {}
        self.maps: dict[tuple[str, ...], str] = {}
        self.open: set[tuple[str, ...]] = set()
        self.budget = MAX_NODES

    def resolve(self, node: Any, refs: tuple[str, ...]) -> tuple[Mapping[str, Any], tuple[str, ...]] | None:
        """The node with `$ref` (or v3's `allOf: [{$ref}]`) followed; None on a cycle or a dangling ref."""
        for _ in range(8):
            if not isinstance(node, Mapping):
                return None
            ref = node.get("$ref")
            if ref is None:
                all_of = node.get("allOf")
                if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping) and "$ref" in all_of[0]:
                    ref = all_of[0]["$ref"]
            if not isinstance(ref, str):
                return node, refs
            name = ref.rsplit("/", 1)[-1]
            if name in refs:
                return None  # recursive (JSONSchemaProps): the schema stops saying anything useful here
            refs = refs + (name,)
            extra = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
            target = self.definitions.get(name)
            if not isinstance(target, Mapping):
                return None
            node = {**target, **extra} if extra else target
        return None

    def walk(self, node: Any, path: tuple[str, ...], refs: tuple[str, ...] = ()) -> None:
        self.budget -= 1
        if self.budget < 0 or len(path) > MAX_DEPTH:
            return
        found = self.resolve(node, refs)
        if found is None:
            return
        node, refs = found
        if node.get("x-kubernetes-preserve-unknown-fields") is True:
            self.open.add(path)
        items = node.get("items")
        if node.get("type") == "array" or isinstance(items, Mapping):
            info = self.list_info(node, items, refs)
            if info:
                self.lists[path] = info
            if isinstance(items, Mapping):
                self.walk(items, path, refs)  # items live at the same fields (indices left out)
            return
        props = node.get("properties")
        if isinstance(props, Mapping):
            for name, child in props.items():
                if isinstance(name, str):
                    self.walk(child, path + (name,), refs)
        extra = node.get("additionalProperties")
        if not props and isinstance(extra, Mapping) and path:
            self.maps[path] = "atomic" if node.get("x-kubernetes-map-type") == "atomic" else "granular"

    def list_info(self, node: Mapping[str, Any], items: Any, refs: tuple[str, ...]) -> dict:
        list_type = node.get("x-kubernetes-list-type")
        keys = node.get("x-kubernetes-list-map-keys")
        merge_key = node.get("x-kubernetes-patch-merge-key")
        strategy = str(node.get("x-kubernetes-patch-strategy") or "")
        info: dict[str, Any] = {}
        if list_type in ("map", "set", "atomic"):
            info["type"] = list_type
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys) and keys:
            info["keys"] = list(keys)
        if isinstance(merge_key, str) and merge_key and "merge" in strategy.split(","):
            info["mergeKey"] = merge_key
        elif not list_type and "merge" in strategy.split(",") and not merge_key:
            info["type"] = "set"  # strategic merge of scalars (1.20's `finalizers`): a set
        wanted = info.get("keys") or ([info["mergeKey"]] if "mergeKey" in info else [])
        if wanted:
            defaults = self.key_defaults(items, refs, wanted)
            if defaults:
                info["defaults"] = defaults
        return info

    def key_defaults(self, items: Any, refs: tuple[str, ...], keys: list[str]) -> dict[str, Any]:
        found = self.resolve(items, refs)
        props = found[0].get("properties") if found else None
        out: dict[str, Any] = {}
        for key in keys:
            prop = props.get(key) if isinstance(props, Mapping) else None
            default = prop.get("default") if isinstance(prop, Mapping) else None
            # v3 of built-in kinds writes the Go zero value as `default` of required keys (`name: ""`):
            # that is no default, and taking it would key items that lack their key
            if isinstance(default, (str, int, float, bool)) and default not in ("", 0, False):
                out[key] = default
        return out

    def result(self, fields: known.Fields | None = None) -> KindSchema:
        return KindSchema(dict(self.lists), dict(self.maps), frozenset(self.open), fields)


def _gvks(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for gvk in node.get("x-kubernetes-group-version-kind") or ():
        if isinstance(gvk, Mapping) and gvk.get("kind") and gvk.get("version"):
            group = str(gvk.get("group") or "")
            version = str(gvk["version"])
            yield (f"{group}/{version}" if group else version, str(gvk["kind"]))


def from_openapi(doc: Mapping[str, Any], wanted: Iterable[tuple[str, str]] | None = None) -> dict[tuple[str, str], KindSchema]:
    """(apiVersion, kind) -> KindSchema for each kind the document defines (or only those `wanted`)."""
    definitions = doc.get("definitions")
    if not isinstance(definitions, Mapping):
        definitions = (doc.get("components") or {}).get("schemas")
    if not isinstance(definitions, Mapping):
        return {}
    wanted_set = set(wanted) if wanted is not None else None
    out: dict[tuple[str, str], KindSchema] = {}
    for name, node in definitions.items():
        if not isinstance(node, Mapping):
            continue
        for gvk in _gvks(node):
            if gvk in out or (wanted_set is not None and gvk not in wanted_set):
                continue
            if not isinstance(node.get("properties"), Mapping) or "kind" not in node["properties"]:
                continue  # WatchEvent, DeleteOptions...: listed for every group, not objects we sync
            walker = _Walker(definitions)
            walker.walk(node, (), (name,))
            out[gvk] = walker.result(known.build(node, definitions))
    return out


def from_crd(crd: Mapping[str, Any]) -> dict[tuple[str, str], KindSchema]:
    """(apiVersion, kind) -> KindSchema for each served version of a CustomResourceDefinition."""
    spec = crd.get("spec") if isinstance(crd, Mapping) else None
    if not isinstance(spec, Mapping):
        return {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    if not (isinstance(group, str) and isinstance(kind, str)):
        return {}
    shared = (spec.get("validation") or {}).get("openAPIV3Schema")  # v1beta1's one schema for all versions
    keep = spec.get("preserveUnknownFields")  # v1beta1's default keeps every field
    pruned = keep is not True and (keep is not None or not str(crd.get("apiVersion") or "").endswith("/v1beta1"))
    out: dict[tuple[str, str], KindSchema] = {}
    for version in spec.get("versions") or ():
        if not isinstance(version, Mapping) or version.get("served") is False or not version.get("name"):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or shared
        if isinstance(schema, Mapping):
            walker = _Walker({})
            walker.walk(schema, ())
            fields = known.build(schema, structural=True, resource_root=True) if pruned else None
            out[(f"{group}/{version['name']}", kind)] = walker.result(fields)
    return out


# ----------------------------------------------------------------------------- the cache's plain form


def to_json(schema: KindSchema) -> dict:
    return {
        "lists": [[list(p), info] for p, info in sorted(schema.lists.items())],
        "maps": [[list(p), t] for p, t in sorted(schema.maps.items())],
        "open": sorted(list(p) for p in schema.open),
        "fields": known.to_json(schema.fields),
    }


def from_json(data: Any) -> KindSchema | None:
    """The schema a cache file holds, or None when it is not one (never raises)."""
    try:
        lists = {tuple(str(s) for s in p): dict(info) for p, info in data["lists"]}
        maps = {tuple(str(s) for s in p): str(t) for p, t in data["maps"]}
        open_ = frozenset(tuple(str(s) for s in p) for p in data["open"])
        fields = known.from_json(data["fields"])  # a file of an older format lacks it: read again
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return KindSchema(lists, maps, open_, fields)
