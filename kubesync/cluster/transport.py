"""The connection pool for one Target: TLS (CA, client certificate, tls-server-name), proxies, warnings.

Proxies as kubectl picks them: the cluster's `proxy-url`, else HTTPS_PROXY / HTTP_PROXY unless
NO_PROXY matches the host; like Go's ProxyFromEnvironment, loopback hosts never use the environment.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import threading
import warnings
from typing import Any
from urllib.parse import urlsplit

import urllib3

from kubesync.cluster.kubeconfig import KubeconfigError, Target

log = logging.getLogger(__name__)

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _env(name: str) -> str:
    return os.environ.get(name.lower()) or os.environ.get(name.upper()) or ""


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def no_proxy_matches(host: str, port: int | None, no_proxy: str) -> bool:
    """NO_PROXY entries: `*`, exact hosts, domain suffixes (`.example.com` or `example.com`), CIDRs, host:port."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(target: Target) -> str | None:
    """The proxy URL requests to this target go through, or None."""
    if target.proxy_url:
        return target.proxy_url
    url = urlsplit(target.host)
    host = (url.hostname or "").lower()
    if _loopback(host) or no_proxy_matches(host, url.port, _env("no_proxy")):
        return None
    return _env("https_proxy" if url.scheme == "https" else "http_proxy") or None


def _warn_insecure_once(target: Target) -> None:
    """urllib3 warns on every request (9 lines for one plan); kubesync says it once per server and run."""
    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    with _warned_lock:
        if target.host in _warned:
            return
        _warned.add(target.host)
    log.warning("TLS certificate verification is off for %s (insecure-skip-tls-verify)", target.host)


def pool_manager(target: Target, cert_pair: tuple[str, str] | None = None, maxsize: int = 16) -> urllib3.PoolManager:
    """A urllib3 pool for the target, without retries (the client retries with its own budget)."""
    args: dict[str, Any] = {"maxsize": maxsize, "retries": False, "block": False}
    if target.host.startswith("https://"):
        cert_file, key_file = cert_pair or (target.cert_file, target.key_file)
        args.update(cert_reqs=ssl.CERT_REQUIRED if target.verify_ssl else ssl.CERT_NONE, ca_certs=target.ca_file,
                    ca_cert_data=target.ca_data, cert_file=cert_file, key_file=key_file)
        if target.tls_server_name:
            args["server_hostname"] = target.tls_server_name
        if not target.verify_ssl:
            args["assert_hostname"] = False
            _warn_insecure_once(target)
    proxy = proxy_for(target)
    if not proxy:
        return urllib3.PoolManager(**args)
    scheme = urlsplit(proxy).scheme
    if scheme.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError as e:
            raise KubeconfigError(f"proxy {proxy} is a SOCKS proxy, which needs PySocks (pip install pysocks)") from e
        return SOCKSProxyManager(proxy, **args)
    if scheme not in ("http", "https"):
        raise KubeconfigError(f"proxy {proxy}: only http, https and socks5 proxies are supported")
    return urllib3.ProxyManager(proxy, **args)
