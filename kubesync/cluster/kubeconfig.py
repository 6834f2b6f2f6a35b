"""Kubeconfig read the way kubectl reads it, into one frozen `Target`; YAML only, no official client.

kubectl's rules (client-go `clientcmd`), followed here and pinned by tests/unit/test_cluster_kubeconfig.py:
- `--kubeconfig F` reads only F (missing: an error). Otherwise `KUBECONFIG` is a list: empty and
  missing entries are skipped, and for every cluster, user and context name, and for
  `current-context`, the first file that sets it wins. Without either, `~/.kube/config`.
- Relative paths (CA, client certificates, tokenFile, exec commands) are relative to the file that
  holds the entry.
- The context's `namespace` is the default namespace; `as`, `as-uid`, `as-groups` and
  `as-user-extra` impersonate; `--as`/`--as-group` override them field by field.
- `insecure-skip-tls-verify` together with a CA is refused.

Credentials are not resolved here (token files change, exec plugins expire): `auth.py` does that per
request. Importing the official client costs about 0.5 s, so only legacy `auth-provider` users
(oidc, gcp, azure) go through it.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from kubesync.errors import KubeconfigError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class Impersonation:
    """Who the requests act as (Impersonate-* headers); empty: the credentials' own identity."""

    user: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def headers(self) -> list[tuple[str, str]]:
        from urllib.parse import quote

        if not self.user:
            return []
        out = [("Impersonate-User", self.user)]
        if self.uid:
            out.append(("Impersonate-Uid", self.uid))
        out += [("Impersonate-Group", g) for g in self.groups]
        out += [(f"Impersonate-Extra-{quote(k, safe='')}", v) for k, values in self.extra for v in values]
        return out


@dataclass(frozen=True)
class ExecPlugin:
    """A client-go credential plugin (`users[].user.exec`)."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1beta1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "IfAvailable"
    base: str = ""
    """Folder of the kubeconfig that names the plugin: a relative command path is relative to it."""


@dataclass(frozen=True)
class Target:
    """Where the API server is, how to trust it and who we are (before credentials are fetched)."""

    host: str
    context: str = ""
    namespace: str = ""
    verify_ssl: bool = True
    ca_file: str | None = None
    ca_data: str | None = None  # PEM
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None
    proxy_url: str | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    exec: ExecPlugin | None = None
    auth_provider: str | None = None
    """A legacy auth provider's name: the official client loads it from `files`."""
    impersonate: Impersonation = field(default_factory=Impersonation)
    user: str = ""
    """The kubeconfig user entry's name (for messages: who was refused)."""
    files: tuple[str, ...] = ()
    cluster_info: dict = field(default_factory=dict, compare=False, repr=False)
    """The cluster entry as an exec plugin with provideClusterInfo sees it."""


def who(target: Target) -> str:
    """Who the requests are sent as, for a refusal's message: never a credential, nor a plugin's arguments
    (they may hold one): `context prod, user admin (exec plugin aws), as alice, server https://...`."""
    how = ("exec plugin " + os.path.basename(target.exec.command)) if target.exec else (
        "token" if target.token or target.token_file else "client certificate" if target.cert_file else
        "basic auth" if target.username else f"auth provider {target.auth_provider}" if target.auth_provider else "")
    parts = [f"context {target.context}" if target.context else "",
             f"user {target.user or '(none)'}" + (f" ({how})" if how else ""),
             f"as {target.impersonate.user}" if target.impersonate.user else "",
             f"server {target.host}"]
    return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Overrides:
    """What global flags change, like kubectl's: --context, --as, --as-group, --as-uid."""

    context: str | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    uid: str | None = None


# -- which files, merged how -----------------------------------------------------------------------------


def paths(explicit: str | None) -> list[str]:
    """The kubeconfig files in precedence order ([] when there is none: in-cluster or an error)."""
    if explicit:
        if not os.path.isfile(explicit):
            raise KubeconfigError(f"--kubeconfig {explicit}: no such file")
        return [explicit]
    listed = os.environ.get("KUBECONFIG")
    if listed:  # set and non-empty: only its files, even when none exists (as kubectl)
        return [p for p in (os.path.expanduser(e) for e in listed.split(os.pathsep) if e) if os.path.isfile(p)]
    home = os.path.expanduser("~/.kube/config")
    return [home] if os.path.isfile(home) else []


@dataclass
class Merged:
    """Named entries and current-context of several files; each entry remembers its file's folder."""

    clusters: dict[str, tuple[dict, str]] = field(default_factory=dict)
    users: dict[str, tuple[dict, str]] = field(default_factory=dict)
    contexts: dict[str, tuple[dict, str]] = field(default_factory=dict)
    current: str = ""


