"""The dashboard's sessions and the webhook's deliveries, attacked as a client would (issue 31, finding 8):
sessions that are random, revocable and expiring, `Secure` behind a TLS proxy; throttled and logged
token guessing; DNS rebinding refused by the Host check; replayed and misdirected webhook deliveries.

Each runs a real daemon pointed at a closed API server port (its HTTP surface needs no cluster).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time

import pytest

from tests.integration.daemon_harness import DaemonProcess, wait_until
from tests.security.test_daemon_http import folder_source, started, unreachable, secret_file  # noqa: F401 (fixtures)
from tests.support.git import init_repo

TOKEN = "ui-token-0123456789abcdef"


def request(d: DaemonProcess, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            client: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """One request from the loopback address `client`: (status, headers (lower-case names), body)."""
    conn = http.client.HTTPConnection(d.host.strip("[]"), d.port, timeout=10, source_address=(client, 0))
    try:
        conn.request(method, path, body, headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def login(d: DaemonProcess, token: str = TOKEN, client: str = "127.0.0.1", headers: dict | None = None):
    return request(d, "POST", "/login", f"token={token}&next=/".encode(),
                   {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}, client)


def cookie_of(headers: dict[str, str]) -> str:
    return headers["set-cookie"].split(";", 1)[0]


def signed_in(d: DaemonProcess, cookie: str) -> bool:
    """The page offers the buttons only to a live session."""
    status, _, page = request(d, "GET", "/syncs/shop", headers={"Cookie": cookie})
    return status == 200 and b"Sync now" in page


@pytest.fixture
def dashboard(tmp_path, unreachable):
    token = tmp_path / "ui-token"
    token.write_text(TOKEN + "\n")
    args = [folder_source(tmp_path), "--name", "shop", "--interval", "5m", "--ui-token-file", str(token),
            "--session-ttl", "3s", "--trusted-proxy", "127.0.0.1/32", "--allowed-host", "kubesync.example"]
    with DaemonProcess(args, unreachable, tmp_path) as d:
        yield started(d)


def test_two_logins_get_different_sessions_and_logout_and_expiry_end_them(dashboard):
    d = dashboard
    first, second = login(d), login(d)
    assert first[0] == second[0] == 303
    a, b = cookie_of(first[1]), cookie_of(second[1])
    assert a != b and len(a.split("=", 1)[1]) >= 40
    assert "HttpOnly" in first[1]["set-cookie"] and "SameSite=strict" in first[1]["set-cookie"]
    assert signed_in(d, a) and signed_in(d, b)
    assert request(d, "POST", "/logout", headers={"Cookie": a})[0] == 303
    assert not signed_in(d, a), "a session still works after its logout"
    assert signed_in(d, b), "logging one session out ended another"
    began = time.monotonic()
    wait_until(lambda: not signed_in(d, b), 10, what="the session's expiry (--session-ttl 3s)")
    assert time.monotonic() - began > 1  # it lived until its time, not less
    forged = "kubesync_session=" + "A" * 43
    assert not signed_in(d, forged)


def test_the_cookie_is_secure_only_when_the_request_came_over_https_through_a_trusted_proxy(dashboard):
    d = dashboard
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "Secure" in login(d, headers=proxied)[1]["set-cookie"]  # 127.0.0.1 is the trusted proxy
    assert "Secure" not in login(d)[1]["set-cookie"]  # plain http
    assert "Secure" not in login(d, client="127.0.0.2", headers=proxied)[1]["set-cookie"]  # anyone can send the header


def test_wrong_tokens_are_throttled_per_client_and_logged_once_per_burst(dashboard):
    d = dashboard
    statuses = [login(d, "wrong-token-guess-%d" % i)[0] for i in range(200)]
    assert statuses[:4] == [401] * 4  # three free, the fourth costs a second ...
    assert statuses.count(401) <= 6 and statuses.count(429) >= 190, statuses  # ... the rest are not even compared
    status, headers, _ = login(d)  # the right token waits its turn too
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert login(d, client="127.0.0.3")[0] == 303  # another client is not held up
    bearer = {"Authorization": "Bearer also-wrong"}  # the API's bearer tokens count against the same client
    assert request(d, "POST", "/api/v1/syncs/shop/sync", b"", bearer)[0] == 429
    wait_until(lambda: login(d)[0] == 303, 10, what="the throttled client's turn")
    lines = [line for line in d.log().splitlines() if "wrong UI token from 127.0.0.1" in line]
    assert 2 <= len(lines) <= 4, lines  # failures 1, 2 and 4 of the burst: a line each, not one per guess
    assert "4 failure(s)" in lines[-1] and "refused for 1s" in lines[-1]


def test_a_foreign_host_header_is_refused_before_anything_is_read(dashboard):
    d = dashboard
    for host in ("evil.example", "evil.example:%d" % d.port, "kubesync.example.evil.example"):
        status, headers, body = request(d, "GET", "/api/v1/syncs", headers={"Host": host})
        assert status == 421 and "--allowed-host" in json.loads(body)["error"], host
        assert request(d, "POST", "/login", f"token={TOKEN}".encode(), {"Host": host})[0] == 421
        assert request(d, "GET", "/metrics", headers={"Host": host})[0] == 421
        assert request(d, "GET", "/healthz", headers={"Host": host})[0] == 200  # the kubelet names the pod's IP
    for host in (f"127.0.0.1:{d.port}", "localhost", "KubeSync.example", "kubesync.example:443"):
        assert request(d, "GET", "/api/v1/syncs", headers={"Host": host})[0] == 200, host


# --- webhook deliveries -------------------------------------------------------------------------------


def deliver(d: DaemonProcess, secret: str, payload: dict, delivery: str, sync: str = "shop", client: str = "127.0.0.1"):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
               "X-Hub-Signature-256": signature}
    status, _, answer = request(d, "POST", f"/webhook/{sync}", body, headers, client)
    return status, json.loads(answer)


@pytest.fixture
def receiver(tmp_path, unreachable, secret_file):
    remotes = {name: tmp_path / f"{name}-remote" for name in ("shop", "blog")}
    for name, remote in remotes.items():
        init_repo(remote, {"cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"})
    config = tmp_path / "kubesync.yaml"
    config.write_text(json.dumps({"syncs": [
        {"name": name, "source": {"repo": f"file://{remote}", "ref": "main"}, "interval": "5m"} for name, remote in remotes.items()
    ] + [{"name": "local", "source": {"path": folder_source(tmp_path)}, "interval": "5m"}]}))
    with DaemonProcess(["--config", str(config), "--receiver-secret-file", secret_file[1]], unreachable, tmp_path) as d:
        yield started(d), secret_file[0], remotes


def push(remote, ref: str = "refs/heads/main", after: str = "1" * 40) -> dict:
    return {"ref": ref, "after": after, "repository": {"full_name": f"example/{remote.name}", "clone_url": f"file://{remote}",
                                                        "ssh_url": "git@example.invalid:example/x.git"}}


def test_a_replayed_webhook_delivery_is_refused(receiver):
    d, secret, remotes = receiver
    payload = push(remotes["shop"])
    assert deliver(d, secret, payload, "delivery-1")[0] == 202
    status, answer = deliver(d, secret, payload, "delivery-1")  # the same request again
    assert status == 409 and "already received" in answer["error"]
    assert deliver(d, secret, payload, "delivery-2")[0] == 409  # a new delivery id does not make a signed body new
    assert deliver(d, secret, push(remotes["shop"], after="2" * 40), "delivery-1")[0] == 409  # nor a new body an old id
    assert deliver(d, secret, push(remotes["shop"], after="2" * 40), "delivery-3")[0] == 202  # the next push is new
    assert "a replayed delivery for sync shop refused" in d.log()


def test_a_signed_delivery_triggers_only_the_sync_whose_repository_it_names(receiver):
    d, secret, remotes = receiver
    status, answer = deliver(d, secret, push(remotes["blog"]), "for-blog", sync="shop")  # signed, for another repository
    assert status == 403 and "not the source of sync 'shop'" in answer["error"]
    status, answer = deliver(d, secret, push(remotes["shop"], ref="refs/heads/dev"), "dev-push")
    assert status == 200 and answer["triggered"] is False  # a push to a branch the sync does not follow: no run
    status, answer = deliver(d, secret, push(remotes["shop"]), "for-local", sync="local")
    assert status == 403 and "reads no git repository" in answer["error"]
    status, answer = deliver(d, secret, {"zen": "no repository"}, "no-repo")
    assert status == 403
    assert deliver(d, secret, push(remotes["blog"]), "blog-push", sync="blog")[0] == 202
