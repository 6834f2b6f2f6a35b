"""The common kubeconfig shapes, read without importing the official client.

Importing `kubernetes` (pydantic, oauthlib, requests, dateutil, every model) costs about 0.5 s of CPU,
a third of a steady-state `kubesync plan` of 1000 objects. A context whose cluster has a server, a CA
(file or data) or insecure-skip-tls-verify and maybe a tls-server-name, and whose user has a bearer
token (inline or file) and/or a client certificate and key (files or data), is read here into a
`Direct` target. Anything else (exec plugins, auth providers, basic auth, impersonation, proxies,
several files in KUBECONFIG, an unreadable or odd file) gives None, and the official client loads it
as before, with its own error messages.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

CLUSTER_KEYS = frozenset({"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify",
                          "tls-server-name", "extensions"})
USER_KEYS = frozenset({"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key",
                       "client-key-data", "extensions"})
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


@dataclass(frozen=True)
class Direct:
    """Where and how to reach the API server, as the official client would have configured it."""

    host: str
    verify_ssl: bool = True
    ca_file: str | None = None
    ca_data: str | None = None  # PEM
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None
    tls_server_name: str | None = None

    def pool_manager(self, maxsize: int | None = None):
        """The urllib3 pool the official client's RESTClientObject would build for these settings."""
        import ssl

        import urllib3

        args: dict[str, Any] = {
            "cert_reqs": ssl.CERT_REQUIRED if self.verify_ssl else ssl.CERT_NONE,
            "ca_certs": self.ca_file,
            "ca_cert_data": self.ca_data,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
            "maxsize": maxsize or (os.cpu_count() or 1) * 5,
            "retries": False,
        }
        if self.tls_server_name:
            args["server_hostname"] = self.tls_server_name
        return urllib3.PoolManager(**args)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def _proxied() -> bool:
    return any(os.environ.get(v) or os.environ.get(v.upper()) for v in PROXY_VARIABLES)


def _named(items: Any, name: str, field: str) -> dict | None:
    for item in items or ():
        if isinstance(item, dict) and item.get("name") == name and isinstance(item.get(field), dict):
            return item[field]
    return None


_temp_dir: str | None = None


def _temp_file(content: bytes) -> str:
    """Certificate data as an owner-only file (TLS libraries load keys from files); removed at exit."""
    global _temp_dir
    if _temp_dir is None:
        _temp_dir = tempfile.mkdtemp(prefix="kubesync-tls-")
        atexit.register(shutil.rmtree, _temp_dir, True)
    fd, path = tempfile.mkstemp(dir=_temp_dir)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    return path


def _file_or_data(section: dict, key: str, base: str) -> tuple[str | None, bytes | None]:
    """(file path, decoded data) of `key` / `key-data`; data wins, as in the official client."""
    data = section.get(key + "-data")
    if data:
        return None, base64.standard_b64decode(data)
    path = section.get(key)
    if path:
        path = os.path.normpath(os.path.join(base, path))
        if not os.path.isfile(path):
            raise ValueError(f"{path} does not exist")
        return path, None
    return None, None


def read(path: str, context: str | None = None) -> Direct | None:
    """The target of `context` (or the current one) in the kubeconfig at `path`, or None when this
    simple reader does not cover it (the caller then uses the official client). Never raises."""
    try:
        return _read(path, context)
    except Exception:  # anything odd is the official loader's to report
        return None


def _read(path: str, context: str | None) -> Direct | None:
    if os.pathsep in path or _proxied():
        return None
    import yaml

    with open(path, "rb") as f:
        doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(doc, dict):
        return None
    ctx = _named(doc.get("contexts"), context or doc.get("current-context") or "", "context")
    if ctx is None:
        return None
    cluster = _named(doc.get("clusters"), ctx.get("cluster") or "", "cluster")
    user = _named(doc.get("users"), ctx.get("user") or "", "user") if ctx.get("user") else {}
    if cluster is None or user is None or set(cluster) - CLUSTER_KEYS or set(user) - USER_KEYS:
        return None
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        return None
    base = os.path.abspath(os.path.dirname(path))

    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.normpath(os.path.join(base, user["tokenFile"]))) as f:
            token = f.read().strip()
    cert_file, cert_data = _file_or_data(user, "client-certificate", base)
    key_file, key_data = _file_or_data(user, "client-key", base)
    has_cert = bool(cert_file or cert_data) and bool(key_file or key_data)
    if not token and not has_cert:
        return None  # anonymous, or half a key pair: leave it to the official client
    if not isinstance(token, (str, type(None))):
        return None

    ca_file = ca_data = None
    if server.startswith("https://"):
        ca_file, raw_ca = _file_or_data(cluster, "certificate-authority", base)
        ca_data = raw_ca.decode("ascii") if raw_ca else None
    else:
        has_cert = False
    insecure = cluster.get("insecure-skip-tls-verify", False)
    tls_server_name = cluster.get("tls-server-name")
    if not isinstance(insecure, bool) or not isinstance(tls_server_name, (str, type(None))):
        return None
    return Direct(
        host=server.rstrip("/"),
        verify_ssl=not insecure,
        ca_file=ca_file,
        ca_data=ca_data,
        cert_file=(cert_file or _temp_file(cert_data)) if has_cert else None,  # type: ignore[arg-type]
        key_file=(key_file or _temp_file(key_data)) if has_cert else None,  # type: ignore[arg-type]
        token=token or None,
        tls_server_name=tls_server_name,
    )
