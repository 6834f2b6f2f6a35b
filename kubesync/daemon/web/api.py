"""/api/v1: the data the dashboard renders, as JSON, described by the OpenAPI document it serves.

    GET  /api/v1/openapi.json
    GET  /api/v1/syncs                      every sync (the overview's rows: state, one-line reason, revision
                                            tried), trouble first, the totals and the failing syncs' names, and
                                            the election (who writes, Lease conflicts): the sync endpoint for
                                            people and monitors (/readyz is about the process)
    GET  /api/v1/syncs/<name>               the status document of `kubesync status -o json` + daemon fields
    GET  /api/v1/syncs/<name>/runs          the last 50 runs, newest first
    POST /api/v1/syncs/<name>/sync|refresh  as the buttons (bearer token, or session cookie + X-CSRF-Token)
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kubesync.daemon.web import views
from kubesync.daemon.web.auth import Access


class JSON(JSONResponse):
    def render(self, content) -> bytes:
        return (json.dumps(content, sort_keys=True) + "\n").encode()


def _error(status: int, message: str) -> JSON:
    return JSON({"error": message}, status)


def api_routes(hooks, access: Access) -> list[Route]:
    def worker(name: str):
        return next((w for w in hooks.workers() if w.sync.name == name), None)

    def denied(request: Request) -> JSON | None:
        if access.may_read(request):
            return None
        return JSON({"error": "authentication required: Authorization: Bearer <ui token>"}, 401,
                    headers={"WWW-Authenticate": 'Bearer realm="kubesync"'})

    async def syncs(request: Request) -> Response:
        return denied(request) or JSON({**views.sync_list(hooks.workers()), "election": hooks.election()})

    async def one(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        w = worker(request.path_params["name"])
        return JSON(views.detail(w)) if w is not None else _error(404, "no such sync")

    async def runs(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        w = worker(request.path_params["name"])
        if w is None:
            return _error(404, "no such sync")
        return JSON({"sync": w.sync.name, "runs": [views.run_doc(r) for r in w.history.runs()]})

    async def act(request: Request) -> Response:
        name, what = request.path_params["name"], request.path_params["action"]
        if access.ui.token is None:
            return _error(403, "actions are off: the daemon has no --ui-token-file")
        if not access.may_act(request):
            return _error(403, "a valid bearer token (or a session with its CSRF token) is required")
        if what not in ("sync", "refresh") or not hooks.act(name, what):
            return _error(404, "no such sync or action")
        return JSON({"sync": name, "action": what, "accepted": True}, 202)

    async def openapi(request: Request) -> Response:
        return JSON(document())

    return [
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/syncs", syncs, methods=["GET"]),
        Route("/api/v1/syncs/{name}", one, methods=["GET"]),
        Route("/api/v1/syncs/{name}/runs", runs, methods=["GET"]),
        Route("/api/v1/syncs/{name}/{action}", act, methods=["POST"]),
    ]


# --- the OpenAPI document ---------------------------------------------------------------------------------

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_RUN = {
    "type": "object",
    "required": ["started", "duration", "triggers", "result", "actions", "revision", "error", "error_type"],
    "properties": {
        "started": {"type": "number"}, "duration": {"type": "number"},
        "triggers": {"type": "array", "items": {"type": "string"}},
        "result": {"enum": ["success", "error", "standby", "aborted"]},
        "actions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "revision": {"type": "string"}, "error": {"type": "string"}, "error_type": {"type": "string"},
    },
}
_ATTEMPT = {
    "type": "object", "required": ["revision", "started", "stage", "error", "planned", "commit"],
    "description": "The current attempt: the run in progress, or the last one that read the source.",
    "properties": {
        "revision": {"type": "string", "description": "the source revision tried ('' when not even that could be said)"},
        "started": {"type": "number"},
        "stage": {"enum": ["reading the source", "planning", "applying", "done"],
                  "description": "how far it got (where it failed, when it did)"},
        "error": {"type": "string"}, "planned": {"type": "boolean", "description": "its plan was made"},
        "commit": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["sha", "subject", "author", "time"],
                                                "properties": {"sha": {"type": "string"}, "subject": {"type": "string"},
                                                               "author": {"type": "string"}, "time": {"type": "number"}}}]},
    },
}
_SUMMARY = {
    "type": "object",
    "required": ["name", "destination", "source", "applied_revision", "state", "failing", "reason", "trying", "health",
                 "object_count", "last_run", "next_run", "error", "cannot_decrypt"],
    "properties": {
        "name": {"type": "string"},
        "destination": {"type": "object", "required": ["context", "namespace"],
                        "properties": {"context": {"type": "string", "description": "'' for the daemon's current context"},
                                       "namespace": {"type": "string", "description": "'' for the context's default"}}},
        "failing": {"type": "boolean", "description": "its last run failed (state Failed or Paused)"},
        "cannot_decrypt": {"type": "array", "items": {"type": "string"},
                           "description": "SOPS-encrypted files its last run could not decrypt"},
        "reason": {"type": "string", "description": "one line: why it is not Synced ('' when it is)"},
        "trying": {"oneOf": [{"$ref": "#/components/schemas/Attempt"}, {"type": "null"}],
                   "description": "while failing: the revision it is trying to apply"},
        "source": {"type": "object", "required": ["kind", "description", "ref", "path"],
                   "properties": {"kind": {"enum": ["git", "folder"]}, "description": {"type": "string"},
                                  "ref": {"type": "string"}, "path": {"type": "string"}}},
        "applied_revision": {"type": "string"},
        "state": {"enum": list(views.STATES)},
        "health": {"type": "object", "required": list(views.HEALTHS),
                   "properties": {h: {"type": "integer", "minimum": 0} for h in views.HEALTHS}},
        "object_count": {"type": "integer", "minimum": 0},
        "last_run": {"oneOf": [{"$ref": "#/components/schemas/Run"}, {"type": "null"}]},
        "next_run": _NUMBER_OR_NULL,
        "error": {"type": "string"},
    },
}
_DRIFT = {"type": "object", "required": ["time", "object", "manager", "paths", "subresource"],
          "properties": {"time": {"type": "number"}, "object": {"type": "string"},
                         "manager": {"type": "string", "description": "the field manager owning the drifted fields"},
                         "subresource": {"type": "string", "description": "where it wrote them: scale, ... ('' the object)"},
                         "paths": {"type": "array", "items": {"type": "string"}}}}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_LEASE = {"type": "object", "required": ["lease", "holder", "expires_in", "conflict"], "properties": {
    "lease": {"type": "string", "description": "namespace/name"}, "holder": {"type": "string"},
    "expires_in": {**_NUMBER_OR_NULL, "description": "seconds until another holder's claim expires by this replica's clock"},
    "conflict": {"type": "string", "description": "why no replica of ours wrote this record ('' when nothing says so)"}}}
_ELECTION = {
    "type": "object", "required": ["mode", "identity", "leader", "leases", "conflicts"],
    "description": "Who writes: --leader-elect (leader), --shards (shards) or a single replica (off).",
    "properties": {
        "mode": {"enum": ["off", "leader", "shards"]}, "identity": {"type": "string"},
        "leader": {"type": "boolean", "description": "this replica may write (holds the Lease, or a shard)"},
        "shards": {"type": "array", "items": {"type": "integer"}}, "members": {"type": "integer"},
        "leases": {"type": "array", "items": _LEASE},
        "conflicts": {"type": "array", "items": {"type": "string"},
                      "description": "Leases held by an unknown holder or for longer than --lease-max-duration"},
    },
}


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _status_schema() -> dict:
    schema = json.loads(resources.files("kubesync").joinpath("schema", "status.v1.json").read_text())
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return schema


@lru_cache(maxsize=1)
def document() -> dict:
    name = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    action = name + [{"name": "action", "in": "path", "required": True, "schema": {"enum": ["sync", "refresh"]}}]
    not_found, denied = _json("Error", "no such sync"), _json("Error", "authentication required")
    throttled = _json("Error", "too many wrong tokens from this client: wait for Retry-After")
    return {
        "openapi": "3.1.0",
        "info": {"title": "kubesync daemon API", "version": "1"},
        "paths": {
            "/api/v1/syncs": {"get": {"operationId": "listSyncs", "responses": {
                "200": _json("SyncList", "every sync, trouble first; the totals; the failing syncs; the election"),
                "401": denied, "429": throttled}}},
            "/api/v1/syncs/{name}": {"get": {"operationId": "getSync", "parameters": name, "responses": {
                "200": _json("SyncDetail", "the status document plus the daemon's fields"), "401": denied, "404": not_found,
                "429": throttled}}},
            "/api/v1/syncs/{name}/runs": {"get": {"operationId": "listRuns", "parameters": name, "responses": {
                "200": _json("RunList", "the last 50 runs, newest first"), "401": denied, "404": not_found,
                "429": throttled}}},
            "/api/v1/syncs/{name}/{action}": {"post": {"operationId": "act", "parameters": action, "responses": {
                "202": _json("Accepted", "the run was started"), "403": _json("Error", "no valid token"), "404": not_found,
                "429": throttled}}},
        },
        "components": {"schemas": {
            "Run": _RUN, "Drift": _DRIFT, "Error": _ERROR, "SyncSummary": _SUMMARY, "Status": _status_schema(),
            "Attempt": _ATTEMPT, "Election": _ELECTION,
            "SyncList": {"type": "object", "required": ["syncs", "totals", "failed", "cannot_decrypt", "election"], "properties": {
                "election": {"$ref": "#/components/schemas/Election"},
                "syncs": {"type": "array", "items": {"$ref": "#/components/schemas/SyncSummary"}},
                "totals": {"type": "object", "required": ["syncs", *views.STATES],
                           "properties": {k: {"type": "integer", "minimum": 0} for k in ("syncs", *views.STATES)}},
                "failed": {"type": "array", "items": {"type": "string"}, "description": "syncs whose last run failed"},
                "cannot_decrypt": {"type": "array", "items": {"type": "string"},
                                   "description": "syncs whose last run could not decrypt a SOPS file"}}},
            "SyncDetail": {"allOf": [
                {"$ref": "#/components/schemas/Status"},
                {"$ref": "#/components/schemas/SyncSummary"},
                {"type": "object", "required": ["attempt", "diff", "runs", "drift", "generated"], "properties": {
                    "attempt": {"oneOf": [{"$ref": "#/components/schemas/Attempt"}, {"type": "null"}]},
                    "diff": {"type": "string", "description": "the current attempt's plan, Secret values masked"},
                    "generated": {"type": "number"},
                    "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
                    "drift": {"type": "array", "items": {"$ref": "#/components/schemas/Drift"}}}},
            ]},
            "RunList": {"type": "object", "required": ["sync", "runs"], "properties": {
                "sync": {"type": "string"}, "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}}},
            "Accepted": {"type": "object", "required": ["sync", "action", "accepted"], "properties": {
                "sync": {"type": "string"}, "action": {"enum": ["sync", "refresh"]}, "accepted": {"const": True}}},
        }},
    }
