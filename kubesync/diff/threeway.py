"""last-applied x live x desired -> an RFC 6902 JSON patch against the live object.

The rules, in the order they are applied:

* a field the desired state sets and live lacks or holds differently is added or replaced;
* a field kubesync set last time (the fieldset) and gone from the desired state is removed, if live has it;
* a field only in live (server defaults, other controllers) is left alone;
* maps are merged key by key; lists with a merge key (mergekeys.MERGE_KEYS) item by item, addressed by
  their live index; other lists are atomic: equal when every desired item is contained in the live
  item at the same position, otherwise replaced whole;
* values are compared by meaning where the server rewrites them (normalize.py: quantities, empty maps,
  omitted zero values, server-allocated fields), strictly otherwise (`8080` is not `"8080"`).

The patch is minimal (only differing fields), valid in order (parents exist; removals from the highest
index down; new list items appended with `/-`), and applying it then diffing again gives nothing.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from kubesync.diff.fieldset import FieldSet, decode
from kubesync.diff.mergekeys import MergeRule, merge_rule, unordered
from kubesync.diff.schema import KindSchema
from kubesync.diff.normalize import (
    IgnoreMatcher,
    fields_of,
    is_builtin,
    is_free_form_map,
    is_quantity_path,
    normalize_desired,
    normalize_live,
    pointer,
    quantities_equal,
    server_allocated,
    zero_is_absent,
)

__all__ = ["ObjectDiff", "diff", "diff_iter", "contains", "normalize_desired", "normalize_live"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ObjectDiff:
    """The patch that turns live into desired (against the raw live object), and what it changes.

    `changed_paths` are for people, one per op: `spec.template.spec.containers[name=web].image`,
    `metadata.annotations["example.com/team"]`.
    """

    patch: tuple[dict, ...]
    changed_paths: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.patch)


def diff_iter(desired: Mapping, live: Mapping, last_applied: FieldSet | Mapping | str | None, ignore: Iterable[Any] = (),
              schema: KindSchema | None = None) -> Iterator[dict]:
    """The patch ops, one at a time. `last_applied` None means two-way: nothing is removed.

    `schema`: the kind's list and map rules from the server (schema.py); without it, the tables."""
    for op, _ in _run(desired, live, last_applied, ignore, schema):
        yield op


def diff(desired: Mapping, live: Mapping, last_applied: FieldSet | Mapping | str | None, ignore: Iterable[Any] = (),
         schema: KindSchema | None = None) -> ObjectDiff:
    """The whole patch as a frozen value (see diff_iter)."""
    ops, labels = [], []
    for op, label in _run(desired, live, last_applied, ignore, schema):
        ops.append(op)
        labels.append(label)
    return ObjectDiff(tuple(ops), tuple(labels))


def contains(desired: Any, live: Any, path: tuple = (), *, kind: str = "", api_version: str = "", ignore: Iterable[Any] = (),
             schema: KindSchema | None = None) -> bool:
    """Is `desired` contained in `live` with the diff's rules (every field it sets is there and equal)?

    Given whole objects (path `()`), both are normalized first; `path` says where nested values sit
    (it selects merge keys and quantity comparison).
    """
    path = tuple(path)
    raw_live = live if isinstance(live, dict) else None
    if not path and isinstance(desired, dict) and isinstance(live, dict) and ("kind" in desired or "apiVersion" in desired):
        desired, live = normalize_desired(desired), normalize_live(live)
        kind = kind or str(desired.get("kind") or "")
        api_version = api_version or str(desired.get("apiVersion") or "")
    matcher = ignore if isinstance(ignore, IgnoreMatcher) else IgnoreMatcher(ignore, raw_live if not path else None)
    differ = _Differ(kind, is_builtin(api_version), matcher, schema)
    return differ.contains(desired, MISSING if live is None else live, path)


def _tree(last_applied: Any) -> Mapping | None:
    if last_applied is None:
        return None
    if isinstance(last_applied, FieldSet):
        return last_applied.tree
    if isinstance(last_applied, str):
        fs = decode(last_applied)
        return fs.tree if fs else None
    return last_applied if isinstance(last_applied, Mapping) else None


