"""Pure: what keeps a prune safe. Each guard has its own explicit flag: an empty source (--allow-empty),
deleting more than max_prune of what the sync owns (--force), a prune from another source than the one
the inventory was written from (--adopt-source). And which live objects the sync owns: in its
inventory with the recorded uid, or recorded as pending (written before an apply's creates, so an
apply cut short by kill -9 or an outage leaves nothing the next prune cannot see) and written by
kubesync.
"""

from __future__ import annotations

from typing import Iterable

from kubesync.errors import PlanRefused
from kubesync.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, InventoryEntry, KubeObject
from kubesync.settings import PlanSettings

ADOPT_ANNOTATION = "kubesync.io/adopt"  # "true" on a desired object: take over the live one of that name

PENDING = ""  # an inventory entry's uid before its create's answer came back
FIELD_MANAGER = "kubesync"  # the manager of kubesync's writes (its User-Agent), as managedFields records it


def written_by_kubesync(live: KubeObject) -> bool:
    """Whether kubesync wrote the object (a managedFields entry of its own)."""
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return any(isinstance(e, dict) and e.get("manager") == FIELD_MANAGER for e in entries)


def owned_uid(recorded: str | None, live: KubeObject) -> str | None:
    """The uid the inventory vouches for: the recorded one, or, for a pending entry, the live object's when
    kubesync wrote it (None: not owned)."""
    if recorded == PENDING and written_by_kubesync(live):
        return (live.get("metadata") or {}).get("uid")
    return recorded


def owned_count(managed_live: dict[tuple, KubeObject], inventory: Iterable[InventoryEntry]) -> int:
    """How many live objects the sync owns: in its inventory, with the recorded uid."""
    uids = {e.ref.key: e.uid for e in inventory}
    return sum(1 for key, o in managed_live.items()
               if key in uids and (owned_uid(uids[key], o) or None) == (o.get("metadata") or {}).get("uid"))


def check_prune_safety(n_desired: int, deletions: int, owned: int, settings: PlanSettings) -> None:
    """Refuse the deletions a broken or emptied source would cause; each guard has its own explicit flag."""
    if not deletions:
        return
    if n_desired == 0 and not settings.allow_empty:
        raise PlanRefused(
            f"the desired state is empty and pruning would delete all {deletions} object(s) of sync "
            f"{settings.sync!r}; refusing (an empty or broken source must not wipe a cluster). "
            "Pass --allow-empty if you really mean it."
        )
    if n_desired and owned and deletions / owned > settings.max_prune and not settings.force:
        raise PlanRefused(
            f"pruning would delete {deletions} of {owned} object(s) of sync {settings.sync!r} "
            f"({deletions / owned:.0%}, more than the allowed {settings.max_prune:.0%}); refusing. "
            "Pass --force, or raise --max-prune, if this is intended."
        )


def same_source(recorded: str, settings: PlanSettings) -> bool:
    """Whether the inventory was written from this source (or nothing was recorded)."""
    return not recorded or not settings.source or recorded == settings.source or recorded in settings.source_aliases


def check_prune_source(recorded: str, settings: PlanSettings) -> None:
    """Two sources sharing a sync name (two repositories' `manifests/` folders) must not prune each other."""
    if not same_source(recorded, settings) and not settings.adopt_source:
        raise PlanRefused(
            f"sync {settings.sync!r} was applied from {recorded}, not from this source ({settings.source}); "
            "refusing to prune objects another source owns. Give this source its own --name, or pass "
            "--adopt-source if the sync really moved here."
        )


def source_after(recorded: str, settings: PlanSettings) -> str:
    """The source the inventory records after this run: the first one, until a prune with --adopt-source
    moves it; an older form of this source's identity is replaced by the current one."""
    if not same_source(recorded, settings) and not (settings.prune and settings.adopt_source):
        return recorded
    return settings.source or recorded


def squatted(live: KubeObject, key: tuple, recorded) -> bool:
    """Labelled as this sync's (the caller checked the sync label) but in none of its inventory's entries,
    pending ones included: a label is no claim, anyone who may create objects can set it."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    return recorded is not None and key not in recorded and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def adoption_asked(desired: KubeObject, settings: PlanSettings) -> bool:
    """--adopt, or the source's own `kubesync.io/adopt: "true"` on the object (never the live object's)."""
    annotations = (desired.get("metadata") or {}).get("annotations") or {}
    return settings.adopt or str(annotations.get(ADOPT_ANNOTATION, "")).lower() == "true"


def kept_by_adoption(live: KubeObject, desired: KubeObject) -> str:
    """What taking over a live object keeps that the source does not say: extra containers, owner references."""
    def containers(obj: KubeObject) -> dict[str, set[str]]:
        spec = obj.get("spec") or {}
        pod = ((spec.get("template") or {}).get("spec") or {}) if "template" in spec else spec
        return {f: {c.get("name") for c in pod.get(f) or () if isinstance(c, dict)} for f in ("initContainers", "containers")}

    mine, theirs = containers(desired), containers(live)
    extra = [f"{f} {', '.join(sorted(str(n) for n in theirs[f] - mine[f]))}" for f in theirs if theirs[f] - mine[f]]
    owners = [f"{o.get('kind')}/{o.get('name')}" for o in (live.get("metadata") or {}).get("ownerReferences") or ()
              if isinstance(o, dict)]
    kept = extra + ([f"ownerReferences {', '.join(owners)}"] if owners else [])
    return f"adopting keeps what the source does not set: {'; '.join(kept)}" if kept else ""
