"""SOPS-encrypted Secrets against the real control plane, through the CLI: keys made by the pinned age-keygen,
files encrypted by the pinned sops, decrypted by kubesync at sync time (issue 28)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from kubesync.model import SECRETS, CONFIGMAPS
from tests.support import cli
from tests.support.git import commit, init_repo
from tests.support.sops import age_key, b64, encrypt, secret, tamper, write_chart_with_secrets, write_kustomization

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  greeting: hello\n"


def kubesync(kubeconfig, *args, key=None, env=None, code=None):
    extra = ["--decryption-key-file", str(key.file)] if key is not None else []
    return cli.run(*args, *extra, "--kubeconfig", kubeconfig, env_extra=env, check_code=code)


def value(client, ns, name, key):
    obj = client.get(SECRETS, ns, name)
    return base64.b64decode(obj["data"][key]).decode() if obj else None


@pytest.fixture
def keys(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    return age_key(folder, "team"), age_key(folder, "other")


def write_source(folder, ns, recipient, password="s3cret-one-pw", **extra):
    folder.mkdir(exist_ok=True)
    (folder / "settings.yaml").write_text(CONFIGMAP.format(ns=ns))
    (folder / "db.yaml").write_text(encrypt(secret("db", ns, password=password, **extra), recipient))
    return folder


def test_a_folder_source_syncs_the_decrypted_value_then_plans_empty_then_one_masked_update(kubeconfig, client, namespace,
                                                                                           tmp_path, keys):
    team, _ = keys
    src = write_source(tmp_path / "src", namespace, team.recipient, password="first-value-1")
    kubesync(kubeconfig, "apply", str(src), "--name", "sops-folder", "--yes", key=team, code=0)
    assert value(client, namespace, "db", "password") == "first-value-1"
    annotations = client.get(SECRETS, namespace, "db")["metadata"]["annotations"]
    assert annotations["kubesync.io/sops-digest"].startswith("sha256:")

    again = kubesync(kubeconfig, "plan", str(src), "--name", "sops-folder", "--exit-code", key=team, code=0)
    assert "No changes" in again.stdout or "0 to" in again.stdout

    (src / "db.yaml").write_text(encrypt(secret("db", namespace, password="second-value-2"), team.recipient))
    plan = kubesync(kubeconfig, "plan", str(src), "--name", "sops-folder", "-o", "json", key=team, code=0)
    doc = json.loads(plan.stdout)
    changes = [a for a in doc["actions"] if a["type"] != "noop"]
    assert [(a["type"], a["object"]) for a in changes] == [("update", f"v1 Secret {namespace}/db")]
    values = [op["value"] for op in changes[0]["patch"] if op["path"].startswith("/data/")]
    assert values == ["*** (changed)"]
    assert "second-value-2" not in plan.stdout + plan.stderr and b64("second-value-2") not in plan.stdout
    kubesync(kubeconfig, "apply", str(src), "--name", "sops-folder", "--yes", key=team, code=0)
    assert value(client, namespace, "db", "password") == "second-value-2"


def test_a_git_source_syncs_the_decrypted_value_with_a_post_quantum_key(kubeconfig, client, namespace, tmp_path):
    pq = age_key(tmp_path, "pq", post_quantum=True)
    assert pq.recipient.startswith("age1pq1")
    repo_dir = tmp_path / "repo"
    init_repo(repo_dir, {"app/db.yaml": encrypt(secret("db", namespace, password="from-git-pq-value"), pq.recipient),
                         "app/settings.yaml": CONFIGMAP.format(ns=namespace)})
    kubesync(kubeconfig, "apply", "--repo", str(repo_dir), "--path", "app", "--name", "sops-git", "--yes", key=pq, code=0)
    assert value(client, namespace, "db", "password") == "from-git-pq-value"
    kubesync(kubeconfig, "plan", "--repo", str(repo_dir), "--path", "app", "--name", "sops-git", "--exit-code", key=pq, code=0)


@pytest.mark.parametrize("layout", ["folder", "kustomization"])
@pytest.mark.parametrize("case", ["tampered", "wrong key", "missing key"])
def test_a_file_that_cannot_be_decrypted_is_one_error_naming_it_and_nothing_is_applied(kubeconfig, client, namespace,
                                                                                        tmp_path, keys, case, layout):
    team, other = keys
    if layout == "folder":
        src, broken, made = write_source(tmp_path / "src", namespace, team.recipient), "db.yaml", ("settings", "db")
        encrypted = ["db.yaml"]
    else:  # kustomize reads the files; kubesync opens what it rendered
        src, broken, made = write_kustomization(tmp_path / "kust", namespace, team.recipient), "app.env", ("k-settings", "k-")
        encrypted = ["api.key", "app.env", "db.yaml"]
    if case == "tampered":
        (src / broken).write_text(tamper((src / broken).read_text()))
    key = {"tampered": team, "wrong key": other, "missing key": None}[case]
    done = kubesync(kubeconfig, "apply", str(src), "--name", "sops-bad", "--yes", key=key, code=1)
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    assert team.recipient in lines[0] and (broken in lines[0] if case == "tampered" else
                                           all(re.search(rf"(^|/|error: ){re.escape(name)}: ", done.stderr, re.M) for name in encrypted)), done.stderr
    assert {"tampered": "tampered", "wrong key": "wrong key", "missing key": "no age key was given"}[case] in lines[0]
    assert client.get(CONFIGMAPS, namespace, made[0]) is None  # nothing applied, not even the plain objects
    assert [s["metadata"]["name"] for s in client.list(SECRETS, namespace).items if s["metadata"]["name"].startswith(made[1])] == []


def test_without_the_key_plan_leaves_encrypted_secrets_as_they_are_and_says_whether_they_changed(kubeconfig, client,
                                                                                                   namespace, tmp_path, keys):
    team, _ = keys
    src = write_source(tmp_path / "src", namespace, team.recipient, password="keyless-one")
    kubesync(kubeconfig, "apply", str(src), "--name", "sops-keyless", "--yes", key=team, code=0)
    same = kubesync(kubeconfig, "plan", str(src), "--name", "sops-keyless", "--exit-code", code=0)
    assert "changed (encrypted)" not in same.stdout

    (src / "db.yaml").write_text(encrypt(secret("db", namespace, password="keyless-two"), team.recipient))
    changed = kubesync(kubeconfig, "plan", str(src), "--name", "sops-keyless", "-o", "json", code=0)
    doc = json.loads(changed.stdout)
    assert [a["type"] for a in doc["actions"] if a["object"].endswith("/db")] == ["noop"]
    assert any("db.yaml" in w and "changed (encrypted)" in w for w in doc["warnings"]), doc["warnings"]
    kubesync(kubeconfig, "apply", str(src), "--name", "sops-keyless", "--yes", code=1)  # apply needs the key
    assert value(client, namespace, "db", "password") == "keyless-one"


def test_a_saved_plan_keeps_no_decrypted_value_and_apply_decrypts_again_or_refuses(kubeconfig, client, namespace,
                                                                                     tmp_path, keys):
    team, _ = keys
    src = write_source(tmp_path / "src", namespace, team.recipient, password="saved-plan-value")
    out = tmp_path / "plan.json"
    kubesync(kubeconfig, "plan", str(src), "--name", "sops-saved", "--out", str(out), key=team, code=0)
    text = out.read_text()
    assert "saved-plan-value" not in text and b64("saved-plan-value") not in text
    assert json.loads(text)["reopen_sops"] == [f"v1 Secret {namespace}/db"]
    refused = kubesync(kubeconfig, "apply", "--plan", str(out), "--yes", code=1)
    # the saved plan is checked against a fresh plan of its source first, which needs the key too
    assert "db.yaml: SOPS-encrypted, and no age key was given" in refused.stderr and "nothing was applied" in refused.stderr
    assert client.get(CONFIGMAPS, namespace, "settings") is None
    kubesync(kubeconfig, "apply", "--plan", str(out), "--yes", key=team, code=0)
    assert value(client, namespace, "db", "password") == "saved-plan-value"


def test_compare_without_the_key_reports_exactly_one_changed_encrypted_secret(tmp_path, keys):
    team, _ = keys
    repo_dir = tmp_path / "repo"
    files = {"db.yaml": encrypt(secret("db", "shop", password="compare-a"), team.recipient),
             "cache.yaml": encrypt(secret("cache", "shop", password="compare-b"), team.recipient)}
    repo = init_repo(repo_dir, files)
    base = repo.head.commit.hexsha
    head = commit(repo, {"db.yaml": encrypt(secret("db", "shop", password="compare-c"), team.recipient)})
    done = cli.run("compare", "--repo", str(repo_dir), "--base", base, "--head", head, "-o", "json", check_code=0)
    doc = json.loads(done.stdout)
    changed = [a for a in doc["actions"] if a["type"] != "noop"]
    assert [(a["type"], a["object"]) for a in changed] == [("update", "v1 Secret shop/db")]
    assert "changed (encrypted)" in changed[0]["note"]
    with_key = cli.run("compare", "--repo", str(repo_dir), "--base", base, "--head", head, "-o", "json",
                       "--decryption-key-file", str(team.file), check_code=0)
    ops = [op for a in json.loads(with_key.stdout)["actions"] if a["type"] == "update" for op in a["patch"]]
    assert {op["path"]: op["value"] for op in ops if op["path"].startswith("/data")} == {"/data/password": "*** (changed)"}
    assert "compare-c" not in with_key.stdout + with_key.stderr


def generated(client, ns, prefix):
    """The one Secret whose name starts with `prefix` (a generated Secret's name ends in kustomize's hash)."""
    found = [s for s in client.list(SECRETS, ns).items if s["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, [s["metadata"]["name"] for s in found]
    return {k: base64.b64decode(v).decode() for k, v in found[0]["data"].items()}


@pytest.mark.parametrize("where", ["folder", "git"])
def test_a_kustomization_reading_encrypted_files_syncs_their_decrypted_values(kubeconfig, client, namespace, tmp_path,
                                                                              keys, where):
    team, _ = keys
    src = write_kustomization(tmp_path / "kust", namespace, team.recipient)
    if where == "git":
        init_repo(tmp_path / "repo", {f"app/{p.name}": p.read_text() for p in src.iterdir()})
        source = ("--repo", str(tmp_path / "repo"), "--path", "app")
    else:
        source = (str(src),)
    kubesync(kubeconfig, "apply", *source, "--name", "sops-kust", "--yes", key=team, code=0)
    assert value(client, namespace, "k-db", "password") == "kust-resource-pw"
    assert client.get(SECRETS, namespace, "k-db")["metadata"]["labels"]["team"] == "shop"
    assert generated(client, namespace, "k-app-") == {"password": "kust-env-pw", "user": "app", "api.key": "kust-file-key\n"}
    assert client.get(CONFIGMAPS, namespace, "k-settings") is not None

    again = kubesync(kubeconfig, "plan", *source, "--name", "sops-kust", "--exit-code", key=team, code=0)
    assert "kust-resource-pw" not in again.stdout + again.stderr
    keyless = kubesync(kubeconfig, "plan", *source, "--name", "sops-kust", "--exit-code", code=0)  # sealed: unchanged
    assert "changed (encrypted)" not in keyless.stdout


def test_a_kustomization_resource_re_encrypted_plans_one_masked_update_and_without_the_key_one_encrypted_change(
        kubeconfig, client, namespace, tmp_path, keys):
    team, _ = keys
    src = write_kustomization(tmp_path / "kust", namespace, team.recipient)
    kubesync(kubeconfig, "apply", str(src), "--name", "sops-kust2", "--yes", key=team, code=0)
    (src / "db.yaml").write_text(encrypt(secret("db", namespace, password="kust-resource-two"), team.recipient))
    plan = json.loads(kubesync(kubeconfig, "plan", str(src), "--name", "sops-kust2", "-o", "json", key=team, code=0).stdout)
    changes = [a for a in plan["actions"] if a["type"] != "noop"]
    assert [(a["type"], a["object"]) for a in changes] == [("update", f"v1 Secret {namespace}/k-db")]
    assert [op["value"] for op in changes[0]["patch"] if op["path"].startswith("/stringData/") or
            op["path"].startswith("/data/")] == ["*** (changed)"]
    keyless = json.loads(kubesync(kubeconfig, "plan", str(src), "--name", "sops-kust2", "-o", "json", code=0).stdout)
    assert [a["type"] for a in keyless["actions"] if a["type"] != "noop"] == []
    assert [w for w in keyless["warnings"] if "changed (encrypted)" in w and "k-db" in w], keyless["warnings"]


def test_a_chart_with_an_encrypted_values_file_syncs_and_without_the_key_is_one_clear_error(kubeconfig, client, namespace,
                                                                                           tmp_path, keys):
    team, other = keys
    root = write_chart_with_secrets(tmp_path, namespace, team.recipient, "chart-secret-pw")
    config = ("--config", str(root / "kubesync.yaml"), "--name", "sops-chart")
    kubesync(kubeconfig, "apply", str(root / "web"), *config, "--yes", key=team, code=0)
    assert value(client, namespace, "db", "password") == "chart-secret-pw"
    assert value(client, namespace, "db", "user") == "chart-user"
    again = kubesync(kubeconfig, "plan", str(root / "web"), *config, "--exit-code", key=team, code=0)
    assert "chart-secret-pw" not in again.stdout + again.stderr

    (root / "web" / "secrets.yaml").write_text(
        encrypt("db:\n  password: chart-secret-two\n  user: chart-user\n", team.recipient, encrypted_regex=None))
    plan = json.loads(kubesync(kubeconfig, "plan", str(root / "web"), *config, "-o", "json", key=team, code=0).stdout)
    changes = [a for a in plan["actions"] if a["type"] != "noop"]
    assert [(a["type"], a["object"]) for a in changes] == [("update", f"v1 Secret {namespace}/db")]
    ops = {op["path"]: op["value"] for op in changes[0]["patch"]}
    assert ops.pop("/data/password") == "*** (changed)"
    assert list(ops) == ["/metadata/annotations/kubesync.io~1sops-digest"]  # the values file's ciphertext changed
    for key, why in ((None, "no age key was given"), (other, "wrong key")):
        done = kubesync(kubeconfig, "apply", str(root / "web"), *config, "--yes", key=key, code=1)
        assert "chart web: values file secrets.yaml" in done.stderr and why in done.stderr, done.stderr
        assert "chart-secret-two" not in done.stdout + done.stderr
    assert value(client, namespace, "db", "password") == "chart-secret-pw"


def test_a_chart_putting_a_decrypted_value_in_a_configmap_is_refused_naming_the_template(kubeconfig, client, namespace,
                                                                                        tmp_path, keys):
    """Whoever can read ConfigMaps (or Deployments) could read it there: only Secrets may hold a decrypted value."""
    team, _ = keys
    root = write_chart_with_secrets(tmp_path, namespace, team.recipient, "chart-leaky-pw")
    (root / "web" / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leaky}\ndata:\n  url: postgres://app:{{ .Values.db.password }}@db\n")
    done = kubesync(kubeconfig, "apply", str(root / "web"), "--config", str(root / "kubesync.yaml"), "--name", "sops-chart",
                    "--yes", key=team, code=1)
    assert ("web templates/cm.yaml: v1 ConfigMap " in done.stderr and "holds a value decrypted from secrets.yaml; only "
            "Secrets may" in done.stderr), done.stderr
    assert "chart-leaky-pw" not in done.stdout + done.stderr
    assert client.get(SECRETS, namespace, "db") is None and client.get(CONFIGMAPS, namespace, "leaky") is None
