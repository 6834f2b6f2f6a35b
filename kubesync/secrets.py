"""Redaction: no Secret value and no credential leaves the process in free text.

``remember()`` is told every Secret the process sees (desired manifests, live objects, saved plans);
``redact(text)`` scrubs each of their values, raw and in base64, plus credentials in URLs and
authorization headers, from any text: errors, log records (``kubesync.logs``), stdout and stderr,
the daemon's pages and alerts. A server or webhook that quotes a value is scrubbed the same way.

What identifies *where* and *what* is never rewritten: ``remember_names()`` is told the file paths,
kinds, namespaces, names and field names the process has seen, and a value found only inside one of
them (the password ``quobyte`` inside ``quobyte-admin-secret.yaml``) stays visible there, so an error
still names its file and object. The same value standing on its own (a server quoting it) is
scrubbed. Names are not secret: whoever reads the message can read the cluster's or the source's names.

Masking of objects and patches in rendered plans (markers like ``*** (changed)``) is
``kubesync.render.mask``'s job; this module is the ground floor every layer may import.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

from kubesync.vocab import is_secret

PLACEHOLDER = "***"
VALUE_FIELDS = ("data", "stringData")
MIN_REDACT = 6  # shorter values would mangle ordinary words in free text: they are scrubbed only where quoted
MIN_PREFIX = MIN_REDACT  # a value cut short by a message limit (`... (812 chars)`) is scrubbed from this many characters on
CUT_MARKERS = ("... (", "...|", "…")
_PEM_ARMOR = re.compile(r"^-----(BEGIN|END) [A-Z0-9 ]+-----$")

# --- credentials in URLs and headers ------------------------------------------------------------

_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]*@")
# Query parameters that carry a credential (GitLab, GitHub, Azure SAS, S3 presigned URLs, ...).
CREDENTIAL_PARAMS = ("token", "access_token", "private_token", "job_token", "oauth_token", "api_key", "apikey", "key",
                     "password", "passwd", "pwd", "secret", "client_secret", "auth", "sig", "signature", "x-amz-signature",
                     "x-amz-credential", "x-goog-signature", "code")
_QUERY_CREDENTIAL = re.compile(r"([?&;](?:" + "|".join(map(re.escape, CREDENTIAL_PARAMS)) + r")=)[^&#\s'\"]+", re.I)
# An authorization header's value; never a plain word that follows one ("aws eks get-token --cluster prod").
_AUTH_HEADER = re.compile(r"(?<![\w-])((?:Bearer|Basic|token)\s+)(?!-)[A-Za-z0-9._~+/=-]{8,}")


def redact_credentials(text: str) -> str:
    """Remove credentials from every URL in a text (`user:password@`, `?token=`, `access_token=` ...)
    and from authorization headers quoted in it: they never reach output or logs."""
    text = _USERINFO.sub(r"\1", str(text))
    text = _QUERY_CREDENTIAL.sub(r"\1***", text)
    return _AUTH_HEADER.sub(r"\1***", text)


def has_query_credential(url: str) -> bool:
    """Whether a URL carries a credential in its query string (git would show it on a command line)."""
    return bool(_QUERY_CREDENTIAL.search(url))


# --- the values of Secrets ----------------------------------------------------------------------


def secret_bytes(value: Any, field: str) -> bytes:
    """The bytes a Secret value stands for: `data` values are base64, `stringData` values are text."""
    text = value if isinstance(value, str) else repr(value)
    if field == "data" and isinstance(value, str):
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            pass
    return text.encode("utf-8")


def value_forms(value: str, field: str) -> set[str]:
    """The ways a Secret value can appear in text: as written, raw, base64 (padded, unpadded, URL-safe),
    hex, URL-encoded, JSON-escaped (once and twice: a server quoting a webhook quoting the object), and
    each line of a multi-line value (a PEM key quoted over several lines)."""
    raw = secret_bytes(value, field)
    encoded = base64.b64encode(raw).decode("ascii")
    forms = {value, encoded, encoded.rstrip("="), base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
             raw.hex(), raw.hex().upper(), quote(raw, safe=""), quote_plus(raw, safe="")}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    for t in (value, text):
        if t is None:
            continue
        once = json.dumps(t)[1:-1]
        forms |= {t, once, json.dumps(once)[1:-1], repr(t)[1:-1]}
        forms |= {line.strip() for line in t.splitlines() if not _PEM_ARMOR.match(line.strip())}
    return {f for f in forms if f}


def _annotations(obj: Any) -> dict:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def secret_values(objects: Iterable[Any]) -> set[str]:
    """Every raw and base64 form of the values of the Secrets among ``objects``, for `redact`."""
    found: set[str] = set()
    for obj in objects:
        if not is_secret(obj):
            continue
        for field in VALUE_FIELDS:
            section = obj.get(field)
            if not isinstance(section, dict):
                continue
            for value in section.values():
                if isinstance(value, str) and value:
                    found |= value_forms(value, field)
        for value in _annotations(obj).values():
            if isinstance(value, str) and value and any(len(v) >= MIN_REDACT and v in value for v in found):
                found.add(value)  # a last-applied copy of the whole Secret
    return found


def object_names(objects: Iterable[Any]) -> set[str]:
    """What identifies each object in a message: kind, apiVersion, namespace, name, and a Secret's keys."""
    names: set[str] = set()
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        names.update(v for v in (obj.get("kind"), obj.get("apiVersion"), meta.get("namespace"), meta.get("name"))
                     if isinstance(v, str))
        if is_secret(obj):
            for field in VALUE_FIELDS:
                if isinstance(obj.get(field), dict):
                    names.update(k for k in obj[field] if isinstance(k, str))
    return names


