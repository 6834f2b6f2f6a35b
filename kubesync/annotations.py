"""The annotations kubesync reads beside its own: Argo CD's, Flux's and Helm's, so an application
migrated from either tool behaves as it did there, or says why not.

Pure: an object's annotations in, what they mean out. Three outcomes per annotation value:

    honoured            -> an `Option`, a hook phase, a delete policy or a wave the planner acts on
    recognised only     -> `unhonoured()`: a warning the plan prints naming the object
    unknown             -> `problems()`: an error at load, with the file and line (manifests.py)

Hooks (PreSync, Sync, PostSync, SyncFail) follow Argo CD (gitops-engine `pkg/sync/hook`): an Argo CD
or kubesync hook annotation wins over Helm's, which is mapped (pre-install/pre-upgrade -> PreSync,
post-install/post-upgrade -> PostSync, `crd-install` -> an ordinary object, other Helm hooks -> never
run). A hook without a delete policy gets BeforeHookCreation, as in Argo CD.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Mapping

KUBESYNC_WAVE = "kubesync.io/wave"
KUBESYNC_HOOK = "kubesync.io/hook"
KUBESYNC_HOOK_DELETE_POLICY = "kubesync.io/hook-delete-policy"
ARGO_HOOK = "argocd.argoproj.io/hook"
ARGO_HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
ARGO_SYNC_WAVE = "argocd.argoproj.io/sync-wave"
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ARGO_COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
HELM_HOOK = "helm.sh/hook"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_SSA = "kustomize.toolkit.fluxcd.io/ssa"
FLUX_FORCE = "kustomize.toolkit.fluxcd.io/force"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"

PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL, SKIP = "PreSync", "Sync", "PostSync", "SyncFail", "Skip"
PHASES = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL)
BEFORE_HOOK_CREATION, HOOK_SUCCEEDED, HOOK_FAILED = "BeforeHookCreation", "HookSucceeded", "HookFailed"
DELETE_POLICIES = (BEFORE_HOOK_CREATION, HOOK_SUCCEEDED, HOOK_FAILED)

# Argo CD hooks that only run when an Application is deleted: kubesync has no such event.
ARGO_NOT_RUN = ("PreDelete", "PostDelete")
HELM_RUN = {"pre-install": PRE_SYNC, "pre-upgrade": PRE_SYNC, "post-install": POST_SYNC, "post-upgrade": POST_SYNC}
HELM_NOT_RUN = ("pre-delete", "post-delete", "pre-rollback", "post-rollback", "test", "test-success", "test-failure")
HELM_CRD = "crd-install"  # Helm 2's CRD marker: an ordinary object
HELM_DELETE = {"before-hook-creation": BEFORE_HOOK_CREATION, "hook-succeeded": HOOK_SUCCEEDED, "hook-failed": HOOK_FAILED}


class Option(enum.StrEnum):
    """What a sync option or a Flux annotation asks of one object (the planner's and the applier's words)."""

    NO_PRUNE = "no-prune"  # Prune=false, Flux prune: disabled
    PRUNE_CONFIRM = "prune-confirm"  # Prune=confirm: never pruned by the daemon; `apply` asks
    NO_DELETE = "no-delete"  # Delete=false: left behind when the sync itself is deleted
    PRUNE_LAST = "prune-last"  # PruneLast=true: deleted after every other deletion
    REPLACE = "replace"  # Replace=true: updated with a PUT of the whole object (kubectl replace)
    FORCE = "force"  # Force=true, Flux force: Enabled: re-created on an immutable change, also unattended
    SKIP_DRY_RUN_ON_MISSING = "skip-dry-run-on-missing"  # SkipDryRunOnMissingResource=true
    NO_VALIDATE = "no-validate"  # Validate=false: no server dry run of it
    IGNORE_EXTRANEOUS = "ignore-extraneous"  # compare-options IgnoreExtraneous: not shown as would-be-pruned
    IF_NOT_PRESENT = "if-not-present"  # Flux ssa: IfNotPresent: created when missing, never updated
    IGNORE = "ignore"  # Flux ssa: Ignore: never created nor updated


# argocd.argoproj.io/sync-options, item by item: honoured, the default (nothing to do), or known to Argo CD but
# not done here (the warning's words). Any other item is an error.
SYNC_OPTIONS: dict[str, Option | None] = {
    "Prune=false": Option.NO_PRUNE, "Prune=confirm": Option.PRUNE_CONFIRM, "Delete=false": Option.NO_DELETE,
    "PruneLast=true": Option.PRUNE_LAST, "Replace=true": Option.REPLACE, "Force=true": Option.FORCE,
    "SkipDryRunOnMissingResource=true": Option.SKIP_DRY_RUN_ON_MISSING, "Validate=false": Option.NO_VALIDATE,
    **dict.fromkeys(("Prune=true", "Delete=true", "PruneLast=false", "Replace=false", "Force=false",
                     "SkipDryRunOnMissingResource=false", "Validate=true", "ServerSideApply=false"), None),
}
SYNC_OPTIONS_UNHONOURED = {
    "ServerSideApply=true": "server-side apply is not supported yet; applied with kubesync's own three-way merge",
    "Delete=confirm": "kubesync has no confirmation of a sync's deletion; treated as Delete=true",
}
# Items Argo CD reads from an Application's syncPolicy only (an object's annotation does nothing there either).
APPLICATION_OPTIONS = ("ApplyOutOfSyncOnly", "CreateNamespace", "PrunePropagationPolicy", "RespectIgnoreDifferences",
                       "FailOnSharedResource", "ClientSideApplyMigration")
COMPARE_OPTIONS: dict[str, Option] = {"IgnoreExtraneous": Option.IGNORE_EXTRANEOUS, "IgnoreNeedsPruning": Option.IGNORE_EXTRANEOUS}
COMPARE_OPTIONS_UNHONOURED = ("ServerSideDiff=true", "ServerSideDiff=false", "IncludeMutationWebhook=true",
                              "IncludeMutationWebhook=false")
FLUX_VALUES: dict[str, dict[str, Option | None]] = {
    FLUX_PRUNE: {"disabled": Option.NO_PRUNE, "enabled": None},
    FLUX_SSA: {"IfNotPresent": Option.IF_NOT_PRESENT, "Ignore": Option.IGNORE, "Override": None, "Merge": None},
    FLUX_FORCE: {"Enabled": Option.FORCE, "Disabled": None},
}

_INTEGER = re.compile(r"\s*[-+]?\d+\s*")


def _items(value: object) -> list[str]:
    """A comma list as Argo CD reads it: items trimmed, empty ones dropped, duplicates once."""
    return list(dict.fromkeys(w.strip() for w in str(value or "").split(",") if w.strip()))


def _text(annotations: Mapping, key: str) -> str | None:
    value = annotations.get(key) if isinstance(annotations, Mapping) else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class HookSpec:
    """What makes an object a hook: the phases it runs in (none: never run), and where that was said."""

    phases: tuple[str, ...]
    said: str
    """The annotation and value, for people: `helm.sh/hook: pre-install,pre-upgrade`."""
    skipped: str = ""
    """Why it never runs ('' when it runs in `phases`)."""


def hook(annotations: Mapping) -> HookSpec | None:
    """The hook an object's annotations make it (None: an ordinary object)."""
    for key in (KUBESYNC_HOOK, ARGO_HOOK):
        value = _text(annotations, key)
        if value is None:
            continue
        items = _items(value)
        phases = tuple(p for p in PHASES if p in items)
        said = f"{key}: {value.strip()}"
        if phases:
            return HookSpec(phases, said)
        if SKIP in items:
            return HookSpec((), said, "Skip: never applied")
        return HookSpec((), said, "runs only when an Argo CD Application is deleted; kubesync never runs it")
    value = _text(annotations, HELM_HOOK)
    items = _items(value)
    if not items or items == [HELM_CRD]:
        return None
    phases = tuple(dict.fromkeys(HELM_RUN[i] for i in items if i in HELM_RUN))
    said = f"{HELM_HOOK}: {value.strip()}"
    return HookSpec(phases, said) if phases else HookSpec((), said, "a Helm hook kubesync never runs (only install and upgrade hooks run)")