def _run(desired: Mapping, live: Mapping, last_applied: Any, ignore: Iterable[Any], schema: KindSchema | None) -> Iterator[tuple[dict, str]]:
    d = normalize_desired(dict(desired))
    raw_live = dict(live or {})
    l = normalize_live(raw_live)
    kind = str(d.get("kind") or l.get("kind") or "")
    builtin = is_builtin(str(d.get("apiVersion") or l.get("apiVersion") or ""))
    matcher = ignore if isinstance(ignore, IgnoreMatcher) else IgnoreMatcher(ignore, raw_live)
    differ = _Differ(kind, builtin, matcher, schema)
    for op, label in differ.walk_dict(d, l, _tree(last_applied), (), ()):
        yield op, "".join(label).lstrip(".")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _identity(path: tuple) -> bool:
    """apiVersion, kind, name and namespace say which object this is; they are never patched."""
    if len(path) == 1:
        return path[0] in ("apiVersion", "kind", "status")
    return len(path) == 2 and path[0] == "metadata" and path[1] in ("name", "namespace")


@functools.lru_cache(maxsize=4096)
def _key_label(key: str) -> str:
    """`.name` or `["example.com/team"]`; cached, as the same keys recur in every object."""
    return "." + key if _IDENT.fullmatch(key) else "[" + json.dumps(key) + "]"


def _op(op: str, path: Iterable[Any], value: Any = MISSING) -> dict:
    out = {"op": op, "path": pointer(path)}
    if value is not MISSING:
        out["value"] = value
    return out