# --- the redactor -------------------------------------------------------------------------------


class Redactor:
    """The Secret values this process has seen, one compiled pattern that finds any of them, and the
    names inside which a value is left alone (see the module docstring)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._short: set[str] = set()  # values under MIN_REDACT characters: scrubbed where quoted
        self._names: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._containing: dict[str, tuple[str, ...]] = {}  # value -> the longer names holding it
        self._lock = threading.Lock()

    def remember(self, objects: Iterable[Any]) -> None:
        objects = list(objects)
        self.remember_names(object_names(objects))
        self.remember_values(secret_values(objects))

    def remember_values(self, values: Iterable[str]) -> None:
        values = {v for v in values if isinstance(v, str) and v}
        new = {v for v in values if len(v) >= MIN_REDACT} - self._values
        short = {v for v in values if len(v) < MIN_REDACT} - self._short
        if new or short:
            with self._lock:
                self._values |= new
                self._short |= short
                self._pattern = None

    def remember_names(self, names: Iterable[str]) -> None:
        """File paths, kinds, namespaces, names and field names: where a value inside them is kept."""
        new = {n for n in names if isinstance(n, str) and len(n) > MIN_REDACT} - self._names
        if new:
            with self._lock:
                self._names |= new
                self._containing.clear()

    def pattern(self) -> re.Pattern[str] | None:
        """One pattern for every long value, and every short one standing between quotes."""
        with self._lock:
            if self._pattern is None and (self._values or self._short):
                self._pattern = _compile(self._values, self._short)
            return self._pattern

    def redact(self, text: str, values: Iterable[str] = ()) -> str:
        text = str(text)
        spans = self._matches(text, values)
        if spans:
            out, at = [], 0
            for start, end in spans:
                if not self._inside_a_name(text, start, end):
                    out += [text[at:start], PLACEHOLDER]
                    at = end
            text = "".join(out) + text[at:]
        return redact_credentials(text)

    def _matches(self, text: str, values: Iterable[str]) -> list[tuple[int, int]]:
        """Non-overlapping spans of Secret values in ``text``, leftmost first, the longest at each place:
        long values anywhere, short ones between quotes, and a value's beginning cut short by a limit."""
        found: list[tuple[int, int]] = []
        pattern = self.pattern()
        if pattern is not None:
            found += [m.span(m.lastgroup) for m in pattern.finditer(text)]
        values = {v for v in values if isinstance(v, str) and v}
        if values:
            found += [m.span(m.lastgroup) for m in _compile({v for v in values if len(v) >= MIN_REDACT},
                                                            {v for v in values if len(v) < MIN_REDACT}).finditer(text)]
        found += self._cut_prefixes(text, values)
        spans: list[tuple[int, int]] = []
        for start, end in sorted(found, key=lambda s: (s[0], -s[1])):
            if spans and start < spans[-1][1]:
                if end > spans[-1][1]:
                    spans[-1] = (spans[-1][0], end)
                continue
            spans.append((start, end))
        return spans

    def _cut_prefixes(self, text: str, extra: set[str]) -> list[tuple[int, int]]:
        """The beginning of a value right before a cut marker (`errors.cut`'s `... (N chars)`): a message cut short."""
        ends = [m.start() for marker in CUT_MARKERS for m in re.finditer(re.escape(marker), text)]
        if not ends:
            return []
        with self._lock:
            heads: dict[str, list[str]] = {}
            for v in self._values | {v for v in extra if len(v) > MIN_PREFIX}:
                if len(v) > MIN_PREFIX:
                    heads.setdefault(v[:MIN_PREFIX], []).append(v)
            longest = max((len(v) for vs in heads.values() for v in vs), default=0)
        out = []
        for end in ends:  # a prefix ending at `end`: text[start:end] == value[:end - start], at least MIN_PREFIX long
            for start in range(max(0, end - longest), end - MIN_PREFIX + 1):
                if any(v.startswith(text[start:end]) for v in heads.get(text[start:start + MIN_PREFIX], ())):
                    out.append((start, end))
                    break
        return out

    def _inside_a_name(self, text: str, start: int, end: int) -> bool:
        """Whether text[start:end] lies inside an occurrence of a longer name this process has seen."""
        value = text[start:end]
        with self._lock:
            holders = self._containing.get(value)
            if holders is None:
                holders = self._containing[value] = tuple(n for n in self._names if len(n) > len(value) and value in n)
        for name in holders:
            at = text.find(name, max(0, end - len(name)))
            while 0 <= at <= start:
                if at + len(name) >= end:
                    return True
                at = text.find(name, at + 1)
        return False

    def forget(self) -> None:
        """For tests: start from a process that has seen nothing."""
        with self._lock:
            self._values.clear()
            self._short.clear()
            self._names.clear()
            self._containing.clear()
            self._pattern = None


def _compile(long: set[str], short: set[str]) -> re.Pattern[str]:
    """Long values anywhere (longest first), short ones only between quotes: a match's `lastgroup` is its value."""
    parts = ["(?P<v>" + "|".join(map(re.escape, sorted(long, key=len, reverse=True))) + ")"] if long else []
    if short:
        quoted = "|".join(map(re.escape, sorted(short, key=len, reverse=True)))
        parts.append(r"(?<=[\"'`])(?P<w>" + quoted + r")(?=[\"'`])")
    return re.compile("|".join(parts))


REDACTOR = Redactor()
remember = REDACTOR.remember
remember_values = REDACTOR.remember_values
remember_names = REDACTOR.remember_names


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` without any Secret value this process has seen (nor ``values``), nor credentials, keeping
    the names that say where and what."""
    return REDACTOR.redact(text, values)
