"""The pure parts of the daemon's HTTP guards: throttle, sessions, webhook binding and replays, the Host
check, forwarded headers, Lease conflicts and the log's repeat filter (the attacks themselves run against
a real daemon in tests/security/)."""

from __future__ import annotations

import io
import logging

import pytest
from starlette.requests import Request

from kubesync.daemon.election.holders import conflict, known_holders
from kubesync.daemon.election.leader import default_identity, own_namespace
from kubesync.daemon.protocol import client_key
from kubesync.daemon.web.clients import HostCheck, client_address, is_https, networks
from kubesync.daemon.web.delivery import Deliveries, bound, payload_of, repo_key
from kubesync.daemon.web.refusal import Refused
from kubesync.daemon.web.sessions import Sessions
from kubesync.daemon.web.throttle import Throttle
from kubesync.logs import RepeatFilter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_doubles_after_three_free_failures_and_forgets_a_success():
    clock = Clock()
    t = Throttle("UI token", clock)
    assert [t.failed("a", "x") for _ in range(6)] == [0, 0, 0, 1, 2, 4]
    assert t.wait("a") == 4 and t.wait("b") == 0
    clock.now += 4
    assert t.wait("a") == 0
    t.succeeded("a")
    assert t.failed("a", "x") == 0
    for _ in range(40):
        t.failed("c", "x")
    assert t.wait("c") == 300  # capped


def test_sessions_are_random_revocable_expiring_and_bounded():
    clock = Clock()
    s = Sessions(ttl=60, limit=3, clock=clock)
    (a, sa), (b, sb) = s.create(), s.create()
    assert a != b and sa.csrf != sb.csrf
    assert s.get(a) == sa and s.get("forged") is None and s.get(None) is None
    assert s.revoke(a) and s.get(a) is None
    clock.now += 60
    assert s.get(b) is None
    for _ in range(5):
        s.create()
    assert len(s) == 3


@pytest.mark.parametrize("url", ["https://GitHub.com/Org/Repo.git", "git@github.com:org/repo", "ssh://git@github.com/org/repo.git/",
                                 "https://user:token@github.com/org/repo", "git://github.com/org/repo.git"])
def test_repository_urls_compare_without_scheme_credentials_or_suffix(url):
    assert repo_key(url) == "github.com/org/repo"


def test_a_signed_delivery_is_bound_to_the_syncs_repository_and_ref():
    payload = {"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/org/repo.git", "full_name": "org/repo"}}
    assert bound("shop", payload, "git@github.com:org/repo.git", "main")
    assert not bound("shop", {**payload, "ref": "refs/heads/dev"}, "https://github.com/org/repo", "main")
    assert bound("shop", {**payload, "ref": "refs/heads/dev"}, "https://github.com/org/repo", "0123abcd")  # pinned: any push
    with pytest.raises(Refused, match="about repository 'org/repo', not the source of sync 'shop'"):
        bound("shop", payload, "https://github.com/org/other", "main")
    with pytest.raises(Refused, match="reads no git repository"):
        bound("shop", payload, None, None)
    assert payload_of(b"payload=%7B%22a%22%3A1%7D", "application/x-www-form-urlencoded") == {"a": 1}
    with pytest.raises(Refused):
        payload_of(b"[1]", "application/json")


def test_deliveries_are_remembered_per_sync_bounded_and_for_a_while():
    clock = Clock()
    d = Deliveries(limit=2, ttl=10, clock=clock)
    first = Deliveries.keys("shop", {"x-github-delivery": "1"}, b"body")
    assert not d.seen(first)
    d.remember(first)
    assert d.seen(first) and d.seen(Deliveries.keys("shop", {}, b"body"))
    assert not d.seen(Deliveries.keys("blog", {"x-github-delivery": "1"}, b"body"))
    assert not d.seen(Deliveries.keys("shop", {}, None))  # an unsigned body is not a delivery's identity
    clock.now += 10
    assert not d.seen(first)


def request(headers: dict[str, str], peer: str = "127.0.0.1", scheme: str = "http") -> Request:
    return Request({"type": "http", "scheme": scheme, "client": (peer, 5000), "server": ("127.0.0.1", 9090), "path": "/",
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "query_string": b""})


def test_forwarded_headers_are_believed_only_from_a_trusted_proxy():
    proxies = networks(["10.0.0.0/8"])
    forwarded = {"X-Forwarded-For": "203.0.113.7, 10.1.2.3", "X-Forwarded-Proto": "https"}
    assert client_address(request(forwarded, peer="10.9.9.9"), proxies) == "203.0.113.7"
    assert is_https(request(forwarded, peer="10.9.9.9"), proxies)
    assert client_address(request(forwarded, peer="192.0.2.1"), proxies) == "192.0.2.1"
    assert not is_https(request(forwarded, peer="192.0.2.1"), proxies)
    assert client_key("2001:db8::1") == client_key("2001:db8::2") == "2001:db8::/64"
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        networks(["nope"])


def test_the_host_check_passes_our_names_and_refuses_a_rebinding_name():
    loop = HostCheck("127.0.0.1", ["dash.example"])
    assert all(loop.allows(h) for h in ("127.0.0.1:9090", "localhost:9090", "[::1]:9090", "DASH.example.", "dash.example:443"))
    assert not any(loop.allows(h) for h in ("evil.example", "10.0.0.1", "", None, "dash.example.evil"))
    anywhere = HostCheck("0.0.0.0")
    assert anywhere.allows("10.0.0.1:9090") and anywhere.allows("[fd00::1]") and not anywhere.allows("evil.example")
    assert anywhere.allows("kubesync-metrics.kubesync-system.svc:9090") and anywhere.allows("k.ns.svc.cluster.local")
    assert not anywhere.allows("evil.svc.example.com") and not loop.allows("k.ns.svc")


def test_a_lease_record_no_replica_wrote_is_a_conflict():
    known = known_holders("me")
    assert conflict(default_identity(), 15, known, 60) == "" and conflict("me", 15, known, 60) == ""
    assert conflict("", 2_000_000_000, known, 60) == ""  # released
    assert "not a replica identity" in conflict("mallory", 15, known, 60)
    assert "leaseDurationSeconds 2000000000 is outside 1..60" in conflict(default_identity(), 2_000_000_000, known, 60)
    assert known_holders("me", "kubesync-.*")("kubesync-a") and not known_holders("me", "kubesync-.*")("x")


def test_leases_live_in_the_daemons_own_namespace(tmp_path):
    file = tmp_path / "namespace"
    assert own_namespace({"POD_NAMESPACE": "ops"}, str(file)) == "ops"
    file.write_text("platform\n")
    assert own_namespace({}, str(file)) == "platform"
    assert own_namespace({}, str(tmp_path / "absent")) == "kubesync-system"


def test_identical_log_lines_are_written_five_times_a_minute_then_counted():
    clock = Clock()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RepeatFilter(limit=5, window=60, clock=clock))
    log = logging.getLogger("kubesync.test.repeats")
    log.addHandler(handler)
    log.propagate = False
    try:
        for _ in range(1000):
            log.error("accept() failed: Too many open files")
        log.error("another line")
        clock.now += 60
        log.error("accept() failed: Too many open files")
    finally:
        log.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 7, lines
    assert "further identical lines this minute are counted" in lines[4]
    assert lines[6].endswith("(the same line 995 more time(s) in the last minute, not written)")
