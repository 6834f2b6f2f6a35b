"""sources/ciphertext.py: SOPS ciphertext in a kustomize rendering, found, sealed or refused (opening it with sops is
the integration tests' part: tests/integration/test_sops.py)."""

from __future__ import annotations

import base64
import json

from kubesync.manifests import SourceFile, load_files
from kubesync.model import SOPS_DIGEST_ANNOTATION
from kubesync.sources import ciphertext
from kubesync.sources.keys import Keys

ENC = "ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]"
MAC = "ENC[AES256_GCM,data:zzz,iv:x,tag:y,type:str]"
DOTENV = f"password={ENC}\nsops_mac={MAC}\nsops_version=3.13.3\n"
ENCRYPTED_RESOURCE = (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData:\n  pw: {ENC}\n"
                      f"sops:\n  age: [{{recipient: age1example, enc: x}}]\n  mac: {MAC}\n")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def rendering(*docs: dict) -> SourceFile:
    return SourceFile("app/kustomization.yaml", "\n---\n".join(json.dumps(d) for d in docs).encode(), rendered=True)


def generated(**data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-5h2k8", "namespace": "shop"}, "data": data}


def test_ciphertext_is_found_as_it_is_base64_encoded_as_a_whole_file_or_as_sops_metadata():
    assert ciphertext.holds_ciphertext({"stringData": {"pw": ENC}})
    assert ciphertext.holds_ciphertext(generated(password=b64(ENC)))  # envs: one ENC value per key
    assert ciphertext.holds_ciphertext(generated(**{"app.yaml": b64(ENCRYPTED_RESOURCE)}))  # files: a whole file
    assert ciphertext.holds_ciphertext({"kind": "Secret", "sops": {}})
    assert not ciphertext.holds_ciphertext(generated(password=b64("plain"), note=b64("ENC is a word")))


def test_a_rendering_without_ciphertext_keeps_its_bytes_unparsed():
    f = SourceFile("k.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1'}\n", rendered=True)
    assert ciphertext.open_rendering(f, (), Keys(), sealed_ok=False).data is f.data


def test_without_the_key_a_generated_secret_is_sealed_with_the_digest_of_its_ciphertext():
    env = SourceFile("app/app.env", DOTENV.encode())
    secret = generated(password=b64(ENC), sops_mac=b64(MAC), sops_version=b64("3.13.3"))
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}
    opened = ciphertext.open_rendering(rendering(plain, secret), (env,), Keys(), sealed_ok=True)
    assert opened.problems == [] and opened.failures == [] and opened.sealed == {("shop", "app-5h2k8")}
    [cm, sealed] = [m.obj for m in load_files([SourceFile("k.yaml", opened.data)])]
    assert cm == plain
    assert "data" not in sealed and sealed["metadata"]["annotations"] == {
        SOPS_DIGEST_ANNOTATION: ciphertext.ciphertext_digest(secret)}
    again = ciphertext.open_rendering(rendering(plain, secret), (env,), Keys(), sealed_ok=True)
    assert again.data == opened.data  # the same ciphertext: the same digest, plan after plan


def test_ciphertext_no_file_of_the_kustomization_holds_is_refused_even_sealed():
    """A value copied (or made up) by the kustomization would be opened with keys meant for other files."""
    foreign = generated(password=b64(ENC.replace("abc=", "xyz=")))
    env = SourceFile("app/app.env", DOTENV.encode())
    for sealed_ok in (True, False):
        opened = ciphertext.open_rendering(rendering(foreign), (env,), Keys(), sealed_ok=sealed_ok)
        assert opened.problems == ["app/kustomization.yaml: Secret app-5h2k8: holds SOPS ciphertext that no encrypted file "
                                   "the kustomization reads holds as it is (copied or changed by the kustomization?); it is "
                                   "not applied"]


def test_only_secrets_may_hold_ciphertext():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "leak"}, "data": {"pw": ENC}}
    opened = ciphertext.open_rendering(rendering(cm), (), Keys(), sealed_ok=True)
    assert opened.problems == ["app/kustomization.yaml: ConfigMap leak: holds SOPS ciphertext, but only Secrets may (their "
                               "values are masked in every output, another kind's would not be)"]


def test_without_any_key_where_it_must_apply_the_file_is_named_with_its_recipients():
    resource = SourceFile("app/db.yaml", ENCRYPTED_RESOURCE.encode())
    rendered = json.loads(json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k-db"},
                                      "stringData": {"pw": ENC}, "sops": {"mac": MAC}}))
    opened = ciphertext.open_rendering(rendering(rendered), (resource,), Keys(), sealed_ok=False)
    assert len(opened.failures) == 1 and opened.failures[0].files == ("app/db.yaml",)
    assert "app/db.yaml: SOPS-encrypted, and no age key was given" in str(opened.failures[0])
    assert "age1example" in str(opened.failures[0]) and opened.problems == []


def test_a_chart_rendered_with_decrypted_values_marks_its_secrets_and_refuses_them_elsewhere():
    values = ciphertext.decrypted_values([("secrets.yaml", f"db:\n  password: {ENC}\nsops:\n  mac: {MAC}\n".encode(),
                                           b"db: {password: hunter2-long}\n")])
    assert values is not None and values.values == {"hunter2-long"}
    manifests = load_files([SourceFile("web templates/all.yaml", b"""\
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2-long}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: c, image: i, env: [{name: PW, value: "x-hunter2-long"}]}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
data: {a: b}
""", rendered=True)])
    marked, problems = ciphertext.mark_rendered(manifests, values)
    assert marked[0].obj["metadata"]["annotations"] == {SOPS_DIGEST_ANNOTATION: values.digest}
    assert "annotations" not in marked[2].obj["metadata"]
    assert problems == ["web templates/all.yaml: apps/v1 Deployment web: holds a value decrypted from secrets.yaml; only "
                        "Secrets may (whoever can read a Deployment could read it): put it in a Secret and reference "
                        "that (env valueFrom.secretKeyRef, a secret volume)"]