def _parse(path: str) -> dict:
    import yaml

    try:
        with open(path, "rb") as f:
            doc = yaml.load(f.read(4 << 20), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {e}") from e
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path}: not a mapping")
    return doc


def merge(files: list[str]) -> Merged:
    """kubectl's merge: the first file to set a name (or current-context) wins; later ones never change it."""
    merged = Merged()
    for path in files:
        doc = _parse(path)
        base = os.path.dirname(os.path.abspath(path))
        for key, inner, into in (("clusters", "cluster", merged.clusters), ("users", "user", merged.users),
                                 ("contexts", "context", merged.contexts)):
            for item in doc.get(key) or ():
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    raise KubeconfigError(f"kubeconfig {path}: every entry of {key} needs a name")
                into.setdefault(item["name"], (item.get(inner) or {}, base))
        if not merged.current and isinstance(doc.get("current-context"), str):
            merged.current = doc["current-context"]
    return merged


# -- one context -> Target -------------------------------------------------------------------------------


_temp_dir: str | None = None


def private_temp_file(content: bytes) -> str:
    """Certificate data as an owner-only file (TLS libraries load keys from files); removed at exit."""
    global _temp_dir
    if _temp_dir is None:
        _temp_dir = tempfile.mkdtemp(prefix="kubesync-tls-")
        atexit.register(shutil.rmtree, _temp_dir, True)
    fd, path = tempfile.mkstemp(dir=_temp_dir)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    return path


def _path(base: str, value: Any) -> str | None:
    return os.path.normpath(os.path.join(base, os.path.expanduser(value))) if isinstance(value, str) and value else None


def _file_or_data(section: dict, key: str, base: str, where: str) -> tuple[str | None, bytes | None]:
    """(file path, decoded data) of `key` / `key-data`; data wins, as in kubectl."""
    data = section.get(key + "-data")
    if data:
        try:
            return None, base64.standard_b64decode(data)
        except (ValueError, TypeError) as e:
            raise KubeconfigError(f"{where}: {key}-data is not base64: {e}") from e
    path = _path(base, section.get(key))
    if path and not os.path.isfile(path):
        raise KubeconfigError(f"{where}: {key} {path} does not exist")
    return path, None


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KubeconfigError(f"{where} must be a list of strings")
    return tuple(value)


def _impersonation(user: dict, overrides: Overrides, where: str) -> Impersonation:
    extra = user.get("as-user-extra") or {}
    if not isinstance(extra, dict):
        raise KubeconfigError(f"{where}: as-user-extra must map keys to lists of strings")
    imp = Impersonation(
        user=overrides.user or str(user.get("as") or ""),
        uid=overrides.uid or str(user.get("as-uid") or ""),
        groups=overrides.groups or _string_list(user.get("as-groups"), f"{where}: as-groups"),
        extra=tuple(sorted((str(k), _string_list(v, f"{where}: as-user-extra.{k}")) for k, v in extra.items())),
    )
    if not imp.user and (imp.uid or imp.groups or imp.extra):
        raise KubeconfigError(f"{where}: impersonating groups, a uid or extras needs a user too (--as or `as:`)")
    return imp


def _exec(spec: Any, base: str, where: str) -> ExecPlugin:
    if not isinstance(spec, dict) or not isinstance(spec.get("command"), str) or not spec["command"]:
        raise KubeconfigError(f"{where}: exec needs a command")
    env = []
    for item in spec.get("env") or ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise KubeconfigError(f"{where}: exec env entries need a name and a value")
        env.append((item["name"], str(item.get("value") or "")))
    mode = spec.get("interactiveMode") or ("IfAvailable" if spec.get("apiVersion", "").endswith("v1beta1") else "")
    return ExecPlugin(
        command=spec["command"],
        args=_string_list(spec.get("args"), f"{where}: exec args"),
        env=tuple(env),
        api_version=str(spec.get("apiVersion") or ""),
        install_hint=str(spec.get("installHint") or ""),
        provide_cluster_info=bool(spec.get("provideClusterInfo")),
        interactive_mode=str(mode),
        base=base,
    )


def _cluster(merged: Merged, name: str, ctx_name: str) -> tuple[dict, str]:
    if name not in merged.clusters:
        raise KubeconfigError(f"kubeconfig: context {ctx_name!r} names cluster {name!r}, which no file defines")
    cluster, base = merged.clusters[name]
    if not isinstance(cluster.get("server"), str) or not cluster["server"]:
        raise KubeconfigError(f"kubeconfig: cluster {name!r} has no server")
    return cluster, base


