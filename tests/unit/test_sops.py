"""SOPS files: detection, key files, the sops environment, sealed Secrets in plans, saved-plan markers."""

from __future__ import annotations

import pytest

from kubesync.errors import DecryptionError
from kubesync.model import SOPS_DIGEST_ANNOTATION, Action, ActionType, Manifest, ObjectRef, Origin, Plan
from kubesync.plan import CHANGED_ENCRYPTED, plan_sealed
from kubesync.planfile import SOPS_MARKER, SavedPlan, to_dict
from kubesync.resolve import Resolved
from kubesync.secrets import redact
from kubesync.settings import PlanSettings
from kubesync.sources import keys, sops

ENCRYPTED_YAML = b"""apiVersion: v1
kind: Secret
stringData:
    pw: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]
sops:
    age:
        - recipient: age1example
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
    hc_vault:
        - vault_address: http://10.0.0.1:8200
    mac: ENC[AES256_GCM,data:zzz,iv:x,tag:y,type:str]
"""
IDENTITY = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ5ZQ8JS"


def test_encrypted_files_are_told_from_plain_ones_by_their_metadata():
    assert sops.is_encrypted(ENCRYPTED_YAML, "yaml")
    assert not sops.is_encrypted(b"kind: Secret\nstringData: {sops: 'mac: ENC[x'}\n", "yaml")  # not a top-level block
    assert sops.is_encrypted(b'{"data": "ENC[x]", "sops": {"mac": "ENC[AES256_GCM,data:x]"}}', "json")
    assert sops.is_encrypted(b"A=ENC[x]\nsops_mac=ENC[AES256_GCM,data:x]\n", "dotenv")
    assert [sops.file_format(p) for p in ("a.yaml", "b.JSON", "c.env", "d.ini", "e.pem")] == ["yaml", "json", "dotenv", "ini", "binary"]


def test_recipients_are_read_from_the_metadata_for_messages():
    who = sops.recipients(ENCRYPTED_YAML, "yaml")
    assert who.age == ("age1example",) and who.others == ("Vault",)
    assert sops.recipients(b"sops_age__list_0__map_recipient=age1flat\nsops_kms__list_0__map_arn=x\n", "dotenv").age == ("age1flat",)
    assert sops.short_recipient("age1pq1" + "q" * 2000).endswith("..." + "q" * 12)


def test_a_file_without_an_age_recipient_is_refused_before_sops_runs():
    only_vault = ENCRYPTED_YAML.replace(
        b"    age:\n        - recipient: age1example\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n", b"")
    with pytest.raises(DecryptionError, match=r"^x.yaml: SOPS-encrypted for a Vault key only; kubesync decrypts age keys"):
        sops.decrypt(only_vault, "yaml", keys.Keys((IDENTITY,), ("k",)), "x.yaml")


def test_key_files_never_echo_a_line_and_identities_are_redacted(tmp_path):
    bad = tmp_path / "k.txt"
    bad.write_text("# comment\nnot-a-key-but-secret-text\n")
    with pytest.raises(DecryptionError) as e:
        keys.read_file(str(bad))
    assert ":2: not an age identity" in str(e.value) and "secret-text" not in str(e.value)
    good = tmp_path / "good.txt"
    good.write_text(f"# created\n{IDENTITY}\n")
    found = keys.read_file(str(good))
    assert found.identities == (IDENTITY,) and IDENTITY not in repr(found)
    assert redact(f"key {IDENTITY}") == "key ***"


