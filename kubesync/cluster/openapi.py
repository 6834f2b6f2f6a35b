"""The API server's OpenAPI schemas, reduced to diff rules (kubesync.diff.schema.KindSchema), cached on disk.

Only the group-versions a plan touches are read:

    1.27+   GET /openapi/v3 (the index: one hash per group-version), then
            GET /openapi/v3/<group-version>?hash=<hash> for one not cached under that hash.
            Content-addressed: a cached group-version is never stale.
    older   GET /version; built-in group-versions from one GET /openapi/v2 (big, read once per server
            version); custom resources from their CustomResourceDefinition (one GET each).

The index (or the version) is trusted for INDEX_TTL seconds, so a steady-state plan sends no OpenAPI
request at all; a group-version missing from a trusted index (a CRD installed since) reloads it.
The cache lives in $KUBESYNC_CACHE_DIR, else $XDG_CACHE_HOME/kubesync, else ~/.cache/kubesync, under
openapi/<server>/. A schema that cannot be read (no permission, a broken aggregated API) is logged and
the diff falls back to its tables: the plan goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from kubesync import errors
from kubesync.diff.normalize import is_builtin
from kubesync.diff.schema import KindSchema, from_crd, from_json, from_openapi, to_json
from kubesync.cluster import API
from kubesync.model import CRDS, ResourceType

log = logging.getLogger(__name__)

INDEX_TTL = 300.0  # seconds an index or server version is trusted without asking again
FORMAT = 2  # of the cache files: bump when KindSchema or the walk changes (2: the known fields)
Key = tuple[str, str]  # (apiVersion, kind)


def cache_root() -> Path:
    base = os.environ.get("KUBESYNC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubesync")
    return Path(base) / "openapi"


def gv_path(api_version: str) -> str:
    """`v1` -> `api/v1`, `apps/v1` -> `apis/apps/v1`: the index's names."""
    return f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"


