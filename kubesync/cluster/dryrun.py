"""Server-side dry runs: what the server would store for an update, with nothing stored."""

from __future__ import annotations

import enum
import logging

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.client import JSON_PATCH
from kubesync.model import Action, KubeObject, ResourceType
from kubesync.vocab import VOLATILE_METADATA, without_metadata

log = logging.getLogger(__name__)

class Verdict(str, enum.Enum):
    """What a dry run of one update said."""

    NO_EFFECT = "no-effect"  # the server would store the object unchanged
    CHANGES = "changes"  # the update does something
    FORBIDDEN = "forbidden"  # our credentials may not patch it: not verified by the server
    FAILED = "failed"  # invalid, gone, unreachable: the real apply reports it


def stored_view(obj: KubeObject | None) -> KubeObject:
    """What an update can change: the object less status and the bookkeeping every write touches."""
    return without_metadata(obj, VOLATILE_METADATA, drop_status=True)


def check_update(cluster: API, rtype: ResourceType, action: Action) -> Verdict:
    """Send the update's patch with dryRun=All and compare the result with the live object.

    No resourceVersion test here: controllers write status all the time, and a change to anything
    but status makes the result differ from what we saw, which keeps the update."""
    try:
        result = cluster.request("PATCH", rtype.path(action.ref.namespace, action.ref.name), body=list(action.patch),
                                 content_type=JSON_PATCH, query={"dryRun": "All"})
    except errors.ClusterUnauthorized as e:
        log.warning("%s: the server dry run of the update was refused (%s); planned without it", action.ref, errors.cut(str(e), 200))
        return Verdict.FORBIDDEN
    except errors.KubesyncError:
        return Verdict.FAILED
    return Verdict.NO_EFFECT if stored_view(result) == stored_view(action.live) else Verdict.CHANGES