def test_a_replaced_key_file_is_read_again_an_unchanged_one_is_not(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text(IDENTITY + "\n")
    first = keys.read_file(str(path))
    other = IDENTITY[:-8] + "QQQQQQQQ"
    replacement = tmp_path / "new.txt"
    replacement.write_text(other + "\n")
    replacement.replace(path)  # how a mounted Secret is updated: a new file renamed over the old one
    assert keys.read_file(str(path)).identities == (other,) != first.identities


def test_a_decryption_secret_gives_its_agekey_entries_as_flux_does():
    import base64

    data = {"age.agekey": base64.b64encode(IDENTITY.encode()).decode(), "other": "eA=="}
    assert keys.from_secret({"data": data}, "ns/s").identities == (IDENTITY,)
    with pytest.raises(DecryptionError, match="has no entry named \\*.agekey"):
        keys.from_secret({"data": {"other": "eA=="}}, "ns/s")
    with pytest.raises(DecryptionError, match="does not exist"):
        keys.from_secret(None, "ns/s")


def test_sops_runs_in_an_environment_built_from_scratch(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", "curl evil")
    env = sops.environment("/tmp/h", keys.Keys((IDENTITY,), ("k",)))
    assert "AWS_SECRET_ACCESS_KEY" not in env and "SOPS_AGE_KEY_CMD" not in env
    assert env["SOPS_AGE_KEY"] == IDENTITY and env["HOME"] == "/tmp/h" and env["SOPS_DISABLE_VERSION_CHECK"] == "1"
    assert env["HTTPS_PROXY"] == sops.CLOSED_PROXY


def sealed_resolved(digest: str) -> Resolved:
    ref = ObjectRef("", "v1", "Secret", "shop", "db")
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop",
                                                                "annotations": {SOPS_DIGEST_ANNOTATION: digest}}}
    from kubesync.model import ResourceType

    return Resolved(Manifest(ref, obj, Origin("db.yaml"), sealed=True), ResourceType("", "v1", "Secret", "secrets", True), obj)


def live_secret(digest: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "data": {"pw": "eA=="},
            "metadata": {"name": "db", "namespace": "shop", "uid": "u", "resourceVersion": "7",
                         "labels": {"app.kubernetes.io/managed-by": "kubesync", "kubesync.io/sync": "s"},
                         "annotations": {SOPS_DIGEST_ANNOTATION: digest}}}


def test_a_sealed_secret_is_never_written_against_a_cluster():
    settings = PlanSettings(sync="s")
    same, note = plan_sealed(sealed_resolved("sha256:a"), live_secret("sha256:a"), settings)
    assert same.type is ActionType.NOOP and note is None
    changed, note = plan_sealed(sealed_resolved("sha256:b"), live_secret("sha256:a"), settings)
    assert changed.type is ActionType.NOOP and CHANGED_ENCRYPTED in note and "db.yaml" in note
    missing, note = plan_sealed(sealed_resolved("sha256:b"), None, settings)
    assert missing is None and "not created by this plan" in note


def test_compare_shows_a_sealed_secret_whose_ciphertext_changed_as_one_update():
    settings = PlanSettings(sync="s", offline=True)
    action, _ = plan_sealed(sealed_resolved("sha256:b"), live_secret("sha256:a"), settings)
    assert action.type is ActionType.UPDATE and action.note == CHANGED_ENCRYPTED
    assert action.patch == ({"op": "replace", "path": "/metadata/annotations/kubesync.io~1sops-digest", "value": "sha256:b"},)
    assert plan_sealed(sealed_resolved("sha256:a"), live_secret("sha256:a"), settings)[0].type is ActionType.NOOP


def test_a_saved_plan_keeps_markers_for_decrypted_values():
    ref = ObjectRef("", "v1", "Secret", "shop", "db")
    desired = {**live_secret("sha256:a"), "data": {"pw": "bmV3LXZhbHVl"}}
    action = Action(ActionType.UPDATE, ref, 3, Origin("db.yaml"), patch=({"op": "replace", "path": "/data/pw", "value": "bmV3LXZhbHVl"},),
                    desired=desired, live=live_secret("sha256:a"), uid="u", resource_version="7")
    doc = to_dict(SavedPlan(Plan("s", "src", "r", (action,))))
    assert doc["reopen_sops"] == ["v1 Secret shop/db"]
    saved = doc["actions"][0]
    assert saved["desired"]["data"] == {"pw": SOPS_MARKER} and saved["live"]["data"] == {"pw": SOPS_MARKER}
    assert saved["patch"] == [{"op": "replace", "path": "/data/pw", "value": SOPS_MARKER}]
