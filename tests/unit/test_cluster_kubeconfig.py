"""The direct kubeconfig reader: the common shapes are read without the official client, anything
else falls back to it (None), never an exception."""

from __future__ import annotations

import base64
import json

import pytest

from kubesync.cluster import kubeconfig
from kubesync.cluster.client import Cluster

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write(tmp_path, cluster: dict, user: dict, *, current: str = "c", name: str = "config"):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}, {"name": "other", "context": {"cluster": "k", "user": "u"}}],
        "current-context": current,
    }
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_token_and_relative_ca_file_are_read_directly(tmp_path):
    (tmp_path / "ca.crt").write_text(CA_PEM)
    target = kubeconfig.read(write(tmp_path, {"certificate-authority": "ca.crt"}, {"token": "abc"}))
    assert target == kubeconfig.Direct(host="https://127.0.0.1:6443", ca_file=str(tmp_path / "ca.crt"), token="abc")
    assert target.auth_headers() == {"Authorization": "Bearer abc"}


def test_token_file_is_read_and_trimmed(tmp_path):
    (tmp_path / "token").write_text("s3cret\n")
    target = kubeconfig.read(write(tmp_path, {"insecure-skip-tls-verify": True}, {"tokenFile": "token"}))
    assert target is not None and target.token == "s3cret" and target.verify_ssl is False


def test_certificate_data_becomes_private_files(tmp_path):
    user = {"client-certificate-data": b64("CERT"), "client-key-data": b64("KEY")}
    target = kubeconfig.read(write(tmp_path, {"certificate-authority-data": b64(CA_PEM), "tls-server-name": "api"}, user))
    assert target is not None and target.token is None and target.auth_headers() == {}
    assert target.ca_data == CA_PEM and target.tls_server_name == "api"
    assert open(target.cert_file).read() == "CERT" and open(target.key_file).read() == "KEY"


def test_named_context_is_used(tmp_path):
    target = kubeconfig.read(write(tmp_path, {}, {"token": "t"}, current="missing"), "other")
    assert target is not None and target.token == "t"


@pytest.mark.parametrize(
    "cluster, user",
    [
        ({}, {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1beta1"}}),
        ({}, {"auth-provider": {"name": "oidc"}}),
        ({}, {"username": "a", "password": "b"}),
        ({}, {"token": "t", "as": "someone"}),
        ({}, {}),  # anonymous
        ({}, {"client-certificate-data": b64("CERT")}),  # a certificate without its key
        ({"proxy-url": "http://proxy:3128"}, {"token": "t"}),
        ({"certificate-authority": "missing.crt"}, {"token": "t"}),
        ({"insecure-skip-tls-verify": "yes"}, {"token": "t"}),
    ],
)
def test_other_shapes_are_left_to_the_official_client(tmp_path, cluster, user):
    assert kubeconfig.read(write(tmp_path, cluster, user)) is None


def test_missing_context_file_or_garbage_gives_none(tmp_path):
    assert kubeconfig.read(write(tmp_path, {}, {"token": "t"}, current="nope")) is None
    assert kubeconfig.read(str(tmp_path / "absent")) is None
    (tmp_path / "garbage").write_text(": : [")
    assert kubeconfig.read(str(tmp_path / "garbage")) is None


def test_several_files_or_a_proxy_in_the_environment_give_none(tmp_path, monkeypatch):
    path = write(tmp_path, {}, {"token": "t"})
    assert kubeconfig.read(path + ":" + path) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert kubeconfig.read(path) is None


def test_connect_uses_the_direct_target_or_falls_back(tmp_path):
    direct = Cluster.connect(write(tmp_path, {"insecure-skip-tls-verify": True}, {"token": "t"}, name="a"))
    assert isinstance(direct.configuration, kubeconfig.Direct)
    assert direct._headers("GET", "/api", "application/json")["Authorization"] == "Bearer t"
    official = Cluster.connect(write(tmp_path, {"insecure-skip-tls-verify": True}, {"username": "a", "password": "b"}, name="b"))
    assert not isinstance(official.configuration, kubeconfig.Direct)
    headers = {k.lower(): v for k, v in official._headers("GET", "/api", "application/json").items()}
    assert headers["authorization"].startswith("Basic ")
