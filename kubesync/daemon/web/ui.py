"""The dashboard's pages: server-rendered Jinja2, readable without JavaScript; live.js re-fetches
the `/partials/...` fragments every 2 s so an open page follows the daemon without a reload.

    GET  /                      every sync, trouble first, with the totals, a failure's reason in one line
                                and where each sync applies (context, namespace); ?q=name&state=Failed filter
    GET  /syncs/<name>          the current attempt (the revision tried, its commit, how far it got), its
                                objects by wave and kind with their live health (a workload's Pods folded
                                under it), that attempt's masked diff, drift (who changed what), the last 50
                                runs with identical consecutive failures folded
    POST /syncs/<name>/sync     run now, reverting drift even without self-heal (signed in + CSRF)
    POST /syncs/<name>/refresh  re-read the source (a git fetch) and compare (signed in + CSRF)
    GET|POST /login, POST /logout
"""

from __future__ import annotations

import time
from importlib import resources
from urllib.parse import parse_qs, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from kubesync.daemon.web import bodies, views
from kubesync.daemon.web.auth import COOKIE, Access, too_many
from kubesync.daemon.web.pods import PodCache

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {"live.js": "text/javascript", "style.css": "text/css"}
NOTICES = {"sync": "A run was started.", "refresh": "The source is being read again."}


def _when(epoch: float) -> str:
    if not epoch:
        return "never"
    delta = time.time() - epoch
    ago = "in " if delta < 0 else ""
    delta = abs(delta)
    text = f"{delta:.0f}s" if delta < 120 else f"{delta / 60:.0f}m" if delta < 7200 else f"{delta / 3600:.0f}h"
    return f"{ago}{text}" if ago else f"{text} ago"


def _short(revision: str | None) -> str:
    head, sep, tail = (revision or "").rpartition(":")
    return f"{head}{sep}{tail[:12]}" if revision else "none yet"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("kubesync.daemon.web", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(when=_when, short=_short)
    return env


def object_rows(rows: list[dict], waves: dict[str, int]) -> list[dict]:
    """Status rows with kind and namespace/name split out and a `group` (wave, kind), in apply order."""
    out = []
    for r in rows:
        parts = r["object"].split(" ")
        kind, name = (parts[1], parts[2]) if len(parts) == 3 else ("Conflict", r["object"])
        wave = waves.get(r["object"])
        group = f"wave {wave}: {kind}" if wave is not None else f"not in the source: {kind}"
        out.append({**r, "kind": kind, "name": name, "group": group, "order": (wave if wave is not None else 1 << 30, kind, name)})
    return sorted(out, key=lambda r: r["order"])


async def form(request: Request, http, budget: bodies.Budget) -> dict[str, str]:
    """An urlencoded form, read within the forms' limit and the shared body budget; the first value of each field."""
    async with bodies.read(request, http.max_form, budget, http.body_timeout) as body:
        text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, max_num_fields=20).items()}


def overview_context(hooks, request: Request) -> dict:
    """The overview's rows, filtered by ?q= (name) and ?state=; the totals count every sync; Lease conflicts on top."""
    q, state = request.query_params.get("q", "")[:100], request.query_params.get("state", "")
    listed = views.sync_list(hooks.workers())
    syncs = [s for s in listed["syncs"] if q.lower() in s["name"].lower() and state in ("", s["state"])]
    return {"syncs": syncs, "totals": listed["totals"], "q": q, "state": state, "states": views.STATES,
            "election": hooks.election()}