def _tls(cluster: dict, base: str, where: str) -> dict[str, Any]:
    insecure = cluster.get("insecure-skip-tls-verify", False)
    if not isinstance(insecure, bool):
        raise KubeconfigError(f"{where}: insecure-skip-tls-verify must be true or false")
    ca_file, ca_raw = _file_or_data(cluster, "certificate-authority", base, where)
    if insecure and (ca_file or ca_raw):
        raise KubeconfigError(f"{where}: specifying a root certificates file with the insecure flag is not allowed "
                              "(remove certificate-authority or insecure-skip-tls-verify)")
    return {"verify_ssl": not insecure, "ca_file": ca_file, "ca_data": ca_raw.decode("ascii") if ca_raw else None,
            "tls_server_name": cluster.get("tls-server-name") or None, "proxy_url": cluster.get("proxy-url") or None}


def _credentials(user: dict, base: str, where: str) -> dict[str, Any]:
    cert_file, cert_data = _file_or_data(user, "client-certificate", base, where)
    key_file, key_data = _file_or_data(user, "client-key", base, where)
    if bool(cert_file or cert_data) != bool(key_file or key_data):
        raise KubeconfigError(f"{where}: client-certificate and client-key go together; only one is set")
    out: dict[str, Any] = {
        "cert_file": cert_file or (private_temp_file(cert_data) if cert_data else None),
        "key_file": key_file or (private_temp_file(key_data) if key_data else None),
        "token": user.get("token") or None,
        "token_file": _path(base, user.get("tokenFile")),
    }
    if out["token_file"] and not os.path.isfile(out["token_file"]):
        raise KubeconfigError(f"{where}: tokenFile {out['token_file']} does not exist")
    if user.get("exec"):
        out["exec"] = _exec(user["exec"], base, where)
    if isinstance(user.get("auth-provider"), dict):
        out["auth_provider"] = str(user["auth-provider"].get("name") or "unnamed")
    if user.get("username") and user.get("password"):
        out["username"], out["password"] = str(user["username"]), str(user["password"])
    return out


def target(merged: Merged, overrides: Overrides = Overrides(), files: tuple[str, ...] = ()) -> Target:
    """The Target of the chosen context (--context, else current-context) of merged kubeconfig files."""
    name = overrides.context or merged.current
    if not name:
        raise KubeconfigError(f"kubeconfig {', '.join(files) or '(none)'}: no current-context; pass --context")
    if name not in merged.contexts:
        raise KubeconfigError(f"kubeconfig: context {name!r} does not exist (have: {', '.join(sorted(merged.contexts)) or 'none'})")
    ctx, _ = merged.contexts[name]
    cluster, cluster_base = _cluster(merged, str(ctx.get("cluster") or ""), name)
    user_name = str(ctx.get("user") or "")
    if user_name and user_name not in merged.users:
        raise KubeconfigError(f"kubeconfig: context {name!r} names user {user_name!r}, which no file defines")
    user, user_base = merged.users.get(user_name, ({}, cluster_base))
    where = f"kubeconfig context {name!r}"
    server = cluster["server"].rstrip("/")
    tls = _tls(cluster, cluster_base, where) if server.startswith("https://") else {"proxy_url": cluster.get("proxy-url") or None}
    return Target(
        host=server,
        context=name,
        namespace=str(ctx.get("namespace") or ""),
        impersonate=_impersonation(user, overrides, where),
        user=user_name,
        files=files,
        cluster_info={k: v for k, v in cluster.items() if k != "extensions"},
        **tls,
        **_credentials(user, user_base, where),
    )


def in_cluster(overrides: Overrides = Overrides()) -> Target:
    """A pod's service account, like rest.InClusterConfig: its token file is re-read as it rotates."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeconfigError("no kubeconfig found and not running in a cluster; pass --kubeconfig or set KUBECONFIG")
    token_file = os.path.join(SERVICE_ACCOUNT_DIR, "token")
    if not os.path.isfile(token_file):
        raise KubeconfigError(f"running in a cluster, but {token_file} does not exist (automountServiceAccountToken?)")
    try:
        with open(os.path.join(SERVICE_ACCOUNT_DIR, "namespace")) as f:
            namespace = f.read(256).strip()
    except OSError:
        namespace = ""
    host = f"[{host}]" if ":" in host else host
    ca = os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt")
    return Target(
        host=f"https://{host}:{port}",
        context="in-cluster",
        namespace=os.environ.get("POD_NAMESPACE") or namespace,
        ca_file=ca if os.path.isfile(ca) else None,
        token_file=token_file,
        impersonate=_impersonation({}, overrides, "in-cluster"),
        user="the pod's service account",
    )


def load(explicit: str | None = None, overrides: Overrides = Overrides()) -> Target:
    """kubectl's choice: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the pod's service account."""
    files = paths(explicit)
    if not files:
        return in_cluster(overrides)
    return target(merge(files), overrides, tuple(files))

