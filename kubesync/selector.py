"""Pure: Kubernetes label selectors (`-l`), parsed once and matched against an object's labels.

The grammar of `kubectl -l`: comma-separated requirements `key=value`, `key==value`, `key!=value`,
`key in (a,b)`, `key notin (a,b)`, `key` (exists) and `!key` (does not exist); all must hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from kubesync.errors import UsageError

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:(in|notin)\s*\(([^)]*)\)|(==|=|!=)\s*([A-Za-z0-9._-]*))?\s*$")
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # != and notin, as in Kubernetes


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]


def parse(text: str) -> tuple[Requirement, ...]:
    """A selector, or a UsageError naming the part that is not one."""
    out = []
    for part in _split(text or ""):
        if not part.strip():
            raise UsageError(f"-l/--selector {text!r}: empty requirement")
        m = _SET.match(part)
        if not m or not _KEY.match(m.group(2)) or (m.group(1) and (m.group(3) or m.group(5))):
            raise UsageError(f"-l/--selector {text!r}: cannot parse {part.strip()!r} (use key=value, key!=value, key in (a,b), key or !key)")
        bang, key, set_op, set_values, op, value = m.groups()
        if set_op:
            values = frozenset(v.strip() for v in set_values.split(",") if v.strip())
            out.append(Requirement(key, set_op, values))
        elif op:
            out.append(Requirement(key, "!=" if op == "!=" else "=", frozenset({value})))
        else:
            out.append(Requirement(key, "!exists" if bang else "exists"))
    return tuple(out)


def matches(selector: tuple[Requirement, ...], obj: Mapping) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in selector)
