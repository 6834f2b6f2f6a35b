"""Secret masking: values never shown, changes still visible."""

from __future__ import annotations

import base64
import copy

from kubesync.model import ObjectRef
from kubesync.render.mask import (
    ADDED,
    CHANGED,
    KUBECTL_LAST_APPLIED,
    PLACEHOLDER,
    REMOVED,
    UNCHANGED,
    mask_pair,
    mask_patch,
    mask_secret,
)
from kubesync.secrets import REDACTOR, redact, remember, secret_values
from kubesync.vocab import is_secret

SECRET_REF = ObjectRef("", "v1", "Secret", "shop", "db")
CM_REF = ObjectRef("", "v1", "ConfigMap", "shop", "db")


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def secret(**data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {k: b64(v) for k, v in data.items()}}


def test_is_secret_only_for_core_secrets():
    assert is_secret(SECRET_REF) and is_secret(secret())
    assert not is_secret(CM_REF)
    assert not is_secret({"apiVersion": "example.com/v1", "kind": "Secret"})
    assert not is_secret(None)


def test_a_lone_secret_shows_only_placeholders():
    masked = mask_secret(secret(password="hunter2hunter2"))
    assert masked["data"] == {"password": PLACEHOLDER}
    assert "hunter2" not in str(masked) and b64("hunter2hunter2") not in str(masked)


def test_markers_carry_no_hash_and_say_what_happened():
    before = secret(user="admin-user", password="old-pass", gone="old-value")
    after = secret(user="admin-user", password="new-pass", new="new-value")
    mb, ma = mask_pair(before, after)
    assert mb["data"] == {"user": UNCHANGED, "password": PLACEHOLDER, "gone": REMOVED}
    assert ma["data"] == {"user": UNCHANGED, "password": CHANGED, "new": ADDED}
    markers = {PLACEHOLDER, UNCHANGED, CHANGED, ADDED, REMOVED}
    assert set(mb["data"].values()) | set(ma["data"].values()) <= markers


def test_string_data_and_the_same_value_as_data_are_unchanged():
    before = secret(password="same-value")
    after = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "same-value"}}
    assert mask_pair(before, after)[1]["stringData"] == {"password": UNCHANGED}
    assert mask_pair(secret(password="other-value"), after)[1]["stringData"] == {"password": CHANGED}


def test_a_created_secret_is_all_added_and_a_deleted_one_all_removed():
    s = secret(user="admin-user", password="pw-123456")
    assert mask_pair(None, s)[1]["data"] == {"user": ADDED, "password": ADDED}
    assert mask_pair(s, None)[0]["data"] == {"user": REMOVED, "password": REMOVED}


def test_mask_secret_does_not_mutate_and_leaves_other_kinds_alone():
    original = secret(password="p4ssw0rd-xyz")
    before = copy.deepcopy(original)
    mask_secret(original)
    assert original == before
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}
    assert mask_secret(cm) == cm and mask_secret(cm) is not cm
    assert mask_secret(None) is None


def test_null_values_stay_null():
    s = {"apiVersion": "v1", "kind": "Secret", "data": {"a": None}}
    assert mask_secret(s)["data"]["a"] is None


def test_last_applied_annotation_masked_entirely():
    s = secret(password="zzz-top-secret")
    s["metadata"]["annotations"] = {KUBECTL_LAST_APPLIED: '{"stringData":{"password":"zzz-top-secret"}}', "team": "x"}
    masked = mask_secret(s)
    assert masked["metadata"]["annotations"][KUBECTL_LAST_APPLIED].startswith(PLACEHOLDER)
    assert masked["metadata"]["annotations"]["team"] == "x"
    assert "zzz-top-secret" not in str(masked)


def test_mask_patch_masks_data_string_data_and_annotations():
    patch = [
        {"op": "replace", "path": "/data/password", "value": b64("new-pass-123")},
        {"op": "add", "path": "/stringData", "value": {"token": "tok-xyz-123"}},
        {"op": "test", "path": "/data/user", "value": b64("admin-user")},
        {"op": "replace", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration", "value": "{...new-pass-123...}"},
        {"op": "add", "path": "/metadata/annotations", "value": {KUBECTL_LAST_APPLIED: "new-pass-123", "team": "a"}},
        {"op": "add", "path": "/metadata/labels/app", "value": "db"},
        {"op": "remove", "path": "/data/old"},
        {"op": "move", "from": "/data/a", "path": "/data/b"},
    ]
    masked = mask_patch(SECRET_REF, patch)
    text = str(masked)
    for raw in ("new-pass-123", "tok-xyz-123", "admin-user"):
        assert raw not in text and b64(raw) not in text
    assert [op.get("value") for op in masked[:4]] == [CHANGED, {"token": ADDED}, PLACEHOLDER, CHANGED]
    assert masked[4]["value"]["team"] == "a"
    assert masked[5]["value"] == "db"
    assert masked[6] == {"op": "remove", "path": "/data/old"}
    assert masked[7] == {"op": "move", "from": "/data/a", "path": "/data/b"}
    assert patch[0]["value"] == b64("new-pass-123")  # the input is not touched


def test_mask_patch_whole_object_and_other_kinds():
    whole = mask_patch(SECRET_REF, [{"op": "replace", "path": "", "value": secret(password="whole-object-pw")}])
    assert "whole-object-pw" not in str(whole) and b64("whole-object-pw") not in str(whole)
    op = {"op": "replace", "path": "/data/password", "value": "plain"}
    assert mask_patch(CM_REF, [op]) == (op,)


def test_redact_free_text_by_known_values():
    values = secret_values([secret(password="leaky-password")])
    assert b64("leaky-password") in values and "leaky-password" in values
    assert redact("failed: leaky-password rejected", values) == f"failed: {PLACEHOLDER} rejected"
    assert redact("short a", {"a"}) == "short a"  # too short to redact safely


def test_the_redactor_scrubs_every_secret_the_process_has_seen():
    REDACTOR.forget()
    try:
        assert redact("echo: seen-later-value") == "echo: seen-later-value"
        remember([secret(password="seen-later-value"), {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "not-a-secret"}}])
        text = f"server said seen-later-value and {b64('seen-later-value')} but not-a-secret"
        assert redact(text) == f"server said {PLACEHOLDER} and {PLACEHOLDER} but not-a-secret"
        assert redact("clone https://user:pa55word@git.example/r.git") == "clone https://git.example/r.git"
    finally:
        REDACTOR.forget()
