"""Kubeconfig shapes read by kubesync and by the official client (and by kubectl, where the official
client does not follow kubectl): the results must agree, case by case."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
from kubernetes import config as kconfig
from kubernetes.client import Configuration

from kubesync.cluster import kubeconfig, transport
from kubesync.cluster.auth import Credentials
from kubesync.cluster.kubeconfig import KubeconfigError, Overrides

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBCA\n-----END CERTIFICATE-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIBCERT\n-----END CERTIFICATE-----\n"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIBKEY\n-----END PRIVATE KEY-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_doc(cluster: dict, user: dict | None, *, current: str = "c", namespace: str | None = None, name: str = "k") -> dict:
    ctx = {"cluster": name, **({"user": "u"} if user is not None else {}), **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": "https://127.0.0.1:6443", **cluster}}],
        "users": [{"name": "u", "user": user}] if user is not None else [],
        "contexts": [{"name": "c", "context": ctx}, {"name": "other", "context": {**ctx, "namespace": "other-ns"}}],
        "current-context": current,
    }


def write(folder, doc: dict, name: str = "config") -> str:
    path = folder / name
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ca.crt").write_text(CA_PEM)
    (tmp_path / "tls.crt").write_text(CERT_PEM)
    (tmp_path / "tls.key").write_text(KEY_PEM)
    (tmp_path / "token").write_text("from-file")  # the official client keeps a trailing newline; client-go trims it
    return tmp_path


def _read(path: str | None) -> str | None:
    return open(path).read() if path else None


def ours(path: str, context: str | None = None) -> dict:
    target = kubeconfig.load(path, Overrides(context=context))
    return {
        "host": target.host, "verify_ssl": target.verify_ssl, "ca": target.ca_data or _read(target.ca_file),
        "cert": _read(target.cert_file), "key": _read(target.key_file), "authorization": Credentials(target).authorization(),
        "tls_server_name": target.tls_server_name, "proxy": target.proxy_url,
    }


def official(path: str, context: str | None = None) -> dict:
    cfg = Configuration()
    kconfig.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
    return {
        "host": cfg.host, "verify_ssl": cfg.verify_ssl, "ca": _read(cfg.ssl_ca_cert), "cert": _read(cfg.cert_file),
        "key": _read(cfg.key_file), "authorization": cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization"),
        "tls_server_name": getattr(cfg, "tls_server_name", None), "proxy": cfg.proxy if "proxy-url" in json.dumps(
            kconfig.kube_config._get_kube_config_loader(filename=path)._cluster.value) else None,
    }


MATRIX = {
    "token, relative CA file": ({"certificate-authority": "ca.crt"}, {"token": "abc"}),
    "token, CA data": ({"certificate-authority-data": b64(CA_PEM)}, {"token": "abc"}),
    "relative tokenFile": ({"certificate-authority": "ca.crt"}, {"tokenFile": "token"}),
    "client certificate files": ({"certificate-authority": "ca.crt"}, {"client-certificate": "tls.crt", "client-key": "tls.key"}),
    "client certificate data": ({"certificate-authority-data": b64(CA_PEM)},
                                {"client-certificate-data": b64(CERT_PEM), "client-key-data": b64(KEY_PEM)}),
    "data wins over file": ({"certificate-authority": "ca.crt", "certificate-authority-data": b64(CA_PEM)}, {"token": "t"}),
    "insecure-skip-tls-verify": ({"insecure-skip-tls-verify": True}, {"token": "t"}),
    "tls-server-name": ({"certificate-authority": "ca.crt", "tls-server-name": "api.internal"}, {"token": "t"}),
    "proxy-url": ({"certificate-authority": "ca.crt", "proxy-url": "http://proxy.corp:3128"}, {"token": "t"}),
    "basic auth": ({"certificate-authority": "ca.crt"}, {"username": "admin", "password": "pw"}),
    "anonymous": ({"certificate-authority": "ca.crt"}, {}),
    "no user at all": ({"certificate-authority": "ca.crt"}, None),
    "plain http": ({"server": "http://127.0.0.1:8080"}, {"token": "t"}),
}


@pytest.mark.parametrize("shape", list(MATRIX))
@pytest.mark.parametrize("context", [None, "other"])
def test_matrix_agrees_with_the_official_client(files, shape, context):
    cluster, user = MATRIX[shape]
    path = write(files, config_doc(cluster, user))
    assert ours(path, context) == official(path, context)


# -- where the official client is not kubectl, kubectl itself is the reference ----------------------------


def kubectl_view(tmp_path, kubeconfig_env: str, context: str | None = None) -> dict:
    """The context kubectl would use: `kubectl config view --minify` over a KUBECONFIG list."""
    argv = ["kubectl", "config", "view", "--minify", "--raw", "-o", "json"] + (["--context", context] if context else [])
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KUBECONFIG": kubeconfig_env}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    view = json.loads(done.stdout)
    ctx = view["contexts"][0]
    user = (view.get("users") or [{"user": {}}])[0]["user"]
    return {"context": view["current-context"], "namespace": ctx["context"].get("namespace", ""),
            "server": view["clusters"][0]["cluster"]["server"], "token": user.get("token"),
            "as": user.get("as", ""), "as-groups": tuple(user.get("as-groups") or ()),
            "as-user-extra": {k: tuple(v) for k, v in (user.get("as-user-extra") or {}).items()}}


def ours_view(kubeconfig_env: str, monkeypatch, context: str | None = None) -> dict:
    monkeypatch.setenv("KUBECONFIG", kubeconfig_env)
    t = kubeconfig.load(None, Overrides(context=context))
    return {"context": t.context, "namespace": t.namespace, "server": t.host, "token": t.token, "as": t.impersonate.user,
            "as-groups": t.impersonate.groups, "as-user-extra": dict(t.impersonate.extra)}


def two_files(tmp_path) -> tuple[str, str]:
    a = config_doc({"server": "https://a.example:6443"}, {"token": "token-a"}, current="c", namespace="team-a")
    b = config_doc({"server": "https://b.example:6443"}, {"token": "token-b"}, current="other")
    b["contexts"].append({"name": "only-b", "context": {"cluster": "k", "user": "u", "namespace": "b-ns"}})
    return write(tmp_path, a, "a.yaml"), write(tmp_path, b, "b.yaml")


@pytest.mark.parametrize(
    "listing, context",
    [
        ("{a}", None),
        (":{a}", None),  # an empty entry is skipped
        ("{missing}:{a}", None),  # a missing file is skipped
        ("{a}:{b}", None),  # first current-context, first cluster and user of each name win
        ("{b}:{a}", None),
        ("{a}:{b}", "only-b"),  # a context only the second file has, with the first file's cluster and user
        ("{a}::{missing}:{b}", "other"),
    ],
)
def test_kubeconfig_lists_merge_like_kubectl(tmp_path, monkeypatch, listing, context):
    a, b = two_files(tmp_path)
    env = listing.format(a=a, b=b, missing=str(tmp_path / "missing.yaml"))
    assert ours_view(env, monkeypatch, context) == kubectl_view(tmp_path, env, context)


def test_context_namespace_and_impersonation_like_kubectl(tmp_path, monkeypatch):
    user = {"token": "t", "as": "alice", "as-uid": "42", "as-groups": ["g1", "g2"], "as-user-extra": {"scopes": ["a", "b"]}}
    path = write(tmp_path, config_doc({}, user, namespace="team-a"))
    assert ours_view(path, monkeypatch) == kubectl_view(tmp_path, path)
    t = kubeconfig.load(path)
    assert t.impersonate.headers() == [("Impersonate-User", "alice"), ("Impersonate-Uid", "42"), ("Impersonate-Group", "g1"),
                                       ("Impersonate-Group", "g2"), ("Impersonate-Extra-scopes", "a"), ("Impersonate-Extra-scopes", "b")]


def test_as_flags_override_the_kubeconfig_field_by_field(tmp_path):
    path = write(tmp_path, config_doc({}, {"token": "t", "as": "alice", "as-groups": ["g1"]}))
    t = kubeconfig.load(path, Overrides(user="bob"))
    assert (t.impersonate.user, t.impersonate.groups) == ("bob", ("g1",))
    t = kubeconfig.load(path, Overrides(groups=("admins",)))
    assert (t.impersonate.user, t.impersonate.groups) == ("alice", ("admins",))
    plain = write(tmp_path, config_doc({}, {"token": "t"}), "plain")
    with pytest.raises(KubeconfigError, match="needs a user too"):
        kubeconfig.load(plain, Overrides(groups=("admins",)))  # kubectl refuses --as-group without --as as well


def test_insecure_with_a_ca_is_refused_like_kubectl(files):
    path = write(files, config_doc({"insecure-skip-tls-verify": True, "certificate-authority": "ca.crt"}, {"token": "t"}))
    with pytest.raises(KubeconfigError, match="specifying a root certificates file with the insecure flag is not allowed"):
        kubeconfig.load(path)
    done = subprocess.run(["kubectl", "--kubeconfig", path, "get", "--raw", "/version"], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": str(files)})
    assert done.returncode == 1 and "specifying a root certificates file with the insecure flag is not allowed" in done.stderr


def test_token_file_wins_over_the_inline_token_as_in_kubectl(files):
    # client-go reads tokenFile on every refresh even when `token` is set; the official Python client prefers `token`.
    path = write(files, config_doc({"certificate-authority": "ca.crt"}, {"token": "inline", "tokenFile": "token"}))
    assert Credentials(kubeconfig.load(path)).authorization() == "Bearer from-file"


def test_token_file_is_read_again_when_it_changes(files):
    creds = Credentials(kubeconfig.load(write(files, config_doc({"certificate-authority": "ca.crt"}, {"tokenFile": "token"}))))
    assert creds.authorization() == "Bearer from-file"
    (files / "token.new").write_text("rotated\n")
    os.replace(files / "token.new", files / "token")  # how kubelet swaps projected tokens: a new file, renamed
    assert creds.authorization() == "Bearer rotated"


@pytest.mark.parametrize(
    "shape, message",
    [
        ({"contexts": []}, "context 'c' does not exist"),
        ({"clusters": []}, "names cluster 'k', which no file defines"),
        ({"users": []}, "names user 'u', which no file defines"),
        ({"current-context": ""}, "no current-context"),
    ],
)
def test_broken_kubeconfigs_name_what_is_missing(tmp_path, shape, message):
    doc = {**config_doc({}, {"token": "t"}), **shape}
    with pytest.raises(KubeconfigError, match=message):
        kubeconfig.load(write(tmp_path, doc))


def test_explicit_missing_file_is_an_error_but_listed_missing_files_are_skipped(tmp_path, monkeypatch):
    with pytest.raises(KubeconfigError, match="no such file"):
        kubeconfig.load(str(tmp_path / "absent"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeconfigError, match="not running in a cluster"):
        kubeconfig.load(None)


def test_in_cluster_reads_the_service_account(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "namespace").write_text("apps\n")
    (tmp_path / "ca.crt").write_text(CA_PEM)
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT_DIR", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    t = kubeconfig.load(None)
    assert (t.host, t.namespace, t.ca_file) == ("https://[fd00::1]:443", "apps", str(tmp_path / "ca.crt"))
    assert Credentials(t).authorization() == "Bearer sa-token"


# -- proxies from the environment (Go's rules, which kubectl follows) -------------------------------------


@pytest.mark.parametrize(
    "server, env, expected",
    [
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://api.example.com", {"https_proxy": "http://p:3128", "NO_PROXY": "example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".example.com"}, None),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, None),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.1.2.3:443"}, "http://p:3128"),
        ("https://127.0.0.1:6443", {"HTTPS_PROXY": "http://p:3128"}, None),  # loopback never goes through the environment
        ("https://api.example.com", {"HTTP_PROXY": "http://p:3128"}, None),  # an https server needs HTTPS_PROXY
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, None),
    ],
)
def test_environment_proxies_follow_go_rules(tmp_path, monkeypatch, server, env, expected):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    t = kubeconfig.load(write(tmp_path, config_doc({"server": server, "insecure-skip-tls-verify": True}, {"token": "t"})))
    assert transport.proxy_for(t) == expected


def test_proxy_url_in_the_kubeconfig_wins_and_builds_a_proxy_pool(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")
    t = kubeconfig.load(write(tmp_path, config_doc({"proxy-url": "http://proxy:3128", "insecure-skip-tls-verify": True}, {"token": "t"})))
    assert transport.proxy_for(t) == "http://proxy:3128"
    import urllib3

    assert isinstance(transport.pool_manager(t), urllib3.ProxyManager)
