"""Pure: every request kubesync sends to the Kubernetes API, built from typed arguments.

The one place that turns (verb, resource type, namespace, name, options) into a method, a path, a
query and a body (the model: lightkube's `GenericClient.prepare_request`). `api.Client` sends what
these functions build; nothing else composes a path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

from kubesync.model import Cascade, KubeObject, PatchType, ResourceType

JSON = "application/json"
PAGE_SIZE = 500
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class FieldValidation(str, enum.Enum):
    """How the server treats unknown or duplicate fields in a write (the API's own values)."""

    STRICT = "Strict"
    WARN = "Warn"
    IGNORE = "Ignore"


@dataclass(frozen=True)
class Preconditions:
    """A delete happens only to this exact object (the API's `preconditions`)."""

    uid: str = ""
    resource_version: str = ""

    def body(self) -> dict:
        out = {}
        if self.uid:
            out["uid"] = self.uid
        if self.resource_version:
            out["resourceVersion"] = self.resource_version
        return out


@dataclass(frozen=True)
class Request:
    """One API request, ready to send."""

    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None
    content_type: str = JSON

    @property
    def dry_run(self) -> bool:
        return bool(self.query.get("dryRun"))

    @property
    def is_write(self) -> bool:
        """A write that changes the cluster (a dry run changes nothing)."""
        return self.method in WRITE_METHODS and not self.dry_run


def _segment(text: str) -> str:
    return quote(str(text), safe="")


def path(rtype: ResourceType, namespace: str = "", name: str = "", subresource: str = "") -> str:
    """The REST path of a collection, or of one object (and one of its subresources)."""
    base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    if rtype.namespaced and namespace:
        base += f"/namespaces/{_segment(namespace)}"
    base += f"/{rtype.plural}"
    if name:
        base += f"/{_segment(name)}"
        if subresource:
            base += f"/{subresource}"
    return base


def _write_query(dry_run: bool, field_validation: FieldValidation | None) -> dict[str, str]:
    query = {"dryRun": "All"} if dry_run else {}
    if field_validation is not None:
        query["fieldValidation"] = FieldValidation(field_validation).value
    return query


def _where(obj: KubeObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def get(rtype: ResourceType, namespace: str, name: str, subresource: str = "") -> Request:
    return Request("GET", path(rtype, namespace, name, subresource))


def list_page(rtype: ResourceType, namespace: str = "", selector: str | None = None, token: str | None = None,
              limit: int = PAGE_SIZE) -> Request:
    """One page of a LIST; `token` is the previous page's `continue`."""
    query = {k: v for k, v in (("limit", limit), ("labelSelector", selector), ("continue", token)) if v}
    return Request("GET", path(rtype, namespace), query)


def watch(rtype: ResourceType, namespace: str, selector: str | None, resource_version: str, timeout: float) -> Request:
    """A watch from `resource_version`, with bookmarks, closed by the server after `timeout` seconds."""
    query = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
             "timeoutSeconds": int(timeout)}
    if selector:
        query["labelSelector"] = selector
    return Request("GET", path(rtype, namespace), query)


def create(rtype: ResourceType, obj: KubeObject, *, dry_run: bool = False,
           field_validation: FieldValidation | None = None) -> Request:
    namespace, _ = _where(obj)
    return Request("POST", path(rtype, namespace), _write_query(dry_run, field_validation), obj)


def put(rtype: ResourceType, obj: KubeObject, *, dry_run: bool = False,
        field_validation: FieldValidation | None = None) -> Request:
    """Replace a whole object (its resourceVersion, when set, is the precondition)."""
    namespace, name = _where(obj)
    return Request("PUT", path(rtype, namespace, name), _write_query(dry_run, field_validation), obj)


def patch(rtype: ResourceType, namespace: str, name: str, body: Any, patch_type: PatchType, *, subresource: str = "",
          dry_run: bool = False, field_validation: FieldValidation | None = None) -> Request:
    return Request("PATCH", path(rtype, namespace, name, subresource), _write_query(dry_run, field_validation),
                   body, PatchType(patch_type).value)


def delete(rtype: ResourceType, namespace: str, name: str, *, cascade: Cascade = Cascade.BACKGROUND,
           preconditions: Preconditions | None = None, dry_run: bool = False) -> Request:
    body: dict[str, Any] = {"propagationPolicy": Cascade(cascade).value}
    if preconditions is not None and preconditions.body():
        body["preconditions"] = preconditions.body()
    return Request("DELETE", path(rtype, namespace, name), _write_query(dry_run, None), body)


def read_path(api_path: str, query: Mapping[str, Any] | None = None) -> Request:
    """A GET of a path that is not a resource: /version, discovery (/api, /apis/...), /openapi."""
    return Request("GET", api_path, dict(query or {}))
