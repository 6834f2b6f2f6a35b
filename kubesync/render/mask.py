"""Secret masking in rendered plans: objects and patches are copied with every Secret value replaced
by a marker that says what happened to the value and nothing about the value itself:

    *** (unchanged)   the same on both sides          *** (added)     only on the new side
    *** (changed)     the new side of a changed value  *** (removed)   only on the old side
    ***               the old side of a changed value, or a value shown on its own

No marker carries a hash: a short hash of a PIN is brute-forced in under a second, and Markdown
plans go into pull-request comments. The old side of a change is a bare ``***`` so that a diff
still shows a ``-`` line and a ``+`` line for it.

Redaction of free text (errors, logs, server messages) is ``kubesync.secrets``'s job.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from kubesync.model import LAST_APPLIED_ANNOTATION, KubeObject, ObjectRef, json_copy
from kubesync.secrets import PLACEHOLDER, VALUE_FIELDS, secret_bytes, secret_values
from kubesync.vocab import is_secret, parse_pointer

CHANGED = "*** (changed)"
UNCHANGED = "*** (unchanged)"
ADDED = "*** (added)"
REMOVED = "*** (removed)"
KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations that hold a copy of the whole Secret (values included): masked as one value.
MASKED_ANNOTATIONS = (KUBECTL_LAST_APPLIED, LAST_APPLIED_ANNOTATION)
_OP_MARKERS = {"add": ADDED, "replace": CHANGED}  # a `test` op holds the old value: a bare ***


def _same(a: Any, field_a: str, b: Any, field_b: str) -> bool:
    """Equal values, comparing a `data` value with a `stringData` one by their bytes."""
    return a == b if field_a == field_b else secret_bytes(a, field_a) == secret_bytes(b, field_b)


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
