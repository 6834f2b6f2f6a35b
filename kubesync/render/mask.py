"""Secret masking: every renderer routes objects and patches through here before printing.

A masked value shows whether it changed, never what it is: ``*** (sha256:1a2b3c4d)``, the first 8 hex
digits of the SHA-256 of the secret's bytes (``data`` values are base64-decoded first, so a value written
as ``stringData`` and the same value read back as ``data`` get the same marker). The hash is not salted:
the same value must give the same marker before and after so a reviewer sees what changed.

Caveat: a short unsalted hash of a low-entropy value (a PIN, a dictionary word) can be guessed by
brute force. Use ``hashes=False`` for ``***`` / ``*** (changed)`` markers that reveal only the fact
of a change.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from typing import Any, Iterable

from kubesync.model import LAST_APPLIED_ANNOTATION, KubeObject, ObjectRef

PLACEHOLDER = "***"
CHANGED = "*** (changed)"
KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations that hold a copy of the whole Secret (values included): masked as one value.
MASKED_ANNOTATIONS = (KUBECTL_LAST_APPLIED, LAST_APPLIED_ANNOTATION)
VALUE_FIELDS = ("data", "stringData")


def is_secret(what: KubeObject | ObjectRef | None) -> bool:
    """True for a core/v1 Secret, given an object or a ref."""
    if isinstance(what, ObjectRef):
        return what.group == "" and what.kind == "Secret"
    if isinstance(what, dict):
        api_version = str(what.get("apiVersion") or "")
        return what.get("kind") == "Secret" and "/" not in api_version
    return False


def _secret_bytes(value: Any, field: str) -> bytes:
    text = value if isinstance(value, str) else repr(value)
    if field == "data" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    return text.encode("utf-8")


def fingerprint(value: Any, field: str = "stringData") -> str:
    """The first 8 hex digits of sha256 of the secret's bytes (``data`` values decoded from base64)."""
    return hashlib.sha256(_secret_bytes(value, field)).hexdigest()[:8]


def marker(value: Any, field: str = "stringData", *, hashes: bool = True, changed: bool | None = None) -> Any:
    """The placeholder shown instead of ``value``. ``None`` stays ``None`` (it reveals nothing).

    With ``hashes=False`` the marker is ``***``, or ``*** (changed)`` when ``changed`` is true.
    """
    if value is None:
        return None
    if hashes:
        return f"{PLACEHOLDER} (sha256:{fingerprint(value, field)})"
    return CHANGED if changed else PLACEHOLDER


def _lookup(obj: KubeObject | None, field: str, key: str) -> tuple[bool, Any]:
    if not isinstance(obj, dict):
        return False, None
    section = obj.get(field)
    if field == "metadata":
        section = (section or {}).get("annotations") if isinstance(section, dict) else None
    if not isinstance(section, dict) or key not in section:
        return False, None
    return True, section[key]


def mask_secret(obj: KubeObject | None, *, hashes: bool = True, other: KubeObject | None = None) -> KubeObject | None:
    """A copy of ``obj`` with every Secret value replaced by a marker; other kinds are returned as a copy.

    ``other`` is the object on the other side of a diff; it only matters with ``hashes=False``, where
    a value that differs from (or is missing in) ``other`` is marked ``*** (changed)``. Without
    ``other`` nothing is marked changed.
    """
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    if not is_secret(obj):
        return out

    def changed(field: str, key: str, value: Any) -> bool:
        if other is None:
            return False
        present, old = _lookup(other, field, key)
        return not present or old != value

    for field in VALUE_FIELDS:
        section = out.get(field)
        if isinstance(section, dict):
            out[field] = {
                k: marker(v, field, hashes=hashes, changed=changed(field, k, v)) for k, v in section.items()
            }
        elif section is not None:
            out[field] = marker(section, field, hashes=hashes, changed=other is not None and _whole(other, field) != section)
    annotations = (out.get("metadata") or {}).get("annotations") if isinstance(out.get("metadata"), dict) else None
    if isinstance(annotations, dict):
        for key in MASKED_ANNOTATIONS:
            if key in annotations:
                annotations[key] = marker(annotations[key], hashes=hashes, changed=changed("metadata", key, annotations[key]))
    return out


