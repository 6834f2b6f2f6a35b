"""Exec credential plugins as client-go runs them: cached until expiry, run again after a 401, and a
failure is an error naming the command, its stderr and its installHint (never an anonymous request)."""

from __future__ import annotations

import json
import stat
import sys
from datetime import datetime, timedelta, timezone

import pytest

from kubesync.cluster import kubeconfig
from kubesync.cluster.auth import CredentialError, Credentials

V1 = "client.authentication.k8s.io/v1"


def plugin(tmp_path, body: str, name: str = "plugin") -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def config(tmp_path, exec_spec: dict, cluster: dict | None = None) -> str:
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True,
                                               **(cluster or {})}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": V1, "interactiveMode": "Never", **exec_spec}}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(doc))
    return str(path)


COUNTING = """
runs = os.path.join(os.path.dirname(sys.argv[0]), "runs")
n = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(n))
status = {"token": f"token-{n}"}
if os.environ.get("EXPIRY"):
    status["expirationTimestamp"] = os.environ["EXPIRY"]
print(json.dumps({"apiVersion": "%s", "kind": "ExecCredential", "status": status}))
""" % V1


def runs(tmp_path) -> int:
    return int((tmp_path / "runs").read_text())


def test_credential_is_cached_until_its_expiry(tmp_path):
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cmd = plugin(tmp_path, COUNTING)
    creds = Credentials(kubeconfig.load(config(tmp_path, {"command": cmd, "env": [{"name": "EXPIRY", "value": later}]})))
    assert creds.authorization() == "Bearer token-1"
    assert creds.authorization() == "Bearer token-1"
    assert runs(tmp_path) == 1


def test_an_expired_credential_runs_the_plugin_again(tmp_path):
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cmd = plugin(tmp_path, COUNTING)
    creds = Credentials(kubeconfig.load(config(tmp_path, {"command": cmd, "env": [{"name": "EXPIRY", "value": past}]})))
    assert creds.authorization() == "Bearer token-1"
    assert creds.authorization() == "Bearer token-2"


def test_refresh_after_a_401_runs_the_plugin_once_more(tmp_path):
    creds = Credentials(kubeconfig.load(config(tmp_path, {"command": plugin(tmp_path, COUNTING)})))
    assert creds.authorization() == "Bearer token-1"
    assert creds.refresh() is True
    assert creds.authorization() == "Bearer token-2"


def test_relative_command_is_relative_to_the_kubeconfig_and_gets_cluster_info(tmp_path):
    body = """
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": {"token": info["spec"]["cluster"]["server"]}}))
"""
    plugin(tmp_path, body, "get-token")
    path = config(tmp_path, {"command": "./get-token", "provideClusterInfo": True})
    assert Credentials(kubeconfig.load(path)).authorization() == "Bearer https://127.0.0.1:6443"


def test_failing_plugin_names_command_stderr_and_install_hint(tmp_path):
    cmd = plugin(tmp_path, 'sys.stderr.write("the SSO session has expired; run `corp login`\\n"); sys.exit(3)')
    creds = Credentials(kubeconfig.load(config(tmp_path, {"command": cmd, "args": ["--cluster", "prod"],
                                                          "installHint": "Install corp-auth from https://corp.example/auth"})))
    with pytest.raises(CredentialError) as e:
        creds.authorization()
    text = str(e.value)
    assert f"{cmd} --cluster prod failed with exit code 3" in text
    assert "the SSO session has expired; run `corp login`" in text
    assert "Install corp-auth from https://corp.example/auth" in text


def test_missing_plugin_shows_the_install_hint(tmp_path):
    path = config(tmp_path, {"command": "kubesync-no-such-plugin", "installHint": "brew install no-such-plugin"})
    with pytest.raises(CredentialError, match="executable kubesync-no-such-plugin not found\nbrew install no-such-plugin"):
        Credentials(kubeconfig.load(path)).authorization()


@pytest.mark.parametrize(
    "output, message",
    [
        ("not json", "not JSON"),
        (json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": "t"}}),
         "answered apiVersion"),
        (json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {}}), "neither status.token"),
    ],
)
def test_bad_plugin_output_is_an_error(tmp_path, output, message):
    cmd = plugin(tmp_path, f"print({output!r})")
    with pytest.raises(CredentialError, match=message):
        Credentials(kubeconfig.load(config(tmp_path, {"command": cmd}))).authorization()


def test_client_certificate_from_a_plugin(tmp_path):
    status = {"clientCertificateData": "CERT", "clientKeyData": "KEY"}
    cmd = plugin(tmp_path, f"print(json.dumps({{'apiVersion': '{V1}', 'kind': 'ExecCredential', 'status': {status!r}}}))")
    creds = Credentials(kubeconfig.load(config(tmp_path, {"command": cmd})))
    assert creds.authorization() is None
    cert, key = creds.cert_pair()
    assert open(cert).read() == "CERT" and open(key).read() == "KEY"


def oidc_config(tmp_path) -> tuple[str, str]:
    """A kubeconfig whose user is a legacy `auth-provider: oidc` with an unexpired id-token."""
    import base64

    def part(doc: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    exp = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())
    token = f"{part({'alg': 'none'})}.{part({'iss': 'https://issuer.example', 'exp': exp})}.c2ln"
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"auth-provider": {"name": "oidc", "config": {
            "client-id": "kubesync", "id-token": token, "idp-issuer-url": "https://issuer.example"}}}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(doc))
    return str(path), token


def test_legacy_auth_provider_goes_through_the_official_client(tmp_path):
    path, token = oidc_config(tmp_path)
    assert Credentials(kubeconfig.load(path)).authorization() == f"Bearer {token}"


def test_legacy_auth_provider_without_the_extra_names_the_extra(tmp_path, monkeypatch):
    """The light install has no official client: the error says which extra brings it, and sends nothing."""
    path, token = oidc_config(tmp_path)
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # `import kubernetes` now fails as on a light install
    with pytest.raises(CredentialError) as e:
        Credentials(kubeconfig.load(path)).authorization()
    message = str(e.value)
    assert "legacy auth-provider 'oidc'" in message
    assert "pip install 'kubesync-gitops[legacy-auth]'" in message
    assert token not in message
