"""The set of fields kubesync set last time, kept on the object in one annotation.

It is what makes the diff three-way: a field in this set and gone from the desired state is removed;
a field only in live that is not in the set (a server default, another controller's) is left alone.

The set is a trie of map keys. Items of keyed lists are recorded under a marker naming the merge key,
then the item's key value; atomic lists, scalars and empty maps are leaves (`{}`):

    {"spec": {"template": {"spec": {"containers": {"@name": {"web": {"image": {}}}}}}}}

Encoded as compact JSON with sorted keys (so reordering YAML does not change the annotation); above
2 KiB as `z:` + base64(zlib(json)). Decoding is tolerant: a garbage annotation gives None, and the diff
then runs two-way (no removals) rather than failing.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from kubesync.diff.mergekeys import merge_rule
from kubesync.diff.normalize import IgnoreMatcher, fields_of
from kubesync.model import LAST_APPLIED_ANNOTATION

__all__ = ["FieldSet", "fieldset_of", "encode", "decode", "last_applied_of", "COMPRESS_ABOVE"]

COMPRESS_ABOVE = 2048  # characters of JSON above which the annotation is compressed
_MAX_DECODED = 16 * 1024 * 1024  # a compressed annotation larger than this once inflated is garbage
_MISSING = object()


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


def fieldset_of(desired: Mapping, *, ignore: Iterable[Any] | IgnoreMatcher = (), live: Mapping | None = None) -> FieldSet:
    """The fields a normalized desired object sets, less the ignored ones.

    `live` is only needed by ignore rules: pointers into keyed lists use the live index, and
    manager rules read the live `managedFields`.
    """
    matcher = ignore if isinstance(ignore, IgnoreMatcher) else IgnoreMatcher(ignore, live if isinstance(live, dict) else None)
    kind = str(desired.get("kind") or "")
    return FieldSet(_node(desired, live if live is not None else _MISSING, (), kind, matcher))


def _node(value: Any, live: Any, path: tuple, kind: str, ignore: IgnoreMatcher) -> dict:
    if isinstance(value, dict):
        out: dict = {}
        live_map = live if isinstance(live, dict) else {}
        for key, child in value.items():
            p = path + (key,)
            if _skip(p) or ignore.ignored(p):
                continue
            out[key] = _node(child, live_map.get(key, _MISSING), p, kind, ignore)
        return out
    if isinstance(value, list):
        rule = merge_rule(fields_of(path), kind)
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
            items[token] = _node(item, live_item, p, kind, ignore)
        return {rule.marker: items}
    return {}


def encode(fs: FieldSet) -> str:
    """Compact JSON, or `z:` + base64(zlib) when that is longer than COMPRESS_ABOVE characters."""
    text = json.dumps(fs.tree, separators=(",", ":"), sort_keys=True)
    if len(text) <= COMPRESS_ABOVE:
        return text
    return "z:" + base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


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
    return FieldSet(tree) if _valid(tree) else None


def _valid(tree: Any) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            return False
        for key, child in node.items():
            if not isinstance(key, str):
                return False
            stack.append(child)
    return True


def last_applied_of(live: Mapping | None) -> FieldSet | None:
    """The set recorded on a live object, or None (never applied by kubesync, or unreadable)."""
    meta = (live or {}).get("metadata") if isinstance(live, Mapping) else None
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return None
    return decode(annotations.get(LAST_APPLIED_ANNOTATION))


def iter_tokens(node: Mapping, marker: str) -> Iterator[tuple[str, Mapping]]:
    """The recorded items of a keyed list node under `marker`."""
    items = node.get(marker) if isinstance(node, Mapping) else None
    if isinstance(items, Mapping):
        yield from items.items()