def _whole(obj: KubeObject | None, field: str) -> Any:
    return obj.get(field) if isinstance(obj, dict) else None


def mask_pair(before: KubeObject | None, after: KubeObject | None, *, hashes: bool = True) -> tuple[KubeObject | None, KubeObject | None]:
    """Mask both sides of a diff consistently. With ``hashes=False`` only ``after`` says ``(changed)``,
    and only when there is a ``before`` to differ from (a created Secret is all new anyway)."""
    return mask_secret(before, hashes=hashes), mask_secret(after, hashes=hashes, other=before)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _tokens(path: str) -> list[str]:
    if not path:
        return []
    return [_unescape(t) for t in path.split("/")[1:]]


def _mask_value_at(tokens: list[str], value: Any, hashes: bool, changed: bool) -> Any:
    """Mask ``value`` that sits at ``tokens`` inside a Secret."""
    if not tokens:  # the whole object
        return mask_secret(value, hashes=hashes) if isinstance(value, dict) else marker(value, hashes=hashes, changed=changed)
    head = tokens[0]
    if head in VALUE_FIELDS:
        if len(tokens) == 1:
            if isinstance(value, dict):
                return {k: marker(v, head, hashes=hashes, changed=changed) for k, v in value.items()}
            return marker(value, head, hashes=hashes, changed=changed)
        return marker(value, head, hashes=hashes, changed=changed)
    if head == "metadata":
        rest = tokens[1:]
        if not rest:  # the whole metadata
            if isinstance(value, dict) and isinstance(value.get("annotations"), dict):
                value = copy.deepcopy(value)
                value["annotations"] = _mask_annotations(value["annotations"], hashes, changed)
            return value
        if rest == ["annotations"]:
            return _mask_annotations(value, hashes, changed) if isinstance(value, dict) else value
        if len(rest) >= 2 and rest[0] == "annotations" and rest[1] in MASKED_ANNOTATIONS:
            return marker(value, hashes=hashes, changed=changed)
    return value


def _mask_annotations(annotations: dict, hashes: bool, changed: bool) -> dict:
    out = dict(annotations)
    for key in MASKED_ANNOTATIONS:
        if key in out:
            out[key] = marker(out[key], hashes=hashes, changed=changed)
    return out


def mask_patch(ref: ObjectRef, patch: Iterable[dict], *, hashes: bool = True) -> tuple[dict, ...]:
    """A copy of an RFC 6902 patch with values that land in a Secret's data, stringData or
    last-applied annotations replaced by markers. Patches of other kinds are returned unchanged.
    ``move``/``copy`` ops carry no values and pass as they are."""
    ops = tuple(copy.deepcopy(dict(op)) for op in patch)
    if not is_secret(ref):
        return ops
    for op in ops:
        if "value" in op:
            op["value"] = _mask_value_at(_tokens(str(op.get("path", ""))), op["value"], hashes, op.get("op") != "test")
    return ops


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
                if not isinstance(value, str) or not value:
                    continue
                found.add(value)
                raw = _secret_bytes(value, field)
                found.add(base64.b64encode(raw).decode("ascii"))
                try:
                    found.add(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
    return found


MIN_REDACT = 6  # shorter values would mangle ordinary words in free text


def redact(text: str, values: Iterable[str]) -> str:
    """Belt and braces for free text (warnings, notes) that might quote a Secret value."""
    for value in sorted((v for v in values if len(v) >= MIN_REDACT), key=len, reverse=True):
        if value in text:
            text = text.replace(value, PLACEHOLDER)
    return text


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
