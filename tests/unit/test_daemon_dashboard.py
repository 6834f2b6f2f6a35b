"""The dashboard and /api/v1 over sync workers' recorded state: documents, access rules, pages, CSRF.

The workers here are plain records of what a daemon's workers hold (config, status, history with a
real Plan); the daemon itself, a browser and the real control plane are in tests/e2e/test_dashboard.py.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from types import SimpleNamespace

import jsonschema
import pytest

from kubesync.config import SyncConfig
from kubesync.daemon.history import DriftEvent, History, Run
from kubesync.daemon.http import StatusServer
from kubesync.daemon.state import SyncStatus
from kubesync.daemon.settings import UiSettings
from kubesync.daemon.web import api
from kubesync.daemon.web.app import Hooks, build_app
from kubesync.model import Action, ActionType, ObjectRef, Plan
from kubesync.sources import SourceSpec
from kubesync.sync import Planned

TOKEN = b"ui-token-0123456789abcdef"
CANARY = "s3cr3t-canary-value"


def deployment(replicas: int, ready: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "generation": 1,
            "managedFields": [{"manager": "kubectl-scale", "time": "2026-01-01T00:00:00Z"}]},
            "spec": {"replicas": replicas}, "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": ready,
                                                        "readyReplicas": ready, "availableReplicas": ready}}


def secret(value: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "shop"}, "type": "Opaque",
            "data": {"password": value}}


def worker(name: str, state: str, actions=(), revision: str = "sha256:" + "ab" * 32, error: str = "", runs=()):
    history = History()
    plan = Plan(name, "src", revision, tuple(actions))
    history.planned = Planned(plan, [], None, [])
    for r in runs:
        history.record(r)
    history.drifted(DriftEvent(time.time(), "apps/v1 Deployment shop/web", "kubectl-scale"))
    return SimpleNamespace(sync=SyncConfig(name=name, source=SourceSpec(path=f"/src/{name}")),
                           status=SyncStatus(state=state, revision=revision, error=error, runs=len(runs)), history=history,
                           next_run=0.0)


@pytest.fixture
def workers():
    web = ObjectRef("apps", "v1", "Deployment", "shop", "web")
    creds = ObjectRef("", "v1", "Secret", "shop", "creds")
    drifted = worker("shop", "drifted", [
        Action(ActionType.SCALE, web, wave=3, live=deployment(5, 5), desired=deployment(2, 2), replicas=(5, 2),
               patch=({"op": "replace", "path": "/spec/replicas", "value": 2},)),
        Action(ActionType.UPDATE, creds, wave=1, live=secret("b2xk"), desired=secret("bmV3LXZhbHVl"),
               patch=({"op": "replace", "path": "/data/password", "value": "bmV3LXZhbHVl"},)),
    ], runs=[Run(time.time() - 5, 0.4, ("watch",), "success", (("scale", 1), ("update", 1)))])
    fine = worker("api", "synced", [Action(ActionType.NOOP, ObjectRef("", "v1", "ConfigMap", "api", "conf"), live={
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "api"}})])
    broken = worker("billing", "failed", runs=[Run(time.time(), 0.1, ("file",), "error", (), "", "cm.yaml:1: bad", "ManifestError")],
                    error="cm.yaml:1: bad")
    return [fine, drifted, broken]


def serve(workers, *, loopback=True, token=TOKEN, public=False, proxies=()):
    acted = []
    hooks = Hooks(health=lambda: (True, {}), ready=lambda: (True, {}), metrics=lambda: b"", trigger=lambda s: None,
                  syncs=lambda: {w.sync.name for w in workers}, workers=lambda: workers,
                  act=lambda s, a: any(w.sync.name == s for w in workers) and not acted.append((s, a)))
    app = build_app(hooks, ui=UiSettings(token=token, public=public, trusted_proxies=proxies), loopback=loopback)
    return StatusServer("127.0.0.1:0", app).start(), acted


@pytest.fixture
def served(workers):
    server, acted = serve(workers)
    yield server, acted
    server.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(server, path, method="GET", body=None, headers=None, opener=None):
    req = urllib.request.Request(f"http://{server.address}{path}", data=body, method=method, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener(NoRedirect)).open(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def validate(doc, schema_name):
    schema = {**api.document(), "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.validate(doc, schema)


def test_the_overview_api_sorts_trouble_first_and_matches_its_schema(served):
    server, _ = served
    status, body, _ = call(server, "/api/v1/syncs")
    doc = json.loads(body)
    validate(doc, "SyncList")
    assert [(s["name"], s["state"]) for s in doc["syncs"]] == [("billing", "Paused"), ("shop", "OutOfSync"), ("api", "Synced")]
    shop = doc["syncs"][1]
    assert shop["health"] == {"Healthy": 2, "Progressing": 0, "Degraded": 0, "Missing": 0}
    assert shop["last_run"]["triggers"] == ["watch"] and shop["last_run"]["actions"] == {"scale": 1, "update": 1}


def test_a_sync_document_is_the_status_document_plus_daemon_fields(served):
    server, _ = served
    doc = json.loads(call(server, "/api/v1/syncs/shop")[1])
    validate(doc, "SyncDetail")
    status_schema = json.loads(open(api.resources.files("kubesync").joinpath("schema", "status.v1.json")).read())
    jsonschema.validate(doc, status_schema)  # what `kubesync status -o json` prints, and more
    assert {o["object"]: o["sync"] for o in doc["objects"]} == {
        "apps/v1 Deployment shop/web": "OutOfSync", "v1 Secret shop/creds": "OutOfSync"}
    assert "replicas" in doc["diff"] and CANARY not in doc["diff"]
    assert "new-value" not in doc["diff"] and "bmV3LXZhbHVl" not in doc["diff"] and "***" in doc["diff"]
    assert doc["drift"][0]["manager"] == "kubectl-scale"
    runs = json.loads(call(server, "/api/v1/syncs/shop/runs")[1])
    validate(runs, "RunList")
    assert call(server, "/api/v1/syncs/nope")[0] == 404


def test_pages_render_the_same_data_with_text_labels(served):
    server, _ = served
    status, page, headers = call(server, "/")
    assert status == 200 and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert re.search(r'data-sync="billing".*data-sync="shop".*data-sync="api"', page, re.S)
    assert ">Paused<" in page and ">OutOfSync<" in page and ">Synced<" in page
    status, page, _ = call(server, "/syncs/shop")
    assert status == 200
    assert page.index("wave 1: Secret") < page.index("wave 3: Deployment")
    assert "kubectl-scale" in page and "bmV3LXZhbHVl" not in page
    assert "Sync now" not in page and "Sign in" in page  # nobody signed in
    assert call(server, "/?state=Paused")[1].count("data-sync=") == 1
    assert call(server, "/partials/overview?q=sho")[1].count("data-sync=") == 1
    assert call(server, "/static/live.js")[0] == 200


def test_sync_now_needs_the_token_and_the_pages_csrf_token(served):
    server, acted = served
    assert call(server, "/syncs/shop/sync", "POST", b"")[0] == 403
    assert call(server, "/api/v1/syncs/shop/sync", "POST", b"", {"Authorization": "Bearer wrong"})[0] == 403
    assert acted == []
    # A bearer token works for the API ...
    status, body, _ = call(server, "/api/v1/syncs/shop/sync", "POST", b"", {"Authorization": "Bearer " + TOKEN.decode()})
    assert status == 202 and json.loads(body)["accepted"] and acted == [("shop", "sync")]
    # ... and the login form sets a session cookie, good for a form POST that carries the CSRF token.
    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    assert call(server, "/login", "POST", b"token=wrong&next=/", opener=browser)[0] == 401
    assert call(server, "/login", "POST", b"token=" + TOKEN + b"&next=/syncs/shop", opener=browser)[0] == 303
    page = call(server, "/syncs/shop", opener=browser)[1]
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    assert "Sync now" in page
    assert call(server, "/syncs/shop/refresh", "POST", b"csrf=forged", opener=browser)[0] == 403  # cookie alone: no
    status, _, headers = call(server, "/syncs/shop/refresh", "POST", f"csrf={csrf}".encode(), opener=browser)
    assert status == 303 and headers["Location"] == "/syncs/shop?done=refresh"
    assert acted == [("shop", "sync"), ("shop", "refresh")]


def test_reading_off_loopback_needs_the_token_unless_public(workers):
    server, _ = serve(workers, loopback=False)
    try:
        assert call(server, "/api/v1/syncs")[0] == 401
        status, _, headers = call(server, "/syncs/shop")
        assert status == 303 and headers["Location"] == "/login?next=/syncs/shop"
        assert call(server, "/api/v1/syncs", headers={"Authorization": "Bearer " + TOKEN.decode()})[0] == 200
        assert call(server, "/healthz")[0] == 200  # probes stay open
    finally:
        server.stop()
    server, _ = serve(workers, loopback=False, public=True)
    try:
        assert call(server, "/api/v1/syncs")[0] == 200
        assert call(server, "/api/v1/syncs/shop/sync", "POST", b"")[0] == 403
    finally:
        server.stop()


def test_without_a_ui_token_nobody_can_act(workers):
    server, acted = serve(workers, token=None)
    try:
        status, body, _ = call(server, "/api/v1/syncs/shop/sync", "POST", b"", {"Authorization": "Bearer "})
        assert status == 403 and "no --ui-token-file" in json.loads(body)["error"]
        assert "Sign in" not in call(server, "/syncs/shop")[1]
        assert acted == []
    finally:
        server.stop()


def test_random_calls_keep_the_openapi_contract(workers):
    """A property test against /api/v1/openapi.json: every documented operation, with random path
    parameters and credentials, answers a documented status with a body that fits its schema. Wrong tokens
    come from another client (through a trusted proxy), which they get throttled: a 429 is documented too."""
    from urllib.parse import quote

    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    server, acted = serve(workers, loopback=False, proxies=("127.0.0.0/8",))
    doc = json.loads(call(server, "/api/v1/openapi.json", headers={"Authorization": "Bearer " + TOKEN.decode()})[1])
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=20)
    names = st.one_of(st.sampled_from(["shop", "api", "billing", "nope"]), text)
    actions = st.one_of(st.sampled_from(["sync", "refresh"]), text)
    guesser = {"Authorization": "Bearer nope", "X-Forwarded-For": "198.51.100.7"}
    auth = st.sampled_from([{}, {"Authorization": "Bearer " + TOKEN.decode()}, guesser,
                            {"Cookie": "kubesync_session=forged", "X-CSRF-Token": "forged"}])
    seen: set[int] = set()

    act = next(o for o in operations if o[1] == "post")
    bearer = {"Authorization": "Bearer " + TOKEN.decode()}

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.sampled_from(operations), names, actions, auth)
    @example(act, "shop", "sync", bearer)  # the random draws need not hit every documented answer
    @example(act, "shop", "refresh", {})
    @example(act, "a", "sync", guesser)  # 3 wrong tokens are free, the 4th costs 1 s: the 5th is throttled
    @example(act, "b", "sync", guesser)
    @example(act, "c", "sync", guesser)
    @example(act, "d", "sync", guesser)
    @example(act, "e", "sync", guesser)
    def one(operation, name, action, headers):
        path, method, op = operation
        url = path.replace("{name}", quote(name, safe="")).replace("{action}", quote(action, safe=""))
        status, body, resp_headers = call(server, url, method.upper(), b"" if method == "post" else None, headers)
        seen.add(status)
        assert status < 500, (url, status, body)
        documented = op["responses"].get(str(status))
        if documented is None:  # a path parameter with '/' in it can reach another route or none: still JSON errors
            assert status in (401, 403, 404, 405) and "error" in json.loads(body), (url, status, body)
            return
        ref = documented["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        validate(json.loads(body), ref)

    try:
        one()
    finally:
        server.stop()
    assert {200, 202, 401, 403, 404, 429} <= seen, seen
    assert {a for _, a in acted} <= {"sync", "refresh"}


def test_a_workloads_pods_are_those_its_match_labels_select():
    from kubesync.daemon.web.pods import selects, summary

    pod = {"metadata": {"name": "web-1", "labels": {"app": "web", "pod-template-hash": "x"}},
           "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
           "status": {"phase": "Running", "containerStatuses": [
               {"ready": True, "restartCount": 0, "state": {"running": {}}},
               {"ready": False, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    assert selects({"matchLabels": {"app": "web"}}, pod["metadata"]["labels"])
    assert not selects({"matchLabels": {"app": "api"}}, pod["metadata"]["labels"])
    assert not selects({}, pod["metadata"]["labels"])  # no selector selects nothing, not everything
    assert summary(pod) == {"name": "web-1", "phase": "Running", "ready": "1/2", "restarts": 4, "reason": "CrashLoopBackOff"}
    pending = {"metadata": {"name": "web-2"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}}
    assert summary(pending) == {"name": "web-2", "phase": "Pending", "ready": "0/1", "restarts": 0, "reason": ""}
