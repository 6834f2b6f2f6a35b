"""What a verified webhook delivery may trigger: the sync whose source it is about, once.

GitHub's (Gitea's, Forgejo's) X-Hub-Signature-256 is an HMAC of the body alone: the URL, and so the
sync's name in /webhook/<sync>, is not covered. A signed delivery is therefore bound to a sync
through what the signature does cover: the payload's `repository` must name the sync's git
repository (any of its clone, ssh, git or html URLs, compared without scheme, credentials, `.git`
and case), or the delivery is refused; a push to a ref the sync does not follow is accepted and
ignored (no run). A sync that reads no git repository cannot be bound, so signed deliveries for it
are refused (use a token form). The token forms (X-Gitlab-Token, a bearer token) sign nothing: the
token proves its sender holds the receiver's secret, which lets it trigger any sync by name.

Replays: a signed body is accepted once per sync (its digest is remembered), and so is a delivery id
(X-GitHub-Delivery, X-Gitea-Delivery, X-Forgejo-Delivery, X-Gitlab-Event-UUID) whatever the
authentication. The memory is bounded: MAX_DELIVERIES entries, each forgotten after DELIVERY_TTL,
so a replay older than that is accepted, and causes what the original did: one run of the sync.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from kubesync.daemon.web.refusal import Refused

MAX_DELIVERIES = 10_000
DELIVERY_TTL = 24 * 3600.0
ID_HEADERS = ("x-github-delivery", "x-gitea-delivery", "x-forgejo-delivery", "x-gitlab-event-uuid")
URL_FIELDS = ("clone_url", "ssh_url", "git_url", "html_url", "url", "svn_url")
_SHA = re.compile(r"[0-9a-f]{7,64}")


def repo_key(url: str) -> str:
    """`https://u:p@GitHub.com/Org/Repo.git/` and `git@github.com:org/repo` -> `github.com/org/repo`."""
    url = url.strip()
    scp = re.match(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$", url)
    if scp and "://" not in url:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(url)
        host, path = (parts.hostname or ""), parts.path
        if parts.scheme in ("", "file"):
            host = ""
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"{host.lower()}/{path.lower()}" if host else "/" + path.lower()


def payload_of(body: bytes | bytearray, content_type: str) -> dict:
    """The delivery's JSON payload (GitHub's form encoding `payload=<json>` too); Refused when there is none."""
    try:
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            doc = json.loads(parse_qs(bytes(body).decode("utf-8"), max_num_fields=10).get("payload", ["null"])[0])
        else:
            doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise Refused(400, "a signed delivery must carry a JSON object naming its repository")
    return doc


def _wanted_refs(ref: str | None, payload: dict) -> set[str] | None:
    """The pushed refs the sync follows; None when any push may concern it (a pinned commit)."""
    if ref is None:
        default = (payload.get("repository") or {}).get("default_branch")
        return {f"refs/heads/{default}"} if isinstance(default, str) and default else None
    if ref.startswith("refs/"):
        return {ref}
    if _SHA.fullmatch(ref):
        return None
    return {f"refs/heads/{ref}", f"refs/tags/{ref}"}


def bound(sync: str, payload: dict, repo: str | None, ref: str | None) -> bool:
    """True when the delivery concerns the sync's source (a run is due); False for a push to another ref
    (ignored); Refused (403) when it is about another repository, or the sync reads none."""
    if not repo:
        raise Refused(403, f"sync {sync!r} reads no git repository, so a signed delivery cannot be bound to it; "
                           "trigger it with X-Gitlab-Token or a bearer token")
    repository = payload.get("repository")
    urls = [repository.get(k) for k in URL_FIELDS] if isinstance(repository, dict) else []
    if repo_key(repo) not in {repo_key(u) for u in urls if isinstance(u, str) and u}:
        named = repository.get("full_name") if isinstance(repository, dict) else None
        raise Refused(403, f"the delivery is about repository {str(named or 'none')[:200]!r}, "
                           f"not the source of sync {sync!r}")
    pushed, wanted = payload.get("ref"), _wanted_refs(ref, payload)
    return not (isinstance(pushed, str) and pushed.startswith("refs/") and wanted is not None and pushed not in wanted)


class Deliveries:
    """Deliveries accepted lately, per sync: a signed body or a delivery id is accepted once (bounded)."""

    def __init__(self, limit: int = MAX_DELIVERIES, ttl: float = DELIVERY_TTL, clock: Callable[[], float] = time.monotonic):
        self.limit, self.ttl, self.clock = limit, ttl, clock
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    @staticmethod
    def keys(sync: str, headers, body: bytes | bytearray | None) -> list[tuple[str, str, str]]:
        """What identifies a delivery: its id headers, and the digest of a signed body (None: not signed)."""
        out = [(sync, name, headers[name][:200]) for name in ID_HEADERS if headers.get(name)]
        if body is not None:
            out.append((sync, "body", hashlib.sha256(body).hexdigest()))
        return out

    def seen(self, keys: list[tuple[str, str, str]]) -> bool:
        now = self.clock()
        while self._seen and next(iter(self._seen.values())) <= now - self.ttl:
            self._seen.popitem(last=False)
        return any(k in self._seen for k in keys)

    def remember(self, keys: list[tuple[str, str, str]]) -> None:
        for key in keys:
            self._seen[key] = self.clock()
            self._seen.move_to_end(key)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