def delete_policies(annotations: Mapping) -> tuple[str, ...]:
    """The hook's delete policies (kubesync's, Argo CD's and Helm's together); BeforeHookCreation when none."""
    found: list[str] = []
    for key in (KUBESYNC_HOOK_DELETE_POLICY, ARGO_HOOK_DELETE_POLICY):
        found += [p for p in _items(_text(annotations, key)) if p in DELETE_POLICIES]
    found += [HELM_DELETE[p] for p in _items(_text(annotations, HELM_HOOK_DELETE_POLICY)) if p in HELM_DELETE]
    return tuple(dict.fromkeys(found)) or (BEFORE_HOOK_CREATION,)


def _integer(annotations: Mapping, *keys: str) -> int | None:
    for key in keys:
        value = _text(annotations, key)
        if value is not None and _INTEGER.fullmatch(value):
            return int(value)
    return None


def sync_wave(annotations: Mapping) -> int:
    """Argo CD's wave of an object: `sync-wave`, else `helm.sh/hook-weight` (gitops-engine reads it on any
    object), else 0. Waves order a sync before the kinds do."""
    return _integer(annotations, ARGO_SYNC_WAVE, HELM_HOOK_WEIGHT) or 0


def hook_wave(annotations: Mapping) -> int:
    """A hook's wave inside its phase: Argo CD's `sync-wave`, kubesync's wave, else Helm's weight, else 0."""
    return _integer(annotations, ARGO_SYNC_WAVE, KUBESYNC_WAVE, HELM_HOOK_WEIGHT) or 0


def options(annotations: Mapping) -> frozenset[Option]:
    """Every honoured option an object's annotations ask for."""
    found: set[Option] = set()
    for item in _items(_text(annotations, ARGO_SYNC_OPTIONS)):
        option = SYNC_OPTIONS.get(item)
        if option is not None:
            found.add(option)
    found.update(COMPARE_OPTIONS[i] for i in _items(_text(annotations, ARGO_COMPARE_OPTIONS)) if i in COMPARE_OPTIONS)
    for key, values in FLUX_VALUES.items():
        option = values.get((_text(annotations, key) or "").strip())
        if option is not None:
            found.add(option)
    return frozenset(found)