class SchemaCache:
    """Per-kind diff rules for one cluster; thread-safe, one instance per Discovery."""

    def __init__(self, cluster: API, root: Path | None = None, ttl: float = INDEX_TTL, clock: Callable[[], float] = time.time):
        self.cluster = cluster
        server = str(cluster.server or "")
        self.dir = (root or cache_root()) / hashlib.sha256(server.encode()).hexdigest()[:16]
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._state: dict | None = None
        self._fresh = False  # the state was fetched by this instance (a missing group-version is then really missing)
        self._by_gv: dict[str, dict[str, KindSchema]] = {}
        self._v2: dict | None = None

    # -- the one entry point -----------------------------------------------------------------------------

    def schemas(self, rtypes: Iterable[ResourceType]) -> dict[Key, KindSchema]:
        """(apiVersion, kind) -> KindSchema for these resource types; kinds without a schema are left out."""
        by_gv: dict[str, dict[str, ResourceType]] = {}
        for rt in rtypes:
            by_gv.setdefault(rt.api_version, {})[rt.kind] = rt
        out: dict[Key, KindSchema] = {}
        with self._lock:
            for api_version, kinds in sorted(by_gv.items()):
                try:
                    found = self._group_version(api_version, kinds)
                except (errors.ClusterError, OSError, ValueError) as e:
                    log.warning("the schema of %s is unavailable (%s); its lists and maps follow kubesync's tables",
                                api_version, str(e)[:200])
                    found = {}
                    self._by_gv[api_version] = found
                for kind, schema in found.items():
                    if kind in kinds and schema:
                        out[(api_version, kind)] = schema
        return out

    def _group_version(self, api_version: str, kinds: dict[str, ResourceType]) -> dict[str, KindSchema]:
        if api_version in self._by_gv:
            return self._by_gv[api_version]
        state = self._current_state()
        if state.get("hashes") is not None:
            found = self._from_v3(state, api_version)
            if not set(kinds) <= set(found) and not self._fresh:
                # a trusted index older than a CRD's (re)published schema: read the index again, once
                self._refresh_state()
                found = self._from_v3(self._state or {}, api_version)
        elif is_builtin(api_version):
            found = self._from_v2(state, api_version)
        else:
            found = self._from_crds(api_version, kinds)
        self._by_gv[api_version] = found
        return found

    def server_version(self) -> tuple[int, int] | None:
        """(major, minor) of the server, kept in the index's state for its TTL (read once per TTL on servers
        with OpenAPI v3, whose state is the index); None when /version cannot be read."""
        with self._lock:
            try:
                state = self._current_state()
            except (errors.ClusterError, OSError, ValueError):
                state = {}
            text = str(state.get("version") or "")
            if not text:
                try:
                    text = str(self.cluster.version().get("gitVersion") or "")
                except errors.ClusterError as e:
                    log.warning("the server's version is unknown (%s)", str(e)[:200])
                    return None
                if self._state is not None:
                    self._state["version"] = text
                    self._write("index.json", self._state)
        m = re.match(r"v?(\d+)\.(\d+)", text)
        return (int(m[1]), int(m[2])) if m else None

    # -- the index / server version ------------------------------------------------------------------------

    def _current_state(self) -> dict:
        if self._state is None:
            cached = self._read("index.json")
            if isinstance(cached, dict) and 0 <= self.clock() - float(cached.get("checked") or 0) < self.ttl:
                self._state = cached
            else:
                self._refresh_state()
        return self._state  # type: ignore[return-value]

    def _refresh_state(self) -> None:
        """Read the v3 index, or (older servers) the version; remember it on disk."""
        try:
            index = self.cluster.read("/openapi/v3")
        except errors.ClusterNotFound:
            index = None
        state: dict[str, Any] = {"checked": self.clock(), "format": FORMAT}
        if isinstance(index, dict) and isinstance(index.get("paths"), dict):
            state["hashes"] = {
                path: _hash_of(entry.get("serverRelativeURL"))
                for path, entry in index["paths"].items() if isinstance(entry, dict)
            }
        else:
            state["version"] = str(self.cluster.version().get("gitVersion") or "unknown")
        self._state, self._fresh = state, True
        self._write("index.json", state)

    # -- OpenAPI v3 ------------------------------------------------------------------------------------------

    def _from_v3(self, state: dict, api_version: str) -> dict[str, KindSchema]:
        path = gv_path(api_version)
        digest = state["hashes"].get(path)
        if digest is None and not self._fresh:
            self._refresh_state()  # a group-version newer than the trusted index: a CRD installed since
            digest = (self._state or {}).get("hashes", {}).get(path)
        if digest is None:
            return {}
        name = f"v3-{_slug(api_version)}-{_slug(digest)}.json"
        cached = self._read_schemas(name) if digest else None
        if cached is not None:
            return cached
        doc = self.cluster.read(f"/openapi/v3/{path}", {"hash": digest} if digest else None)
        found = {kind: s for (gv, kind), s in from_openapi(doc).items() if gv == api_version}
        if digest:  # without a hash, nothing tells a later run whether the document changed
            self._write_schemas(name, found)
        return found

    # -- OpenAPI v2 (1.20 to 1.26) -----------------------------------------------------------------------------

    def _from_v2(self, state: dict, api_version: str) -> dict[str, KindSchema]:
        version = _slug(str(state.get("version") or "unknown"))
        name = f"v2-{version}-{_slug(api_version)}.json"
        cached = self._read_schemas(name)
        if cached is not None:
            return cached
        if self._v2 is None:
            self._v2 = self.cluster.read("/openapi/v2")
            # one big read per server version: every built-in group-version it describes is cached at once
            by_gv: dict[str, dict[str, KindSchema]] = {}
            for (gv, kind), schema in from_openapi(self._v2).items():
                if is_builtin(gv):
                    by_gv.setdefault(gv, {})[kind] = schema
            for gv, found in by_gv.items():
                self._write_schemas(f"v2-{version}-{_slug(gv)}.json", found)
            self._by_gv.update({gv: found for gv, found in by_gv.items() if gv not in self._by_gv})
        return self._by_gv.get(api_version) or {}

    def _from_crds(self, api_version: str, kinds: dict[str, ResourceType]) -> dict[str, KindSchema]:
        """Custom resources on a server without OpenAPI v3: their CRD's schema, cached for the TTL."""
        name = f"crd-{_slug(api_version)}.json"
        data = self._read(name)
        if isinstance(data, dict) and 0 <= self.clock() - float(data.get("checked") or 0) < self.ttl:
            found = _schemas_of(data.get("kinds"))
            if found is not None and set(kinds) <= set(found) | set(data.get("absent") or ()):
                return found
        group = api_version.split("/")[0]
        found = {}
        for kind, rt in kinds.items():
            crd = self.cluster.get(CRDS, "", f"{rt.plural}.{group}")
            found.update({k: s for (gv, k), s in from_crd(crd or {}).items() if gv == api_version})
        absent = sorted(set(kinds) - set(found))  # an aggregated API, not a CRD: nothing to read
        self._write(name, {"checked": self.clock(), "format": FORMAT, "absent": absent,
                           "kinds": {k: to_json(s) for k, s in found.items()}})
        return found

    # -- files -------------------------------------------------------------------------------------------------

    def _read_schemas(self, name: str) -> dict[str, KindSchema] | None:
        data = self._read(name)
        return _schemas_of(data.get("kinds")) if isinstance(data, dict) and data.get("format") == FORMAT else None

    def _write_schemas(self, name: str, found: dict[str, KindSchema]) -> None:
        self._write(name, {"format": FORMAT, "kinds": {k: to_json(s) for k, s in found.items()}})

    def _read(self, name: str) -> Any:
        try:
            with open(self.dir / name, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _write(self, name: str, data: Any) -> None:
        """Atomically (a daemon's workers and a CLI run may share the cache); a read-only home is no error."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, separators=(",", ":"))
            os.replace(tmp, self.dir / name)
        except OSError as e:
            log.debug("cannot write the schema cache %s: %s", self.dir / name, e)


def _schemas_of(kinds: Any) -> dict[str, KindSchema] | None:
    if not isinstance(kinds, dict):
        return None
    out = {}
    for kind, data in kinds.items():
        schema = from_json(data)
        if schema is None:
            return None
        out[kind] = schema
    return out


def _hash_of(url: Any) -> str:
    """The `hash` query of a serverRelativeURL (`/openapi/v3/apis/apps/v1?hash=ABC`), or ''."""
    if not isinstance(url, str):
        return ""
    return (parse_qs(urlsplit(url).query).get("hash") or [""])[0]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text)[:120]
