"""Every form of a Secret value is scrubbed from every output (issue 31): as written, base64, hex,
URL-encoded, JSON-escaped once and twice, each line of a multi-line value (a PEM key quoted by an
admission webhook over several lines), a value cut short by a message limit, and short values where a
server quotes them. Generated values, each form put in a server's message, through the redactor, every
plan format and the log filter."""

from __future__ import annotations

import base64
import io
import json
import logging
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings, strategies as st

from kubesync.errors import cut
from kubesync.logs import JsonFormatter, RedactFilter
from kubesync.model import Action, ActionType, ObjectRef, Plan
from kubesync.render import render
from kubesync.secrets import MIN_REDACT, REDACTOR, redact, remember

ALPHABET = st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters='"\'`\\')
LONG = st.text(ALPHABET, min_size=MIN_REDACT, max_size=60)
SHORT = st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=MIN_REDACT - 1)
PEM = st.lists(st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
                       min_size=16, max_size=64), min_size=2, max_size=5).map(
    lambda lines: "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n")
REF = ObjectRef("", "v1", "Secret", "shop", "creds")


def forms(value: str) -> dict[str, str]:
    raw = value.encode()
    once = json.dumps(value)[1:-1]
    out = {"raw": value, "base64": base64.b64encode(raw).decode(), "hex": raw.hex(), "url": quote(raw, safe=""),
           "json": once, "json-in-json": json.dumps(once)[1:-1]}
    for i, line in enumerate(line for line in value.splitlines() if line.strip() and not line.startswith("-----")):
        out[f"line{i}"] = line
    return out


def remembered(value: str) -> None:
    REDACTOR.forget()
    remember([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "shop"},
               "stringData": {"value": value}}])


def outputs(message: str) -> dict[str, str]:
    """The message as each output path shows it: free text, a plan's warning in every format, a log line."""
    plan = Plan("shop", "src", "rev", (Action(ActionType.UPDATE, REF, note=message),), warnings=(message,))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("kubesync.test.redaction")
    log.addHandler(handler)
    try:
        log.warning("%s", message)
    finally:
        log.removeHandler(handler)
    out = {"redact": redact(message), "log": stream.getvalue()}
    out.update({fmt: render(plan, fmt) for fmt in ("text", "json", "markdown")})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(LONG, PEM))
def test_no_form_of_a_value_survives_any_output(value):
    remembered(value)
    for name, form in forms(value).items():
        if len(form) < MIN_REDACT:
            continue
        message = f'admission webhook "policy" denied: field value {form} is not allowed'
        for where, text in outputs(message).items():
            assert form not in text, f"{name} form leaked through {where}: {text[:300]!r}"


@settings(max_examples=40, deadline=None)
@given(value=LONG.filter(lambda v: len(v) > 12))
def test_a_value_cut_short_by_a_message_limit_leaks_no_prefix(value):
    remembered(value)
    message = cut("the server says: " + value + " " * 500, 17 + len(value) // 2 + 16)
    assert "... (" in message
    head = value[: len(value) // 2]
    assert head[:MIN_REDACT] not in redact(message)


@settings(max_examples=40, deadline=None)
@given(value=SHORT)
def test_a_short_value_is_scrubbed_where_a_server_quotes_it(value):
    remembered(value)
    for quoted in (f'Invalid value: "{value}"', f"value '{value}' refused", f'{{"pin":"{value}"}}'):
        assert f'"{value}"' not in redact(quoted) and f"'{value}'" not in redact(quoted)
    assert redact(f'Invalid value: "{value}"') == 'Invalid value: "***"'