def unhonoured(annotations: Mapping) -> list[str]:
    """What the annotations ask that kubesync recognises and does not do: one phrase each (the plan's
    warnings prefix the object)."""
    out = []
    for key in (KUBESYNC_HOOK, ARGO_HOOK):
        later = [i for i in _items(_text(annotations, key)) if i in ARGO_NOT_RUN]
        if later and [i for i in _items(_text(annotations, key)) if i in PHASES]:
            out.append(f"{key} {','.join(later)}: runs only when an Argo CD Application is deleted; kubesync never runs it")
    for item in _items(_text(annotations, ARGO_SYNC_OPTIONS)):
        key = item.split("=", 1)[0]
        if item in SYNC_OPTIONS_UNHONOURED:
            out.append(f"{ARGO_SYNC_OPTIONS} {item}: {SYNC_OPTIONS_UNHONOURED[item]}")
        elif key in APPLICATION_OPTIONS:
            out.append(f"{ARGO_SYNC_OPTIONS} {item}: an Application's option, ignored on an object (as in Argo CD)")
    out += [f"{ARGO_COMPARE_OPTIONS} {i}: not supported; ignored" for i in _items(_text(annotations, ARGO_COMPARE_OPTIONS))
            if i in COMPARE_OPTIONS_UNHONOURED]
    if (_text(annotations, FLUX_RECONCILE) or "").strip() == "disabled":
        out.append(f"{FLUX_RECONCILE}: disabled: not supported; the object is synced as any other "
                   f"(use {FLUX_SSA}: Ignore to leave it alone)")
    return out


def _wrong(key: str, value: str, allowed: str) -> str:
    return f"metadata.annotations[{key!r}] {value!r} is not valid: use {allowed}"


def _hook_problems(annotations: Mapping) -> list[str]:
    found = []
    for key in (KUBESYNC_HOOK, ARGO_HOOK):
        value = _text(annotations, key)
        if value is not None:
            bad = [i for i in _items(value) if i not in PHASES + (SKIP,) + ARGO_NOT_RUN]
            if bad or not _items(value):
                found.append(_wrong(key, value, "a comma list of PreSync, Sync, PostSync, SyncFail, Skip"))
    value = _text(annotations, HELM_HOOK)
    if value is not None and [i for i in _items(value) if i not in (*HELM_RUN, *HELM_NOT_RUN, HELM_CRD)]:
        found.append(_wrong(HELM_HOOK, value, "a comma list of Helm hooks (pre-install, post-upgrade, test, ...)"))
    for key, known in ((KUBESYNC_HOOK_DELETE_POLICY, DELETE_POLICIES), (ARGO_HOOK_DELETE_POLICY, DELETE_POLICIES),
                       (HELM_HOOK_DELETE_POLICY, tuple(HELM_DELETE))):
        value = _text(annotations, key)
        if value is not None and (not _items(value) or [i for i in _items(value) if i not in known]):
            found.append(_wrong(key, value, f"a comma list of {', '.join(known)}"))
    return found


def problems(annotations: Mapping) -> list[str]:
    """Unknown values of the annotations kubesync reads: errors at load (the caller adds file, line, object)."""
    found = _hook_problems(annotations)
    for key in (KUBESYNC_WAVE, ARGO_SYNC_WAVE, HELM_HOOK_WEIGHT):
        value = _text(annotations, key)
        if value is not None and not _INTEGER.fullmatch(value):
            found.append(f"metadata.annotations[{key!r}] {value!r} is not a wave: use an integer such as \"5\" "
                         "(lower waves apply first)")
    value = _text(annotations, ARGO_SYNC_OPTIONS)
    if value is not None:
        bad = [i for i in _items(value) if i not in SYNC_OPTIONS and i not in SYNC_OPTIONS_UNHONOURED
               and i.split("=", 1)[0] not in APPLICATION_OPTIONS]
        if bad:
            found.append(_wrong(ARGO_SYNC_OPTIONS, value, "Argo CD's sync options (Prune=false, PruneLast=true, "
                                f"Replace=true, ...); unknown: {', '.join(bad)}"))
    value = _text(annotations, ARGO_COMPARE_OPTIONS)
    if value is not None and [i for i in _items(value) if i not in COMPARE_OPTIONS and i not in COMPARE_OPTIONS_UNHONOURED]:
        found.append(_wrong(ARGO_COMPARE_OPTIONS, value, "IgnoreExtraneous"))
    for key, values in FLUX_VALUES.items():
        value = _text(annotations, key)
        if value is not None and value.strip() not in values:
            found.append(_wrong(key, value, " or ".join(values)))
    value = _text(annotations, FLUX_RECONCILE)
    if value is not None and value.strip() not in ("disabled", "enabled"):
        found.append(_wrong(FLUX_RECONCILE, value, "disabled or enabled"))
    return found
