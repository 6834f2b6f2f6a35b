"""The client's patience: what it retries, for how long, and how it fails when there is nobody there.

Faults a real API server cannot be made to produce on demand (a 429 with Retry-After, a 503 that
clears) come from a scripted loopback HTTP server.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubesync import errors
from kubesync.cluster.client import ClientSettings, Cluster, error_for
from kubesync.cluster.ratelimit import RateLimiter
from kubesync.cluster.kubeconfig import Impersonation, Target
from kubesync.localcluster import free_port


class Scripted:
    """Answers each request with the next (status, headers, body) of a script; records what it saw."""

    def __init__(self, script):
        self.script = list(script)
        self.seen: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append({"path": self.path, "headers": self.headers, "at": time.monotonic()})
                status, headers, body = outer.script.pop(0) if outer.script else (200, {}, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    servers = []

    def make(*script):
        s = Scripted(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


FAST = ClientSettings(retry_backoff=(0.05, 0.05, 0.05), jitter=0.0)


def test_refused_connection_fails_at_once_in_one_line():
    url = f"https://127.0.0.1:{free_port()}"
    cluster = Cluster(Target(host=url, token="t", verify_ssl=False))
    start = time.monotonic()
    with pytest.raises(errors.ClusterUnreachable) as e:
        cluster.get("/version")
    assert time.monotonic() - start < 2
    assert str(e.value) == f"cannot reach {url}: connection refused (GET /version)"


def test_429_waits_for_retry_after(scripted):
    s = scripted((429, {"Retry-After": "1"}, {"message": "slow down"}), (200, {}, {"ok": True}))
    assert Cluster(Target(host=s.url), FAST).get("/x") == {"ok": True}
    assert s.seen[1]["at"] - s.seen[0]["at"] >= 0.95


def test_503_that_clears_is_retried(scripted):
    s = scripted((503, {}, {"message": "etcd leader changed"}), (503, {}, {}), (200, {}, {"ok": True}))
    cluster = Cluster(Target(host=s.url), FAST)
    assert cluster.get("/x") == {"ok": True} and cluster.stats.retries == 2


def test_503_waits_for_retry_after_not_for_the_backoff(scripted):
    s = scripted((503, {"Retry-After": "1"}, {"message": "the server is shutting down"}), (200, {}, {"ok": True}))
    assert Cluster(Target(host=s.url), FAST).get("/x") == {"ok": True}
    assert s.seen[1]["at"] - s.seen[0]["at"] >= 0.95  # FAST's own backoff is 0.05 s


def test_every_retry_takes_a_token_of_the_rate_limiter(scripted):
    """The limiter's clock stands still unless the limiter itself sleeps: each attempt after the first finds no
    token and must wait for one, however slowly the machine runs (a real clock made this depend on load)."""
    s = scripted((503, {}, {}), (503, {}, {}), (200, {}, {"ok": True}))
    cluster = Cluster(Target(host=s.url), ClientSettings(retry_backoff=(0.01,) * 3, jitter=0.0, qps=5, burst=1))
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    cluster.limiter = RateLimiter(5, 1, clock=lambda: now[0], sleep=sleep)
    assert cluster.get("/x") == {"ok": True}
    assert len(s.seen) == 3 and slept == [0.2, 0.2]  # one token every 0.2 s, not the 0.01 s backoff
    assert cluster.stats.rate_limited == 2 and cluster.stats.rate_limited_seconds == pytest.approx(0.4)


def test_a_webhook_that_cannot_be_reached_is_not_retried(scripted):
    msg = 'Internal error occurred: failed calling webhook "deny.kubesync.test": connection refused'
    s = scripted((500, {}, {"message": msg, "reason": "InternalError"}), (200, {}, {}))
    with pytest.raises(errors.ClusterError) as e:
        Cluster(Target(host=s.url), FAST).get("/x")
    assert not isinstance(e.value, errors.ClusterTransient) and len(s.seen) == 1


def test_the_retry_budget_bounds_a_request(scripted):
    s = scripted(*[(503, {}, {})] * 20)
    cluster = Cluster(Target(host=s.url), ClientSettings(retry_backoff=(0.1,) * 10, jitter=0.0, retry_budget=0.35))
    with pytest.raises(errors.ClusterTransient, match="retry budget"):
        cluster.get("/x")
    assert len(s.seen) == 4  # three sleeps of 0.1 s fit, the fourth does not


def test_requests_do_not_spend_each_others_retry_budget(scripted):
    """Issue 31: one budget per connection let the first requests riding out a restart starve the others, so
    syncs failed during an outage that each request alone would have ridden out. Each request has its own."""
    retried_then_ok = [(503, {}, {})] * 3 + [(200, {}, {"ok": True})]
    s = scripted(*retried_then_ok, *retried_then_ok)
    cluster = Cluster(Target(host=s.url), ClientSettings(retry_backoff=(0.1,) * 3, jitter=0.0, retry_budget=0.35))
    assert cluster.get("/first") == {"ok": True}  # 0.3 s of sleeps, under its 0.35 s
    assert cluster.get("/second") == {"ok": True}  # the same again: a shared budget would have 0.05 s left
    assert len(s.seen) == 8


def test_backoff_has_jitter():
    cluster = Cluster(Target(host="http://127.0.0.1:1"), ClientSettings(jitter=0.5))
    e = errors.ClusterTransient("x", status=500)
    pauses = {round(cluster._pause(e, 1.0), 3) for _ in range(20)}
    assert len(pauses) > 1 and all(0.5 <= p <= 1.5 for p in pauses)


def test_401_refreshes_a_token_file_once(scripted, tmp_path):
    token = tmp_path / "token"
    token.write_text("old")
    s = scripted((401, {}, {"message": "Unauthorized"}), (200, {}, {"ok": True}))
    cluster = Cluster(Target(host=s.url, token_file=str(token)), FAST)
    assert cluster.credentials.authorization() == "Bearer old"
    before = os.stat(token)
    token.write_text("new")  # same inode, size and (restored) mtime: only a refresh reads it again
    os.utime(token, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cluster.get("/x") == {"ok": True}
    assert [r["headers"]["Authorization"] for r in s.seen] == ["Bearer old", "Bearer new"]


def test_impersonation_headers_repeat_for_each_group(scripted):
    s = scripted((200, {}, {}))
    imp = Impersonation(user="alice", groups=("g1", "g2"), extra=(("acme.com/team", ("a",)),))
    Cluster(Target(host=s.url, token="t", impersonate=imp)).get("/x")
    h = s.seen[0]["headers"]
    assert h["Impersonate-User"] == "alice" and h.get_all("Impersonate-Group") == ["g1", "g2"]
    assert h["Impersonate-Extra-acme.com%2Fteam"] == "a"


def test_error_for_keeps_conflicts_and_transients_apart():
    assert isinstance(error_for(503, {}, "GET", "/x"), errors.ClusterTransient)
    assert isinstance(error_for(500, {"message": "failed to allocate a serviceIP: range is full"}, "POST", "/x"), errors.ClusterError)
    assert not isinstance(error_for(500, {"message": "range is full"}, "POST", "/x"), errors.ClusterTransient)


def test_a_server_that_never_answers_fails_after_the_request_timeout():
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections (the kernel does), never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        cluster = Cluster(Target(host=url), ClientSettings(timeout=1.0))
        start = time.monotonic()
        with pytest.raises(errors.ClusterUnreachable, match=f"cannot reach {url}: timed out"):
            cluster.get("/version")
        assert time.monotonic() - start < 3
    finally:
        silent.close()


def test_warning_headers_reach_the_views_observers(scripted):
    from kubesync.cluster.api import Client, Observer
    from kubesync.cluster.requests import read_path

    class Heard(Observer):
        def __init__(self):
            self.warnings = []

        def on_warnings(self, request, warnings):
            self.warnings.append((request.method, dict(request.query), warnings))

    warning = '299 - "unknown field \\"spec.replica\\"", 299 - "unknown field \\"data.x\\"" "Mon, 01 Jan 2024 00:00:00 GMT"'
    s = scripted((200, {"Warning": warning}, {}), (200, {}, {}))
    heard = Heard()
    client = Client(Cluster(Target(host=s.url))).scoped(heard)
    client.send(read_path("/x"), retry=False)
    client.send(read_path("/y"), retry=False)
    assert heard.warnings == [("GET", {}, ['unknown field "spec.replica"', 'unknown field "data.x"'])]  # the second had none


def test_warning_headers_are_parsed_bounded_and_unescaped():
    from kubesync.cluster.client import MAX_WARNINGS, parse_warnings

    assert parse_warnings(['299 - "a \\\\ b \\"c\\""', "not a warning", '199 agent "x"']) == ['a \\ b "c"', "x"]
    assert len(parse_warnings([", ".join(['299 - "w"'] * 500)])) == MAX_WARNINGS
    assert len(parse_warnings([f'299 - "{"x" * 5000}"'])[0]) <= 300


def test_a_strict_decoding_error_never_quotes_the_patched_object():
    dump = '{\\"kind\\":\\"Secret\\",\\"data\\":{\\"password\\":\\"czNjcmV0\\"}}'
    message = f'Secret "db" is invalid: patch: Invalid value: "{dump}": strict decoding error: unknown field "dta"'
    err = error_for(422, {"message": message, "details": {"causes": [{"field": "patch", "message": f'Invalid value: "{dump}": '
                                                                       'strict decoding error: unknown field "dta"'}]}}, "PATCH", "/x")
    assert str(err) == 'PATCH /x: Secret "db" is invalid: patch: strict decoding error: unknown field "dta"'
    assert err.causes == [{"field": "patch", "message": 'strict decoding error: unknown field "dta"'}]
