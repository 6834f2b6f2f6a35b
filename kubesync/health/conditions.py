"""The small helpers every health rule uses (public: the rule modules of this package share them): a Health
with a bounded reason, a status section, an integer field, conditions by type, a condition's reason and
message, generation not yet observed, being deleted, plurals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesync.health.status import PROGRESSING, REASON_LIMIT, Health, HealthStatus


def verdict(status: HealthStatus, reason: str) -> Health:
    """Build a Health whose reason is one line of bounded length (controller messages may hold newlines)."""
    text = " ".join(str(reason).split())
    return Health(status, text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…")


def section(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} is a {type(value).__name__}, not an object")
    return value


def as_int(value: Any, default: int = 0) -> int:
    """An integer field; absent means the API's default (status counts are omitted when zero)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def conditions_of(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """status.conditions by type (the last one wins if a controller wrote a type twice)."""
    return by_type(status.get("conditions"))


def by_type(conditions: Any) -> dict[str, Mapping[str, Any]]:
    if conditions is None:
        return {}
    if not isinstance(conditions, list):
        raise TypeError(f"conditions is a {type(conditions).__name__}, not a list")
    return {str(c.get("type")): c for c in conditions if isinstance(c, Mapping)}


def has_status(condition: Mapping[str, Any] | None, value: str) -> bool:
    return condition is not None and condition.get("status") == value


def explain(condition: Mapping[str, Any] | None, fallback: str = "") -> str:
    """'Reason: message' from a condition (or a waiting/terminated state), whichever parts are set."""
    if not condition:
        return fallback
    parts = [str(p) for p in (condition.get("reason"), condition.get("message")) if p]
    return ": ".join(parts) or fallback


def unobserved(obj: Mapping[str, Any], *, required: bool = True) -> Health | None:
    """Progressing while the controller has not yet seen the latest spec (metadata.generation).

    required=False is for custom resources: many controllers never write observedGeneration, so its
    absence says nothing there; built-in workload controllers always write it.
    """
    status = section(obj, "status")
    if not required and "observedGeneration" not in status:
        return None
    generation = as_int(section(obj, "metadata").get("generation"))
    observed = as_int(status.get("observedGeneration"))
    if generation > observed:
        return Health(PROGRESSING, f"waiting for the controller to observe generation {generation}")
    return None


def being_deleted(obj: Mapping[str, Any]) -> Health | None:
    meta = section(obj, "metadata")
    if not meta.get("deletionTimestamp"):
        return None
    what = str(obj.get("kind") or "object").lower()
    finalizers = meta.get("finalizers") or []
    waiting = f" (waiting for finalizers: {', '.join(map(str, finalizers))})" if finalizers else ""
    return verdict(PROGRESSING, f"{what} is being deleted{waiting}")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
