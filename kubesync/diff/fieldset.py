"""The set of fields kubesync set last time, kept on the object in one annotation.

It is what makes the diff three-way: a field in this set and gone from the desired state is removed;
a field only in live that is not in the set (a server default, another controller's) is left alone.

The set is a trie of map keys. Items of keyed lists are recorded under a marker naming the merge key,
then the item's key value; atomic lists, scalars and empty maps are leaves (`{}`):

    {"spec": {"template": {"spec": {"containers": {"@name": {"web": {"image": {}}}}}}}}

Encoded as compact JSON with sorted keys (so reordering YAML does not change the annotation); above
2 KiB as `z:` + base64(zlib(json)). Decoding is tolerant: a garbage annotation gives None, and the diff
then runs two-way (no removals) rather than failing.

Annotations share a 256 KiB budget per object. When the compressed set would still take more than
HASH_ABOVE (thousands of long, random map keys), every large map of leaves is stored as 48-bit hashes
of its keys instead, `{"#": base64(sorted hashes)}`: about 8 characters per key whatever the key's
length. Such a node answers "did kubesync set key k?" but cannot list its keys, which is all the diff
asks of it (it checks live keys against the set).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from kubesync.diff.mergekeys import merge_rule
from kubesync.diff.normalize import IgnoreMatcher, fields_of
from kubesync.diff.schema import KindSchema
from kubesync.model import LAST_APPLIED_ANNOTATION

__all__ = ["FieldSet", "fieldset_of", "encode", "decode", "last_applied_of", "COMPRESS_ABOVE"]

COMPRESS_ABOVE = 2048  # characters of JSON above which the annotation is compressed
HASH_ABOVE = 64 * 1024  # characters of compressed annotation above which large maps are stored hashed
HASH_MIN_KEYS = 64  # maps with fewer leaf keys stay readable
_HASH_BYTES = 6
_MAX_DECODED = 16 * 1024 * 1024  # a compressed annotation larger than this once inflated is garbage
_MISSING = object()


class HashedKeys(Mapping):
    """A map of leaves known only by the hashes of its keys: membership, no listing."""

    __slots__ = ("encoded", "_hashes")

    def __init__(self, encoded: str):
        raw = base64.b64decode(encoded, validate=True)
        if len(raw) % _HASH_BYTES:
            raise ValueError("hashed keys: length is not a multiple of the hash size")
        self.encoded = encoded
        self._hashes = frozenset(raw[i : i + _HASH_BYTES] for i in range(0, len(raw), _HASH_BYTES))

    @classmethod
    def of(cls, keys: Iterable[str]) -> "HashedKeys":
        return cls(base64.b64encode(b"".join(sorted({_hash(k) for k in keys}))).decode("ascii"))

    def __getitem__(self, key: str) -> dict:
        if isinstance(key, str) and _hash(key) in self._hashes:
            return {}
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _hash(key) in self._hashes

    def __iter__(self) -> Iterator[str]:
        return iter(())  # the names are not kept

    def __len__(self) -> int:
        return len(self._hashes)

    def __bool__(self) -> bool:
        return True  # never "a leaf", even with no keys

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashedKeys) and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HashedKeys({len(self._hashes)} keys)"


def _hash(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8"), digest_size=_HASH_BYTES).digest()


@dataclass(frozen=True, eq=False)
class FieldSet:
    """A trie of the field paths kubesync set (see the module docstring). Treat `tree` as read-only."""

    tree: Mapping[str, Any]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.tree == other.tree

    __hash__ = None  # type: ignore[assignment]

    def paths(self) -> list[str]:
        """Every recorded leaf as a dotted path, for people and tests: `spec.containers.@name=web.image`."""
        out: list[str] = []

        def walk(node: Mapping, prefix: str) -> None:
            if not node:
                out.append(prefix)
                return
            if isinstance(node, HashedKeys):
                out.append(f"{prefix}.#{len(node)}")
                return
            for key in sorted(node):
                child = node[key]
                if key.startswith("@") and isinstance(child, Mapping):
                    if not child:
                        out.append(f"{prefix}.{key}" if prefix else key)
                    for token in sorted(child):
                        walk(child[token], f"{prefix}.{key}={token}" if prefix else f"{key}={token}")
                else:
                    walk(child, f"{prefix}.{key}" if prefix else key)

        walk(self.tree, "")
        return [p for p in out if p]


def _skip(path: tuple) -> bool:
    """Identity, status and the annotation holding the set itself are never part of the set."""
    n = len(path)
    if n == 1:
        return path[0] in ("apiVersion", "kind", "status")
    if n == 2 and path[0] == "metadata":
        return path[1] in ("name", "namespace")
    return n == 3 and path[:2] == ("metadata", "annotations") and path[2] == LAST_APPLIED_ANNOTATION


def fieldset_of(desired: Mapping, *, ignore: Iterable[Any] | IgnoreMatcher = (), live: Mapping | None = None,
                schema: KindSchema | None = None) -> FieldSet:
    """The fields a normalized desired object sets, less the ignored ones.

    `live` is only needed by ignore rules: pointers into keyed lists use the live index, and
    manager rules read the live `managedFields`. `schema` must be the one the diff is given, so
    that both key the same lists.
    """
    matcher = ignore if isinstance(ignore, IgnoreMatcher) else IgnoreMatcher(ignore, live if isinstance(live, dict) else None)
    kind = str(desired.get("kind") or "")
    rule = functools.partial(schema.merge_rule, kind=kind) if schema else functools.partial(merge_rule, kind=kind)
    return FieldSet(_node(desired, live if live is not None else _MISSING, (), rule, matcher) or {})


def _node(value: Any, live: Any, path: tuple, rule_at: Callable, ignore: IgnoreMatcher) -> dict | None:
    if isinstance(value, dict):
        out: dict = {}
        live_map = live if isinstance(live, dict) else {}
        for key, child in value.items():
            p = path + (key,)
            if _skip(p) or ignore.ignored(p):
                continue
            node = _node(child, live_map.get(key, _MISSING), p, rule_at, ignore)
            if node is not None:
                out[key] = node
        return out if out or not value else None  # a map emptied by skipped keys is not "an empty map we set"
    if isinstance(value, list):
        rule = rule_at(fields_of(path))
        if rule is None:
            return {}
        tokens = [rule.token(item) for item in value]
        if None in tokens or len(set(tokens)) != len(tokens):
            return {}  # the diff treats such a list as atomic too
        live_index: dict[str, int] = {}
        if isinstance(live, list):
            for i, item in enumerate(live):
                t = rule.token(item)
                if t is not None:
                    live_index.setdefault(t, i)
        items: dict = {}
        for i, (token, item) in enumerate(zip(tokens, value)):
            p = path + (live_index.get(token, i),)
            if ignore.ignored(p):
                continue
            live_item = live[live_index[token]] if token in live_index else _MISSING
            items[token] = _node(item, live_item, p, rule_at, ignore) or {}
        return {rule.marker: items}
    return {}


def encode(fs: FieldSet) -> str:
    """Compact JSON, or `z:` + base64(zlib) above COMPRESS_ABOVE characters; large maps hashed above HASH_ABOVE."""
    text = _pack(fs.tree)
    if len(text) > HASH_ABOVE:
        hashed = _pack(_hashed(fs.tree))
        if len(hashed) < len(text):
            return hashed
    return text


def _pack(tree: Mapping) -> str:
    text = json.dumps(tree, separators=(",", ":"), sort_keys=True, default=_jsonable)
    if len(text) <= COMPRESS_ABOVE:
        return text
    return "z:" + base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def _jsonable(node: Any) -> dict:
    """json's hook for the nodes that are not plain dicts (the C encoder walks the plain ones)."""
    if isinstance(node, HashedKeys):
        return {"#": node.encoded}
    if isinstance(node, Mapping):
        return dict(node)
    raise TypeError(f"not part of a field set: {type(node).__name__}")


