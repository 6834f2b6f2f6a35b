"""apiVersion + kind -> ResourceType, from the server's discovery documents.

Group-versions are fetched lazily, once per run each, so a sync touching three kinds costs three
small requests rather than the 20+ of a full discovery walk. The kinds' OpenAPI schemas (list and map
rules for the diff) come from cluster/openapi.py, cached on disk.
"""

from __future__ import annotations

import logging
import threading

from typing import Iterable

from kubesync import errors
from kubesync.cluster import API
from kubesync.cluster.openapi import SchemaCache
from kubesync.diff.schema import KindSchema
from kubesync.model import ResourceType, split_api_version

log = logging.getLogger(__name__)


class Discovery:
    def __init__(self, cluster: API, schema_cache: SchemaCache | None = None):
        self.cluster = cluster
        self._by_gv: dict[str, dict[str, ResourceType] | None] = {}
        self._lock = threading.Lock()
        self._schemas = schema_cache
        self._capabilities: list[tuple[str, tuple[str, ...]]] = []  # one item once asked; shared by views

    def schemas(self, rtypes: Iterable[ResourceType]) -> dict[tuple[str, str], KindSchema]:
        """(apiVersion, kind) -> the list and map rules of the server's schema (cluster/openapi.py)."""
        if self._schemas is None:
            self._schemas = SchemaCache(self.cluster)
        return self._schemas.schemas(rtypes)

    def server_version(self) -> tuple[int, int] | None:
        """The API server's (major, minor), kept with the schemas' index (None when it cannot be read)."""
        if self._schemas is None:
            self._schemas = SchemaCache(self.cluster)
        return self._schemas.server_version()

    def _load(self, api_version: str) -> dict[str, ResourceType] | None:
        with self._lock:
            if api_version in self._by_gv:
                return self._by_gv[api_version]
        group, version = split_api_version(api_version)
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc = self.cluster.read(path)
        except errors.ClusterNotFound:
            doc = None
        kinds = None if doc is None else parse_resource_list(group, version, doc)
        with self._lock:
            self._by_gv[api_version] = kinds
        return kinds

    def resource_for(self, api_version: str, kind: str) -> ResourceType | None:
        """The resource type serving this kind, or None when the cluster does not know it."""
        kinds = self._load(api_version)
        return None if kinds is None else kinds.get(kind)

    def kinds(self, api_version: str) -> list[str] | None:
        """The kinds a group-version serves (None when the cluster does not serve the group-version)."""
        kinds = self._load(api_version)
        return None if kinds is None else sorted(kinds)

    def sharing(self, cluster: API) -> "Discovery":
        """A Discovery that asks through `cluster` (one sync's view of the connection) and shares
        what this one learned, and its schemas, with every other view."""
        if self._schemas is None:
            self._schemas = SchemaCache(self.cluster)
        other = Discovery(cluster, self._schemas)
        other._by_gv, other._lock, other._capabilities = self._by_gv, self._lock, self._capabilities
        return other

    def capabilities(self) -> tuple[str, tuple[str, ...]]:
        """(the server's gitVersion, every group-version it serves): what Helm's `.Capabilities` reports
        (`--kube-version`, `--api-versions`). Three requests, once, then kept until `invalidate()`."""
        with self._lock:
            if self._capabilities:
                return self._capabilities[0]
        version = str(self.cluster.version().get("gitVersion") or "")
        core = self.cluster.read("/api").get("versions") or []
        groups = self.cluster.read("/apis").get("groups") or []
        served = [str(v) for v in core] + [str(v.get("groupVersion")) for g in groups for v in g.get("versions") or ()
                                           if isinstance(v, dict) and v.get("groupVersion")]
        found = (version, tuple(sorted(set(served))))
        with self._lock:
            self._capabilities[:] = [found]
        return found

    def invalidate(self, api_version: str | None = None) -> None:
        """Forget what we know (after a CRD was created, its group-version appears)."""
        with self._lock:
            if api_version is None:
                self._by_gv.clear()
                self._capabilities.clear()
            else:
                self._by_gv.pop(api_version, None)


def parse_resource_list(group: str, version: str, doc: dict) -> dict[str, ResourceType]:
    """A discovery APIResourceList -> kind -> ResourceType (subresources folded into their parent)."""
    resources = doc.get("resources") or []
    scalable = {r["name"].split("/")[0] for r in resources if r.get("name", "").endswith("/scale")}
    out: dict[str, ResourceType] = {}
    for r in resources:
        name = r.get("name", "")
        if "/" in name:
            continue
        out[r["kind"]] = ResourceType(
            group=group,
            version=version,
            kind=r["kind"],
            plural=name,
            namespaced=bool(r.get("namespaced")),
            verbs=tuple(r.get("verbs") or ()),
            has_scale=name in scalable,
        )
    return out