def ui_routes(hooks, access: Access, http, budget: bodies.Budget) -> list[Route]:
    env = environment()
    pod_cache = PodCache()

    def render(request: Request, template: str, status: int = 200, **ctx) -> HTMLResponse:
        ctx.update(signed_in=access.signed_in(request), csrf=access.csrf(request), can_sign_in=access.ui.token is not None,
                   notice=ctx.get("notice", ""))
        return HTMLResponse(env.get_template(template).render(**ctx), status, headers=SECURITY_HEADERS)

    def worker(name: str):
        return next((w for w in hooks.workers() if w.sync.name == name), None)

    def guard(request: Request) -> Response | None:
        if access.may_read(request):
            return None
        return RedirectResponse(f"/login?next={quote(request.url.path)}", 303, headers=SECURITY_HEADERS)

    async def overview(request: Request) -> Response:
        return guard(request) or render(request, "overview.html", **overview_context(hooks, request))

    async def overview_part(request: Request) -> Response:
        return guard(request) or render(request, "_overview.html", **overview_context(hooks, request))

    async def sync_ctx(request: Request) -> dict | None:
        w = worker(request.path_params["name"])
        if w is None:
            return None
        doc = views.detail(w)
        pods = await run_in_threadpool(pod_cache.for_worker, w)  # LISTs the API: off the event loop
        doc["objects"] = [{**r, "pods": pods.get(r["object"])} for r in object_rows(doc["objects"], views.waves(w))]
        doc["run_rows"] = views.fold_runs(doc["runs"])
        return {"s": doc, "notice": NOTICES.get(request.query_params.get("done", ""), "")}

    async def sync_page(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        ctx = await sync_ctx(request)
        return render(request, "sync.html", **ctx) if ctx else HTMLResponse("<h1>No such sync</h1>", 404, headers=SECURITY_HEADERS)

    async def sync_part(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        ctx = await sync_ctx(request)
        return render(request, "_sync.html", **ctx) if ctx else HTMLResponse("", 404, headers=SECURITY_HEADERS)

    return [
        Route("/", overview, methods=["GET"]),
        Route("/partials/overview", overview_part, methods=["GET"]),
        Route("/syncs/{name}", sync_page, methods=["GET"]),
        Route("/partials/syncs/{name}", sync_part, methods=["GET"]),
        Route("/syncs/{name}/{action}", action_handler(hooks, access, http, budget), methods=["POST"]),
        *login_routes(access, http, budget, render),
        Route("/static/{file}", static, methods=["GET"]),
    ]


def action_handler(hooks, access: Access, http, budget: bodies.Budget):
    """POST /syncs/<name>/sync|refresh: a signed-in person's button, checked against the page's CSRF token
    (the form is read only for a bearer token or a live session)."""

    async def action(request: Request) -> Response:
        name, what = request.path_params["name"], request.path_params["action"]
        fields = await form(request, http, budget) if access.may_post_form(request) else {}
        if not access.may_act(request, fields.get("csrf", "")):
            return HTMLResponse("<h1>Forbidden</h1><p>Sign in (and use the page's buttons) to sync.</p>", 403,
                                headers=SECURITY_HEADERS)
        if what not in ("sync", "refresh") or not hooks.act(name, what):
            return HTMLResponse("<h1>No such sync</h1>", 404, headers=SECURITY_HEADERS)
        return RedirectResponse(f"/syncs/{quote(name)}?done={what}", 303, headers=SECURITY_HEADERS)

    return action


def login_routes(access: Access, http, budget: bodies.Budget, render) -> list[Route]:
    def safe_next(target: str) -> str:
        return target if target.startswith("/") and not target.startswith("//") else "/"

    async def login_form(request: Request) -> Response:
        return render(request, "login.html", next=safe_next(request.query_params.get("next", "/")), failed=False)

    async def login(request: Request) -> Response:
        if (wait := access.throttle.wait(access.client(request))) > 0:
            raise too_many(wait)  # before reading the form: a throttled client costs nothing
        fields = await form(request, http, budget)
        target = safe_next(fields.get("next", "/"))
        if access.ui.token is None or not access.check_token(request, fields.get("token", ""), "POST /login"):
            return render(request, "login.html", 401, next=target, failed=True)
        cookie, _ = access.sessions.create()
        response = RedirectResponse(target, 303, headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, cookie, max_age=int(access.sessions.ttl), httponly=True, samesite="strict", path="/",
                            secure=access.https(request))
        return response

    async def logout(request: Request) -> Response:
        access.sessions.revoke(request.cookies.get(COOKIE))
        response = RedirectResponse("/", 303, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=access.https(request))
        return response

    return [Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"])]


async def static(request: Request) -> Response:
    name = request.path_params["file"]
    if name not in STATIC:
        return Response("not found", 404)
    body = resources.files("kubesync.daemon.web").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})
