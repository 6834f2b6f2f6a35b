"""Secret masking and redaction: no Secret value leaves the process.

Two tools, one module:

- **Masking** (renderers): objects and patches are copied with every Secret value replaced by a
  marker that says what happened to the value and nothing about the value itself:

      *** (unchanged)   the same on both sides          *** (added)     only on the new side
      *** (changed)     the new side of a changed value  *** (removed)   only on the old side
      ***               the old side of a changed value, or a value shown on its own

  No marker carries a hash: a short hash of a PIN is brute-forced in under a second, and Markdown
  plans go into pull-request comments. The old side of a change is a bare ``***`` so that a diff
  still shows a ``-`` line and a ``+`` line for it.

- **Redaction** (everything else): ``remember()`` is told every Secret the process sees (desired
  manifests, live objects, saved plans); ``redact(text)`` scrubs each of their values, raw and in
  base64, plus credentials in URLs, from any text: errors, log records (``kubesync.logs``), the
  daemon's /readyz and alerts. A server or webhook that quotes a value is scrubbed the same way.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import threading
from typing import Any, Iterable

from kubesync.model import LAST_APPLIED_ANNOTATION, KubeObject, ObjectRef, json_copy
from kubesync.vocab import is_secret, parse_pointer

PLACEHOLDER = "***"
CHANGED = "*** (changed)"
UNCHANGED = "*** (unchanged)"
ADDED = "*** (added)"
REMOVED = "*** (removed)"
KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations that hold a copy of the whole Secret (values included): masked as one value.
MASKED_ANNOTATIONS = (KUBECTL_LAST_APPLIED, LAST_APPLIED_ANNOTATION)
VALUE_FIELDS = ("data", "stringData")
_OP_MARKERS = {"add": ADDED, "replace": CHANGED}  # a `test` op holds the old value: a bare ***


def _secret_bytes(value: Any, field: str) -> bytes:
    text = value if isinstance(value, str) else repr(value)
    if field == "data" and isinstance(value, str):
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            pass
    return text.encode("utf-8")


def _same(a: Any, field_a: str, b: Any, field_b: str) -> bool:
    """Equal values, comparing a `data` value with a `stringData` one by their bytes."""
    return a == b if field_a == field_b else _secret_bytes(a, field_a) == _secret_bytes(b, field_b)


def _lookup(obj: KubeObject | None, key: str) -> tuple[bool, Any, str]:
    """(present, value, field) of a data/stringData key in the other side of a diff."""
    if not isinstance(obj, dict):
        return False, None, ""
    for field in ("stringData", "data"):  # stringData wins on the server
        section = obj.get(field)
        if isinstance(section, dict) and key in section:
            return True, section[key], field
    return False, None, ""


def _marker(value: Any, field: str, other: KubeObject | None, key: str, new_side: bool) -> Any:
    if value is None:
        return None  # null reveals nothing
    if other is None:
        return PLACEHOLDER
    present, old, old_field = _lookup(other, key)
    if not present:
        return ADDED if new_side else REMOVED
    if _same(value, field, old, old_field):
        return UNCHANGED
    return CHANGED if new_side else PLACEHOLDER


def _whole_marker(value: Any, other_value: Any, other: KubeObject | None, new_side: bool) -> Any:
    """The marker of a value masked as one piece (a last-applied annotation, a non-map data)."""
    if value is None:
        return None
    if other is None:
        return PLACEHOLDER
    if other_value is None:
        return ADDED if new_side else REMOVED
    if value == other_value:
        return UNCHANGED
    return CHANGED if new_side else PLACEHOLDER


def mask_secret(obj: KubeObject | None, *, other: KubeObject | None = None, new_side: bool = True) -> KubeObject | None:
    """A copy of ``obj`` with every Secret value replaced by a marker; other kinds come back as a copy.

    ``other`` is the object on the other side of a diff (``new_side`` says which side ``obj`` is);
    without it every value is a bare ``***``.
    """
    if obj is None:
        return None
    out = json_copy(obj)
    if not is_secret(obj):
        return out
    for field in VALUE_FIELDS:
        section = out.get(field)
        if isinstance(section, dict):
            out[field] = {k: _marker(v, field, other, k, new_side) for k, v in section.items()}
        elif section is not None:
            out[field] = _whole_marker(section, _get(other, field), other, new_side)
    annotations = _annotations(out)
    if annotations is not None:
        theirs = _annotations(other) or {}
        for key in MASKED_ANNOTATIONS:
            if key in annotations:
                annotations[key] = _whole_marker(annotations[key], theirs.get(key), other, new_side)
    return out


def _get(obj: KubeObject | None, field: str) -> Any:
    return obj.get(field) if isinstance(obj, dict) else None


def _annotations(obj: KubeObject | None) -> dict | None:
    meta = _get(obj, "metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return annotations if isinstance(annotations, dict) else None


def mask_pair(before: KubeObject | None, after: KubeObject | None) -> tuple[KubeObject | None, KubeObject | None]:
    """Mask both sides of a diff: unchanged values match, changed ones differ (see the module docstring).
    A side without the other (a create, a delete) is all ``added`` or all ``removed``."""
    empty = {"apiVersion": "v1", "kind": "Secret"}
    return (
        mask_secret(before, other=after if after is not None else empty, new_side=False),
        mask_secret(after, other=before if before is not None else empty, new_side=True),
    )


def _tokens(path: str) -> list[str]:
    if not path:
        return []
    return list(parse_pointer(path))


def _mask_value_at(tokens: list[str], value: Any, mark: str) -> Any:
    """Mask ``value`` that sits at ``tokens`` inside a Secret."""
    if not tokens:  # the whole object
        return mask_secret(value) if isinstance(value, dict) else mark
    head = tokens[0]
    if head in VALUE_FIELDS:
        if len(tokens) == 1 and isinstance(value, dict):
            return {k: None if v is None else mark for k, v in value.items()}
        return None if value is None else mark
    if head == "metadata":
        rest = tokens[1:]
        if not rest and isinstance(value, dict) and isinstance(value.get("annotations"), dict):
            return {**value, "annotations": _mask_annotations(value["annotations"], mark)}
        if rest == ["annotations"] and isinstance(value, dict):
            return _mask_annotations(value, mark)
        if len(rest) >= 2 and rest[0] == "annotations" and rest[1] in MASKED_ANNOTATIONS:
            return mark
    return value


def _mask_annotations(annotations: dict, mark: str) -> dict:
    return {k: mark if k in MASKED_ANNOTATIONS else v for k, v in annotations.items()}


def mask_patch(ref: ObjectRef, patch: Iterable[dict]) -> tuple[dict, ...]:
    """A copy of an RFC 6902 patch with values that land in a Secret's data, stringData or
    last-applied annotations replaced by markers (``add`` -> added, ``replace`` -> changed, ``test``
    -> ***). Patches of other kinds are returned unchanged; ``move``/``copy`` carry no values."""
    ops = tuple(copy.deepcopy(dict(op)) for op in patch)
    if not is_secret(ref):
        return ops
    for op in ops:
        if "value" in op:
            mark = _OP_MARKERS.get(str(op.get("op")), PLACEHOLDER)
            op["value"] = _mask_value_at(_tokens(str(op.get("path", ""))), op["value"], mark)
    return ops


# --- redaction of free text -------------------------------------------------------------------

MIN_REDACT = 6  # shorter values would mangle ordinary words in free text


def value_forms(value: str, field: str) -> set[str]:
    """The ways a Secret value can appear in text: as written, raw, and base64 (padded, unpadded, URL-safe)."""
    raw = _secret_bytes(value, field)
    encoded = base64.b64encode(raw).decode("ascii")
    forms = {value, encoded, encoded.rstrip("="), base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")}
    try:
        forms.add(raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return forms


def secret_values(objects: Iterable[KubeObject | None]) -> set[str]:
    """Every raw and base64 form of the values of the Secrets among ``objects``, for `redact`."""
    found: set[str] = set()
    for obj in objects:
        if not is_secret(obj):
            continue
        for field in VALUE_FIELDS:
            section = obj.get(field)  # type: ignore[union-attr]
            if not isinstance(section, dict):
                continue
            for value in section.values():
                if isinstance(value, str) and value:
                    found |= value_forms(value, field)
        for value in (_annotations(obj) or {}).values():
            if isinstance(value, str) and value and any(v in value for v in found):
                found.add(value)  # a last-applied copy of the whole Secret
    return {v for v in found if len(v) >= MIN_REDACT}


class Redactor:
    """The Secret values this process has seen, and one compiled pattern that finds any of them."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def remember(self, objects: Iterable[KubeObject | None]) -> None:
        self.remember_values(secret_values(objects))

    def remember_values(self, values: Iterable[str]) -> None:
        new = {v for v in values if len(v) >= MIN_REDACT} - self._values
        if new:
            with self._lock:
                self._values |= new
                self._pattern = None

    def pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                longest_first = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, longest_first)))
            return self._pattern

    def redact(self, text: str, values: Iterable[str] = ()) -> str:
        from kubesync.sources.spec import redact as redact_urls

        text = str(text)
        extra = sorted((v for v in values if len(v) >= MIN_REDACT and v in text), key=len, reverse=True)
        for value in extra:
            text = text.replace(value, PLACEHOLDER)
        pattern = self.pattern()
        if pattern is not None:
            text = pattern.sub(PLACEHOLDER, text)
        return redact_urls(text)

    def forget(self) -> None:
        """For tests: start from a process that has seen nothing."""
        with self._lock:
            self._values.clear()
            self._pattern = None


REDACTOR = Redactor()
remember = REDACTOR.remember
remember_values = REDACTOR.remember_values


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` without any Secret value this process has seen (nor ``values``), nor URL credentials."""
    return REDACTOR.redact(text, values)


def plan_secret_values(actions: Iterable[Any]) -> set[str]:
    """`secret_values` over every Secret a plan's actions carry: desired, live and patch values."""
    objects: list[KubeObject | None] = []
    for action in actions:
        if not is_secret(action.ref):
            continue
        objects += [action.desired, action.live]
        for op in action.patch:
            tokens = _tokens(str(op.get("path", "")))
            if tokens and tokens[0] in VALUE_FIELDS and "value" in op:
                value = op["value"]
                section = value if isinstance(value, dict) and len(tokens) == 1 else {"v": value}
                objects.append({"apiVersion": "v1", "kind": "Secret", tokens[0]: section})
    return secret_values(objects)
