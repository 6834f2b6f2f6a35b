"""Findings 4, 5 and the plan-file part of 8: no Secret value, nor an unkeyed hash of one, leaves the process.

Canary values (raw and base64) go through a real folder source, every plan format, log records,
the command line's error line (as a server quoting a value would produce) and the saved plan file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import secrets
import stat

import pytest

from kubesync import cli, planfile
from kubesync.errors import ApplyFailed, UsageError
from kubesync.logs import setup
from kubesync.model import Action, ActionType, ObjectRef, Plan
from kubesync.render import render
from kubesync.render.mask import ADDED, CHANGED, PLACEHOLDER, REMOVED, UNCHANGED
from kubesync.secrets import REDACTOR, redact
from kubesync.render.text import render_diff
from kubesync.sources import SourceSpec, load

REF = ObjectRef("", "v1", "Secret", "shop", "creds")


def canary(what: str) -> str:
    return f"canary-{what}-{secrets.token_hex(6)}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms(value: str) -> list[str]:
    return [value, b64(value), b64(value).rstrip("="), value[-12:]]


def hashes(value: str) -> list[str]:
    """Unkeyed hashes a marker could have carried (the old `*** (sha256:xxxxxxxx)`), of raw and base64."""
    return [hashlib.new(algo, v.encode()).hexdigest()[:8] for algo in ("sha256", "sha1", "md5") for v in (value, b64(value))]


def secret(**values: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "shop"},
            "data": {k: b64(v) for k, v in values.items()}}


@pytest.fixture(autouse=True)
def _fresh_redactor_and_logging():
    """Each test starts from a process that has seen no Secret; logging set up by a test is undone."""
    REDACTOR.forget()
    logger = logging.getLogger("kubesync")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
    REDACTOR.forget()


def assert_clean(text: str, values: list[str], where: str) -> None:
    for value in values:
        for form in forms(value):
            assert form not in text, f"{where}: Secret value form {form!r} leaked"
        for digest in hashes(value):
            assert digest not in text, f"{where}: an unkeyed hash of a Secret value is shown"


def canary_plan(values: dict[str, str]) -> Plan:
    before = secret(pin=values["pin"], kept=values["kept"], gone=values["gone"])
    after = secret(pin=values["new_pin"], kept=values["kept"], fresh=values["fresh"])
    update = Action(ActionType.UPDATE, REF, desired=after, live=before,
                    patch=({"op": "replace", "path": "/data/pin", "value": b64(values["new_pin"])},),
                    note=f"server said: invalid value {values['new_pin']!r}")
    create = Action(ActionType.CREATE, ObjectRef("", "v1", "Secret", "shop", "new"), desired=secret(token=values["token"]))
    return Plan("shop", "manifests", "sha256:0", (update, create),
                warnings=(f"admission webhook denied: {b64(values['token'])} is weak",))


def test_every_plan_format_masks_values_with_markers_that_carry_no_hash():
    values = {k: canary(k) for k in ("pin", "new_pin", "kept", "gone", "fresh", "token")}
    values["pin"] = "123456"  # a 6-digit PIN: the old 32-bit marker gave it away in half a second
    plan = canary_plan(values)
    outputs = {fmt: render(plan, fmt) for fmt in ("text", "json", "markdown")}
    outputs["diff"] = render_diff(plan)
    for fmt, out in outputs.items():
        assert_clean(out, list(values.values()), fmt)
    masked = json.loads(outputs["json"])["actions"][0]
    assert masked["live"]["data"] == {"pin": PLACEHOLDER, "kept": UNCHANGED, "gone": REMOVED}
    assert masked["desired"]["data"] == {"pin": CHANGED, "kept": UNCHANGED, "fresh": ADDED}
    markers = set(re.findall(r"\*\*\*(?: \([^)]*\))?", "".join(outputs.values())))
    assert markers <= {PLACEHOLDER, CHANGED, UNCHANGED, ADDED, REMOVED}, markers


def test_values_read_from_a_source_are_scrubbed_from_logs_and_errors(tmp_path, capsys):
    password, token = canary("password"), canary("token")
    (tmp_path / "s.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {password}}}\n"
        f"data: {{token: {b64(token)}}}\n"
    )
    load(SourceSpec(path=str(tmp_path)))  # the process has now seen both values
    stream = io.StringIO()
    for fmt in ("text", "json"):
        setup(debug=True, fmt=fmt, stream=stream)
        log = logging.getLogger("kubesync.test")
        log.info("server echoed %s and %s", password, b64(token))
        try:
            raise RuntimeError(f"webhook rejected stringData.password={password}")
        except RuntimeError:
            log.exception("apply failed for %s", token)
    logged = stream.getvalue()
    assert "server echoed *** and ***" in logged and "webhook rejected" in logged
    assert_clean(logged, [password, token], "log")


def test_the_error_line_scrubs_a_value_the_server_quoted(tmp_path, monkeypatch, capsys):
    """`kubesync apply` failing with the API server's (or a webhook's) message that quotes a value."""
    password = canary("echoed")
    (tmp_path / "s.yaml").write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {password}}}\n")

    def run(args):
        load(SourceSpec(path=str(tmp_path)))
        raise ApplyFailed([f's.yaml:1: v1 Secret default/creds: admission webhook "policy" denied: "{password}" is too short'])

    from kubesync.commands import plan as plan_command
    monkeypatch.setattr(plan_command, "run", run)
    assert cli.main(["plan", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert 'denied: "***" is too short' in err
    assert_clean(err, [password], "stderr")


def test_redact_is_the_one_function_for_the_dashboard_and_alerts():
    token = canary("alert")
    REDACTOR.remember([secret(token=token)])
    assert redact(f"last run failed: {token} / {b64(token)}") == "last run failed: *** / ***"


def saved(values: dict[str, str]) -> planfile.SavedPlan:
    return planfile.SavedPlan(canary_plan(values), SourceSpec(path="manifests"), "shop")


def test_plan_out_replaces_an_existing_0644_file_with_a_0600_one(tmp_path):
    values = {k: canary(k) for k in ("pin", "new_pin", "kept", "gone", "fresh", "token")}
    path = tmp_path / "plan.json"
    path.write_text("old, world-readable\n")
    path.chmod(0o644)
    old_inode = path.stat().st_ino
    planfile.write(str(path), saved(values))
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_ino != old_inode  # a new file renamed into place, not the old one rewritten
    assert planfile.read(str(path)).plan.actions[0].desired["data"]["pin"] == b64(values["new_pin"])
    assert sorted(os.listdir(tmp_path)) == ["plan.json"]  # no temp file left behind


def test_plan_out_never_writes_through_a_symlink(tmp_path):
    values = {k: canary(k) for k in ("pin", "new_pin", "kept", "gone", "fresh", "token")}
    target = tmp_path / "shared-readable.json"
    target.write_text("{}\n")
    target.chmod(0o644)
    link = tmp_path / "plan.json"
    link.symlink_to(target)
    with pytest.raises(UsageError) as info:
        planfile.write(str(link), saved(values))
    assert "is a symlink" in str(info.value)
    assert target.read_text() == "{}\n" and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["plan.json", "shared-readable.json"]


def test_the_saved_plan_holds_no_unkeyed_hash_and_its_values_are_remembered(tmp_path):
    values = {k: canary(k) for k in ("pin", "new_pin", "kept", "gone", "fresh", "token")}
    path = tmp_path / "plan.json"
    planfile.write(str(path), saved(values))
    REDACTOR.forget()
    planfile.read(str(path))  # apply --plan in a new process: the file's values are now known
    assert redact(f"server: {values['token']}") == "server: ***"
