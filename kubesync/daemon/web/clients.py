"""Who sent a request and how it reached us: the client's address, https or not, and whether the
`Host` it names is ours.

Forwarded headers (`X-Forwarded-For`, `X-Forwarded-Proto`) are believed only from a configured proxy
(`--trusted-proxy CIDR`): from anyone else they are whatever the client wants them to be. Behind a
trusted proxy the client is the last address in X-Forwarded-For that is not itself a trusted proxy.

The Host check stops DNS rebinding: a web page on an attacker's name that resolves to the daemon's
address makes a browser send `Host: <attacker's name>`, which is neither the listen address, an IP
literal, `localhost`, nor a configured name (`--allowed-host`), so it is refused before anything is
read. A listener on a wildcard address accepts any IP literal (its own addresses are not known to it)
and a cluster's Service names (`*.svc`, `*.svc.cluster.local`: no public DNS name ends so).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

from kubesync.daemon.protocol import client_key

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SERVICE_SUFFIXES = (".svc", ".svc.cluster.local")


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; ValueError naming the bad one."""
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
    return tuple(out)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(addr, proxies: tuple[Network, ...]) -> bool:
    return addr is not None and any(addr in net for net in proxies if net.version == addr.version)


def via_proxy(request: Request, proxies: tuple[Network, ...]) -> bool:
    """The request came from a trusted proxy (so its forwarded headers are believed)."""
    peer = request.client.host if request.client else ""
    return bool(proxies) and _trusted(_ip(peer), proxies)


def client_address(request: Request, proxies: tuple[Network, ...]) -> str:
    """The client's address: the peer's, or behind a trusted proxy the nearest untrusted X-Forwarded-For hop."""
    peer = request.client.host if request.client else ""
    if not via_proxy(request, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(_ip(hop), proxies):
            return hop if _ip(hop) is not None else peer
    return peer


def client_of(request: Request, proxies: tuple[Network, ...]) -> str:
    """The key a client's limits and throttles count against (an IPv6 client by its /64)."""
    return client_key(client_address(request, proxies))


def is_https(request: Request, proxies: tuple[Network, ...]) -> bool:
    """Served over TLS: by us, or (X-Forwarded-Proto: https) by a trusted proxy in front of us."""
    if request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and via_proxy(request, proxies)


def host_name(header: str) -> str:
    """`example.com:9090` -> `example.com`, `[::1]:9090` -> `::1`, lower-case, no trailing dot."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return name.rstrip(".")


class HostCheck:
    """Which Host headers name this daemon: its listen address, localhost, IP literals (wildcard listen), names."""

    def __init__(self, listen_host: str, names: Iterable[str] = ()):
        self.listen = host_name(listen_host)
        self.wildcard = self.listen in ("", "0.0.0.0", "::")
        self.names = {host_name(n) for n in names if n.strip()}

    def allows(self, header: str | None) -> bool:
        if not header:
            return False  # HTTP/1.1 requires one; a browser always sends one
        name = host_name(header)
        if name in self.names or name == self.listen:
            return True
        if self.wildcard and name.endswith(SERVICE_SUFFIXES):
            return True
        addr = _ip(name)
        if name == "localhost" or (addr is not None and addr.is_loopback):
            return self.wildcard or (_ip(self.listen) is not None and _ip(self.listen).is_loopback) or self.listen == "localhost"
        return addr is not None and self.wildcard
