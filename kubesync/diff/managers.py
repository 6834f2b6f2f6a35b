"""Who owns which fields of a live object, read from `metadata.managedFields`.

Two readers: ignore rules naming field managers (an HPA's `spec.replicas` left alone: diff/normalize.py)
and drift attribution (who changed the field the daemon found drifted: daemon/reactor.py). Both
resolve each entry's `fieldsV1` against the live object, so keyed list items (`k:{"name":"web"}`)
become the live indices that JSON pointers and patches use.

Attribution goes by ownership, never by time: the server moves a field to the manager that last
wrote it, so the owner of a drifted path is who changed it, including a write through a subresource
(`kubectl scale` and an HPA write `spec.replicas` through `/scale`: manager `kubectl` or
`kube-controller-manager`, subresource `scale`) and an entry that carries no time. Where the server
recorded nobody but kubesync, the author is unknown, and said so.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from kubesync.vocab import parse_pointer

__all__ = ["FieldManager", "managed_paths", "owned_leaves", "owner", "owner_of_paths"]

_NOTHING = object()
SELF = "kubesync"
"""kubesync's own field manager (the server names it after the User-Agent): never the drift's author."""


@dataclass(frozen=True)
class FieldManager:
    """One managedFields entry, without its field set."""

    manager: str
    subresource: str = ""
    """`scale`, `status`, ... ('' for the main resource; servers before 1.22 never say)."""
    operation: str = ""
    time: str = ""

    def __str__(self) -> str:
        return f"{self.manager} ({self.subresource})" if self.subresource else self.manager


def _entries(live: Any) -> Iterator[tuple[FieldManager, dict]]:
    meta = live.get("metadata") if isinstance(live, dict) else None
    for entry in (meta or {}).get("managedFields") or []:
        if not isinstance(entry, dict):
            continue
        fields = entry.get("fieldsV1")
        yield FieldManager(str(entry.get("manager") or ""), str(entry.get("subresource") or ""),
                           str(entry.get("operation") or ""), str(entry.get("time") or "")), fields if isinstance(fields, dict) else {}


def managed_paths(live: dict, managers: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """The live paths (map keys, list indices) that the named managers (fnmatch patterns) own.

    `fieldsV1` keys: `f:<field>`, `k:<json of the item's keys>`, `v:<json of a set member>`,
    `i:<index>`, and `.` for the node itself. Owned leaves are yielded; list items that no longer exist in
    live are skipped.
    """
    for who, fields in _entries(live):
        if any(fnmatch.fnmatchcase(who.manager, pattern) for pattern in managers):
            yield from owned_leaves(fields, live)


def owned_leaves(fields: dict, live: Any, path: tuple = ()) -> Iterator[tuple]:
    """The leaves of one field set, as paths into `live` (f: paths resolve without live; k:/v:/i: need its list)."""
    for key, child in fields.items():
        if key == "." or not isinstance(key, str) or len(key) < 2 or key[1] != ":":
            continue
        kind, arg = key[0], key[2:]
        step: Any = None
        if kind == "f":
            step = arg
            sub = live.get(arg, _NOTHING) if isinstance(live, dict) else _NOTHING
        elif kind in ("k", "v", "i") and isinstance(live, list):
            step = _find_item(kind, arg, live)
            sub = live[step] if step is not None else _NOTHING
        else:
            continue
        if step is None:
            continue
        here = path + (step,)
        grand = {k: v for k, v in (child or {}).items() if k != "."} if isinstance(child, dict) else {}
        if not grand:
            yield here
        else:
            yield from owned_leaves(grand, sub, here)


def _find_item(kind: str, arg: str, items: list) -> int | None:
    try:
        if kind == "i":
            index = int(arg)
            return index if 0 <= index < len(items) else None
        wanted = json.loads(arg)
    except ValueError:
        return None
    for i, item in enumerate(items):
        if kind == "v" and item == wanted:
            return i
        if kind == "k" and isinstance(wanted, dict) and isinstance(item, dict):
            if all(item.get(k) == v for k, v in wanted.items()):
                return i
    return None


def _claim(leaves: Iterable[tuple], target: tuple[str, ...]) -> int:
    """2: owns the target or an ancestor of it (an atomic value); 1: owns something below it; 0: nothing."""
    best = 0
    n = len(target)
    for leaf in leaves:
        leaf = tuple(str(s) for s in leaf)
        if leaf[:n] == target[:len(leaf)]:
            if len(leaf) <= n:
                return 2
            best = 1
    return best


def owner(live: Any, path: str) -> FieldManager | None:
    """The manager that owns the field at JSON pointer `path` in `live` (or, failing that, a field below it).

    Several owners of one field (shared server-side applies): someone other than kubesync first, then
    the newest; an entry without a time still counts, it only loses such a tie."""
    target = parse_pointer(path)
    claims = []
    for who, fields in _entries(live):
        rank = _claim(owned_leaves(fields, live), target)
        if rank:
            claims.append(((rank, who.manager != SELF, who.time), who))
    return max(claims, key=lambda c: c[0])[1] if claims else None


def owner_of_paths(live: Any, paths: Sequence[str]) -> FieldManager | None:
    """Who changed these drifted paths: the owner of the first one that another manager than kubesync owns.

    None when none is: the server recorded no other writer (a field removed by hand is nobody's, and
    1.20 records no entry for a write through /scale, so kubesync still owns `spec.replicas`). Naming
    the newest writer instead would be a guess presented as a fact."""
    for path in paths:
        found = owner(live, path)
        if found is not None and found.manager != SELF:
            return found
    return None