class _Differ:
    """The comparison rules for one object: its kind's schema, else the tables (kind decides a few keys)."""

    def __init__(self, kind: str, builtin: bool, ignore: IgnoreMatcher, schema: KindSchema | None = None):
        self.kind = kind
        self.builtin = builtin
        self.ignore = ignore
        self.schema = schema or None

    def rule_at(self, fields: tuple[str, ...]) -> MergeRule | None:
        if self.schema is not None:
            return self.schema.merge_rule(fields, self.kind)
        return merge_rule(fields, self.kind)

    def free_form(self, fields: tuple[str, ...]) -> bool:
        if self.schema is not None:
            known = self.schema.free_form(fields)
            if known is not None:
                return known
        return is_free_form_map(fields)

    # ------------------------------------------------------------------ containment (desired ⊆ live)

    def keyed(self, path: tuple, items: list) -> MergeRule | None:
        """The merge rule for this list, if every desired item carries a distinct key; else atomic."""
        rule = self.rule_at(fields_of(path))
        if rule is None:
            return None
        tokens = [rule.token(item) for item in items]
        if None in tokens or len(set(tokens)) != len(tokens):
            return None
        return rule

    def absent_ok(self, value: Any, path: tuple) -> bool:
        """May live lack this desired value? Nulls, empty lists, empty free-form maps, omitted zeros."""
        if value is None:
            return True
        if isinstance(value, list):
            return not value
        if isinstance(value, dict):
            return not value and self.free_form(fields_of(path))
        return zero_is_absent(value, path, self.builtin) or server_allocated(value, path, self.builtin)

    def scalar_equal(self, d: Any, l: Any, path: tuple) -> bool:
        if type(d) is type(l) and d == l:
            return True  # the common case, and equal spellings are equal quantities: skip the path tests
        if isinstance(l, (dict, list)):
            return False
        if is_quantity_path(fields_of(path), self.kind):
            same = quantities_equal(d, l)
            if same is not None:
                return same
        if not self.builtin and _number(d) and _number(l):
            return d == l  # custom resources are plain JSON: `1.0` comes back as 1, 1e22 as a float
        return type(d) is type(l) and d == l

    def contains(self, d: Any, l: Any, path: tuple) -> bool:
        if path and self.ignore.ignored(path):
            return True
        if l is MISSING:
            return self.absent_ok(d, path)
        if isinstance(d, dict):
            if not isinstance(l, dict):
                return False
            for key, value in d.items():
                p = path + (key,)
                if not _identity(p) and not self.contains(value, l.get(key, MISSING), p):
                    return False
            return True
        if server_allocated(d, path, self.builtin):
            return True
        if isinstance(d, list):
            if not isinstance(l, list):
                return False
            rule = self.keyed(path, d)
            if rule is not None:
                first: dict[str, int] = {}
                for i, item in enumerate(l):
                    t = rule.token(item)
                    if t is not None:
                        first.setdefault(t, i)
                for item in d:
                    i = first.get(rule.token(item))  # type: ignore[arg-type]
                    if i is None or not self.contains(item, l[i], path + (i,)):
                        return False
                return True
            if len(d) != len(l):
                return False
            if unordered(fields_of(path), self.kind):
                return self.contains_unordered(d, l, path)
            return all(self.contains(dv, lv, path + (i,)) for i, (dv, lv) in enumerate(zip(d, l)))
        return self.scalar_equal(d, l, path)

    def contains_unordered(self, d: list, l: list, path: tuple) -> bool:
        """Each desired item contained in its own live item, in any order (a bipartite matching)."""
        match: dict[int, int] = {}  # live index -> desired index

        def place(i: int, seen: set[int]) -> bool:
            for j, lv in enumerate(l):
                if j in seen or not self.contains(d[i], lv, path + (j,)):
                    continue
                seen.add(j)
                if j not in match or place(match[j], seen):
                    match[j] = i
                    return True
            return False

        return all(place(i, set()) for i in range(len(d)))

    # ------------------------------------------------------------------ three-way walk

    def walk(self, d: Any, l: Any, fs: Any, path: tuple, label: tuple) -> Iterator[tuple[dict, tuple]]:
        """Ops turning live value `l` into desired `d` (both present) at `path`."""
        if isinstance(d, dict) and isinstance(l, dict):
            yield from self.walk_dict(d, l, fs, path, label)
            return
        if isinstance(d, list) and isinstance(l, list):
            rule = self.keyed(path, d)
            if rule is not None:
                yield from self.walk_keyed(rule, d, l, fs, path, label)
                return
        if not self.contains(d, l, path):
            yield _op("replace", path, self.compose(d, l, path)), label

    def walk_dict(self, d: dict, l: dict, fs: Any, path: tuple, label: tuple) -> Iterator[tuple[dict, tuple]]:
        fs = fs if isinstance(fs, Mapping) else None
        for key, dv in d.items():
            lv = l.get(key, MISSING)
            if dv.__class__ is lv.__class__ and not isinstance(dv, (dict, list)) and dv == lv:
                continue  # an equal scalar, the common case: no op under any rule below
            p = path + (key,)
            if _identity(p) or self.ignore.ignored(p):
                continue
            lab = label + (_key_label(key),)
            if lv is MISSING:
                if not self.absent_ok(dv, p):
                    yield _op("add", p, self.compose(dv, MISSING, p)), lab
            else:
                yield from self.walk(dv, lv, fs.get(key) if fs else None, p, lab)
        if fs:
            # live's keys checked against the set (a hashed set can answer membership, not list its keys)
            for key, lv in l.items():
                if key in d or key not in fs:
                    continue
                p = path + (key,)
                if _identity(p) or self.ignore.ignored(p):
                    continue
                yield from self.remove_gone(fs[key], lv, p, label + (_key_label(key),))

    def walk_keyed(self, rule: MergeRule, d: list, l: list, fs: Any, path: tuple, label: tuple) -> Iterator[tuple[dict, tuple]]:
        owned = fs.get(rule.marker) if isinstance(fs, Mapping) else None
        owned = owned if isinstance(owned, Mapping) else None
        live_at: dict[str, list[int]] = {}
        for i, item in enumerate(l):
            t = rule.token(item)
            if t is not None:
                live_at.setdefault(t, []).append(i)
        if rule.ordered:
            replacement = self.reorder(rule, d, l, owned, path)
            if replacement is not None:
                yield _op("replace", path, replacement), label
                return
        wanted: set[str] = set()
        appends: list[Any] = []
        for item in d:
            t = rule.token(item)
            assert t is not None  # keyed() checked every item
            wanted.add(t)
            at = live_at.get(t)
            if not at:
                appends.append(item)
                continue
            p = path + (at[0],)
            if self.ignore.ignored(p):
                continue
            yield from self.walk(item, l[at[0]], owned.get(t) if owned else None, p, label + (rule.label(item),))
        removals: set[int] = set()
        for t in owned or ():
            if t not in wanted:
                removals.update(i for i in live_at.get(t, ()) if not self.ignore.ignored(path + (i,)))
        for i in sorted(removals, reverse=True):
            yield _op("remove", path + (i,)), label + (rule.label(l[i]),)
        index = len(l) - len(removals)
        for item in appends:
            p = path + (index,)
            if self.ignore.ignored(p):
                continue
            yield _op("add", path + ("-",), self.compose(item, MISSING, p)), label + (rule.label(item),)
            index += 1

    def reorder(self, rule: MergeRule, d: list, l: list, owned: Mapping | None, path: tuple) -> list | None:
        """For an ordered keyed list: the whole new list when item-by-item ops would leave the desired
        items out of order (a new item in front, or a reordering); None when they keep the order.

        The new list is the desired items in order, then the items other tools added, in live order.
        """
        if self.ignore.below(path):
            return None  # ignored fields inside: never rewrite the list whole
        tokens = [rule.token(item) for item in d]
        wanted = set(tokens)
        present = {rule.token(item) for item in l}
        gone = {t for t in owned or () if t not in wanted}
        kept = [t for t in (rule.token(item) for item in l) if t in wanted]
        if kept + [t for t in tokens if t not in present] == tokens:
            return None
        live_by = {rule.token(item): item for item in l}
        ours = [self.compose(item, live_by.get(t, MISSING), path + (i,)) for i, (t, item) in enumerate(zip(tokens, d))]
        foreign = [copy.deepcopy(item) for item in l if rule.token(item) not in wanted and rule.token(item) not in gone]
        return ours + foreign

    def remove_gone(self, owned: Any, lv: Any, path: tuple, label: tuple) -> Iterator[tuple[dict, tuple]]:
        """Remove what kubesync set at `path`, now gone from the desired state.

        A struct goes whole (with the defaults the server put inside it); a free-form map or a keyed list
        loses only the keys/items kubesync set, since other tools add their own.
        """
        if self.ignore.ignored(path):
            return
        fields = fields_of(path)
        granular = self.free_form(fields) and not (self.schema is not None and self.schema.atomic_map(fields))
        if isinstance(lv, dict) and (len(path) == 1 or fields[-1] == "metadata" or granular or self.ignore.below(path)):
            if isinstance(owned, Mapping):
                for key, child in lv.items():
                    if key in owned:
                        yield from self.remove_gone(owned[key], child, path + (key,), label + (_key_label(key),))
            return
        if isinstance(lv, list):
            rule = self.rule_at(fields)
            items = owned.get(rule.marker) if rule is not None and isinstance(owned, Mapping) else None
            if isinstance(items, Mapping):
                gone = [i for i, item in enumerate(lv) if rule.token(item) in items and not self.ignore.ignored(path + (i,))]  # type: ignore[union-attr]
                for i in sorted(gone, reverse=True):
                    yield _op("remove", path + (i,)), label + (rule.label(lv[i]),)  # type: ignore[union-attr]
                return
            if self.ignore.below(path):
                return  # an atomic list holding an ignored field: leave it rather than remove that field
        yield _op("remove", path), label

    def compose(self, d: Any, l: Any, path: tuple) -> Any:
        """The value to write at `path`: desired, except ignored fields, which keep their live value."""
        if not self.ignore.below(path):
            return copy.deepcopy(d)
        if isinstance(d, dict):
            live_map = l if isinstance(l, dict) else {}
            out: dict = {}
            for key, value in d.items():
                p = path + (key,)
                if self.ignore.ignored(p):
                    if key in live_map:
                        out[key] = copy.deepcopy(live_map[key])
                    continue
                out[key] = self.compose(value, live_map.get(key, MISSING), p)
            for key, value in live_map.items():
                if key not in d and self.ignore.ignored(path + (key,)):
                    out[key] = copy.deepcopy(value)
            return out
        if isinstance(d, list):
            live_list = l if isinstance(l, list) else []
            items = []
            for i, value in enumerate(d):
                p = path + (i,)
                lv = live_list[i] if i < len(live_list) else MISSING
                if self.ignore.ignored(p):
                    if lv is not MISSING:
                        items.append(copy.deepcopy(lv))
                    continue
                items.append(self.compose(value, lv, p))
            return items
        return copy.deepcopy(d)
