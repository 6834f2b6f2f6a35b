"""Server-side dry runs: what the server would store for a create or an update, with nothing stored.

Each check is one request with dryRun=All and the run's fieldValidation; its answer is turned into a
`Check` here, where the server's errors and warnings enter. What a check means for the plan is
decided in the pure `kubesync.validate`.
"""

from __future__ import annotations

import logging
import re

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.api import Observer
from kubesync.cluster.requests import FieldValidation
from kubesync.model import Action, Check, KubeObject, PatchType, ResourceType, Verdict
from kubesync.vocab import VOLATILE_METADATA, without_metadata

log = logging.getLogger(__name__)

# `... cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", unknown field "..."`
_STRICT = "strict decoding error:"
_FIELD = re.compile(r'(?:unknown|duplicate) field "((?:[^"\\]|\\.)*)"')


class _Warnings(Observer):
    """The Warning headers of one dry run."""

    def __init__(self):
        self.texts: list[str] = []

    def on_warnings(self, request, warnings) -> None:
        self.texts.extend(warnings)


def strict_fields(message: str) -> tuple[str, ...]:
    """The fields a strict field validation error names (`spec.replica`), in its order; () for other errors."""
    if _STRICT not in message:
        return ()
    return tuple(dict.fromkeys(m.replace('\\"', '"') for m in _FIELD.findall(message.split(_STRICT, 1)[1])))


def stored_view(obj: KubeObject | None) -> KubeObject:
    """What an update can change: the object less status and the bookkeeping every write touches."""
    return without_metadata(obj, VOLATILE_METADATA, drop_status=True)


def _server_reason(e: errors.ClusterError) -> str:
    """The server's own message without our `METHOD /path:` prefix, with each invalid field."""
    message = str((e.body or {}).get("message") or e).strip()
    return errors.cut(message, 600)


def _refused(action: Action, e: errors.KubesyncError, what: str) -> Check:
    fields = strict_fields(str((e.body or {}).get("message") or "")) if isinstance(e, errors.ClusterError) else ()
    if fields and e.status in (400, 422):  # before the immutable test: nothing else is said about the object
        return Check(Verdict.INVALID, errors.cut(", ".join(f'unknown field "{f}"' for f in fields), 600), fields=fields)
    if isinstance(e, errors.ClusterUnauthorized):
        log.warning("%s: the server dry run of the %s was refused (%s); planned without it", action.ref, what, errors.cut(str(e), 200))
        return Check(Verdict.FORBIDDEN, "forbidden")
    if isinstance(e, errors.ClusterError) and e.status in (400, 404, 422):
        reason = _server_reason(e)
        if what == "update" and e.status == 422 and _immutable(e):
            return Check(Verdict.IMMUTABLE, reason)
        return Check(Verdict.INVALID, reason)
    return Check(Verdict.FAILED, errors.cut(str(e), 200))


def _immutable(e: errors.ClusterError) -> bool:
    texts = [str(c.get("message") or "") for c in e.causes] or [str(e)]
    return any("immutable" in t for t in texts)


def check_update(cluster: API, rtype: ResourceType, action: Action, validation: FieldValidation | None = None) -> Check:
    """Send the update's patch with dryRun=All and compare the result with the live object.

    No resourceVersion test here: controllers write status all the time, and a change to anything
    but status makes the result differ from what we saw, which keeps the update."""
    heard = _Warnings()
    try:
        result = cluster.scoped(heard).patch(rtype, action.ref.namespace, action.ref.name, list(action.patch), PatchType.JSON,
                                             dry_run=True, field_validation=validation)
    except errors.KubesyncError as e:
        return _refused(action, e, "update")
    verdict = Verdict.NO_EFFECT if stored_view(result) == stored_view(action.live) else Verdict.CHANGES
    return Check(verdict, warnings=tuple(heard.texts))


def check_create(cluster: API, rtype: ResourceType, action: Action, validation: FieldValidation | None = None) -> Check:
    """Send the create with dryRun=All: validation, defaulting and admission run, nothing is stored."""
    heard = _Warnings()
    try:
        cluster.scoped(heard).create(rtype, action.desired, dry_run=True, field_validation=validation)
    except errors.ClusterConflict as e:  # created by someone since we looked: apply re-diffs it
        return Check(Verdict.FAILED, errors.cut(str(e), 200))
    except errors.KubesyncError as e:
        return _refused(action, e, "create")
    return Check(Verdict.CHANGES, warnings=tuple(heard.texts))
