"""Alerts: a sync that fails or recovers, a managed object that turns Degraded or recovers.

`Transitions` (pure) remembers the last state per (sync, object) and yields an alert only when it
changes, so a sync failing on every retry alerts once. `Notifier` delivers the alerts as a JSON POST
(kubesync's event, or Slack's `{"text": ...}`) from its own thread, retrying with backoff, so a slow
webhook never holds up a sync. Only the leader sends; followers keep their memory up to date so a
new leader does not repeat what the old one already said.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, replace
from typing import Callable

from kubesync.daemon.settings import AlertSettings
from kubesync.errors import cut
from kubesync.health import Health, HealthStatus
from kubesync.vocab import short_revision

log = logging.getLogger(__name__)

SYNC_OK, SYNC_FAILED = "ok", "failed"
OBJECT_OK, OBJECT_DEGRADED = "ok", "degraded"


@dataclass(frozen=True)
class Alert:
    """One transition worth telling a person about."""

    event: str  # sync_failed, sync_recovered, object_degraded, object_recovered
    sync: str
    message: str
    object: str = ""
    revision: str = ""
    time: str = ""

    def summary(self) -> str:
        what = f"{self.object} in sync {self.sync}" if self.object else f"sync {self.sync}"
        verb = {
            "sync_failed": "failed",
            "sync_recovered": "recovered",
            "object_degraded": "is Degraded",
            "object_recovered": "recovered",
        }[self.event]
        rev = f" (revision {short_revision(self.revision, 12)})" if self.revision else ""
        return f"{what} {verb}{rev}: {self.message}"

    def text(self) -> str:
        """For chat: an icon, then the summary."""
        icon = {"sync_failed": ":x:", "object_degraded": ":warning:"}.get(self.event, ":white_check_mark:")
        return f"{icon} kubesync: {self.summary()}"


def payload(alert: Alert, fmt: str) -> bytes:
    body = {"text": alert.text()} if fmt == "slack" else {k: v for k, v in asdict(alert).items() if v != ""}
    return json.dumps(body, sort_keys=True).encode()


class Transitions:
    """Last known state per key; `update` returns the previous state when it changed, else None."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def update(self, key: tuple[str, str], state: str, initial: str) -> str | None:
        """`initial` is the state assumed before the first observation (no alert to get there)."""
        with self._lock:
            before = self._state.get(key, initial)
            self._state[key] = state
        return before if before != state else None

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._state.pop(key, None)

    def count(self, sync: str, state: str) -> int:
        with self._lock:
            return sum(1 for (s, obj), v in self._state.items() if s == sync and obj and v == state)


def object_state(health: Health) -> str | None:
    """Degraded, ok (Healthy, Suspended), or None for states that are neither (Progressing, Missing...)."""
    if health.status is HealthStatus.DEGRADED:
        return OBJECT_DEGRADED
    if health.status in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
        return OBJECT_OK
    return None


def scrub(text: str) -> str:
    """The one place an alert's text is cleaned before it is logged or sent: an error may quote a
    Secret value (an admission webhook's message) or a URL's credentials."""
    from kubesync.secrets import redact

    return redact(text)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Notifier:
    def __init__(self, settings: AlertSettings | None, may_send: Callable[[str], bool] = lambda sync: True,
                 on_result: Callable[[str], None] = lambda result: None):
        self.settings = settings
        self.may_send = may_send
        self.on_result = on_result
        self.transitions = Transitions()
        self._queue: "queue.Queue[Alert | None]" = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- observations (called by the workers) ----------------------------------------------------------

    def sync_result(self, sync: str, ok: bool, message: str = "", revision: str = "") -> None:
        before = self.transitions.update((sync, ""), SYNC_OK if ok else SYNC_FAILED, SYNC_OK)
        if before is None:
            return
        event = "sync_recovered" if ok else "sync_failed"
        self._emit(Alert(event, sync, message or ("syncing again" if ok else "failed"), revision=revision, time=_now()))

    def object_health(self, sync: str, ref: str, health: Health) -> None:
        state = object_state(health)
        if state is None:
            return
        before = self.transitions.update((sync, ref), state, OBJECT_OK)
        if before is None:
            return
        event = "object_degraded" if state == OBJECT_DEGRADED else "object_recovered"
        self._emit(Alert(event, sync, health.reason or health.status.value, object=ref, time=_now()))

    def object_gone(self, sync: str, ref: str) -> None:
        self.transitions.forget((sync, ref))

    def degraded(self, sync: str) -> int:
        return self.transitions.count(sync, OBJECT_DEGRADED)

    def _emit(self, alert: Alert) -> None:
        alert = replace(alert, message=scrub(alert.message))
        level = logging.WARNING if alert.event in ("sync_failed", "object_degraded") else logging.INFO
        log.log(level, "alert %s: %s", alert.event, alert.summary(), extra={"sync": alert.sync})
        if self.settings is None:
            return
        if not self.may_send(alert.sync):
            log.debug("not the leader: alert %s not sent", alert.event)
            return
        self._queue.put(alert)

    # -- delivery ------------------------------------------------------------------------------------------

    def start(self) -> "Notifier":
        if self.settings is not None:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within `timeout`), then stop."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._stop.set()

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            self.on_result("sent" if self.deliver(alert) else "failed")

    def deliver(self, alert: Alert) -> bool:
        assert self.settings is not None
        data = payload(alert, self.settings.format)
        attempts = (0.0, *self.settings.retry_backoff)
        for n, pause in enumerate(attempts):
            if pause and self._stop.wait(pause):
                break
            try:
                req = urllib.request.Request(self.settings.url, data=data, method="POST",
                                             headers={"Content-Type": "application/json", "User-Agent": "kubesync"})
                with urllib.request.urlopen(req, timeout=self.settings.timeout) as resp:
                    if 200 <= resp.status < 300:
                        return True
                    why = f"HTTP {resp.status}"
            except urllib.error.HTTPError as e:
                why = f"HTTP {e.code}"
                if 400 <= e.code < 500 and e.code not in (408, 429):
                    log.warning("alert %s refused by the webhook (%s); not retried", alert.event, why)
                    return False
            except (urllib.error.URLError, OSError) as e:
                why = cut(str(getattr(e, "reason", e)), 120)  # never the URL: it may hold a token
            log.warning("alert %s not delivered (%s); attempt %d of %d", alert.event, why, n + 1, len(attempts),
                        extra={"sync": alert.sync})
        log.error("alert %s for sync %s given up after %d attempts", alert.event, alert.sync, len(attempts), extra={"sync": alert.sync})
        return False