def _hashed(node: Mapping) -> Mapping:
    """The same set with every large map of leaves replaced by the hashes of its keys."""
    if isinstance(node, HashedKeys):
        return node
    if len(node) >= HASH_MIN_KEYS and not any(k.startswith("@") for k in node) and all(isinstance(v, Mapping) and not v for v in node.values()):
        return HashedKeys.of(node)
    out: dict = {}
    for key, child in node.items():
        if key.startswith("@") and isinstance(child, Mapping) and not isinstance(child, HashedKeys):
            out[key] = {token: _hashed(item) for token, item in child.items()}  # list items stay listed
        else:
            out[key] = _hashed(child)
    return out


def decode(text: Any) -> FieldSet | None:
    """The set an annotation holds, or None when it is missing or not one (never raises)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        if text.startswith("z:"):
            inflater = zlib.decompressobj()
            raw = inflater.decompress(base64.b64decode(text[2:], validate=True), _MAX_DECODED)
            if inflater.unconsumed_tail:
                return None
            text = raw.decode("utf-8")
        tree = json.loads(text)
    except (ValueError, binascii.Error, zlib.error, UnicodeDecodeError, RecursionError):
        return None
    try:
        return FieldSet(_load(tree))
    except (ValueError, TypeError, binascii.Error, RecursionError):
        return None


def _load(node: Any) -> Mapping:
    """Check the decoded JSON is a trie (maps of maps) and turn hashed nodes back into HashedKeys."""
    if not isinstance(node, dict):
        raise ValueError("not a field set")
    if len(node) == 1 and isinstance(node.get("#"), str):
        return HashedKeys(node["#"])
    out = {}
    for key, child in node.items():
        out[key] = _load(child)
    return out


def last_applied_of(live: Mapping | None) -> FieldSet | None:
    """The set recorded on a live object, or None (never applied by kubesync, or unreadable)."""
    meta = (live or {}).get("metadata") if isinstance(live, Mapping) else None
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return None
    return decode(annotations.get(LAST_APPLIED_ANNOTATION))
