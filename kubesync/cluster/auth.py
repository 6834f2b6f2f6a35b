"""Credentials for each request, kept fresh the way client-go keeps them.

- a `tokenFile` (and a pod's projected service-account token) is read again whenever it changes;
- an exec plugin runs on the first request, its credential is cached until `expirationTimestamp`
  and it runs once more after a 401; when it fails, nothing is sent: its command, stderr and
  installHint are the error (client-go's behaviour; the official Python client sent the request
  anonymously);
- a legacy `auth-provider` (oidc, gcp, azure) is left to the official client's loader. That client
  weighs about 126 MB with its dependencies and nothing else uses it, so it is an optional extra
  (`pip install 'kubesync-gitops[legacy-auth]'`), imported only when such a kubeconfig is met.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shlex
import shutil
import subprocess
import threading
from datetime import datetime, timedelta, timezone

from kubesync.cluster.kubeconfig import ExecPlugin, Target, private_temp_file
from kubesync.errors import CredentialError, cut

log = logging.getLogger(__name__)

LEGACY_AUTH_EXTRA = "kubesync-gitops[legacy-auth]"

EXEC_TIMEOUT = 60.0  # a plugin that waits for a browser login must not hang a daemon forever
EXPIRY_SKEW = timedelta(seconds=10)


class Credentials:
    """The Authorization header (and an exec plugin's client certificate) for one Target; thread-safe."""

    def __init__(self, target: Target):
        self.target = target
        self._lock = threading.Lock()
        self._file_state: tuple | None = None
        self._file_token: str | None = None
        self._exec_status: dict | None = None
        self._exec_expiry: datetime | None = None
        self._exec_pair: tuple[str, str] | None = None
        self._provider_config = None

    def authorization(self) -> str | None:
        t = self.target
        with self._lock:
            if t.token_file:
                token = self._read_token_file() or t.token
                return f"Bearer {token}" if token else None
            if t.token:
                return f"Bearer {t.token}"
            if t.exec is not None:
                status = self._exec_credential()
                return f"Bearer {status['token']}" if status.get("token") else None
            if t.auth_provider:
                return self._provider_token()
            if t.username and t.password:
                return "Basic " + base64.b64encode(f"{t.username}:{t.password}".encode()).decode()
        return None

    def cert_pair(self) -> tuple[str, str] | None:
        """An exec plugin's client certificate and key files, when it gave those instead of a token."""
        with self._lock:
            return self._exec_pair

    def refresh(self) -> bool:
        """After a 401: forget what may be stale. True when a new attempt could authenticate differently."""
        t = self.target
        with self._lock:
            if t.token_file:
                self._file_state = None
                return True
            if t.token:
                return False
            if t.exec is not None:
                self._exec_status = None
                return True
            if t.auth_provider:
                self._provider_config = None
                return True
        return False

    # -- token files -----------------------------------------------------------------------------------

    def _read_token_file(self) -> str | None:
        path = self.target.token_file
        try:
            st = os.stat(path)
            state = (st.st_ino, st.st_mtime_ns, st.st_size)
            if state != self._file_state:
                with open(path) as f:
                    self._file_token = f.read(64 << 10).strip() or None
                if self._file_state is not None:
                    log.info("token file %s changed; using the new token", path)
                self._file_state = state
        except OSError as e:
            if self._file_token is None and not self.target.token:
                raise CredentialError(f"cannot read token file {path}: {e.strerror}") from e
        return self._file_token

    # -- exec plugins ----------------------------------------------------------------------------------

    def _exec_credential(self) -> dict:
        now = datetime.now(timezone.utc)
        if self._exec_status is not None and (self._exec_expiry is None or now < self._exec_expiry - EXPIRY_SKEW):
            return self._exec_status
        status = run_exec_plugin(self.target.exec, self.target)  # type: ignore[arg-type]
        expiry = status.get("expirationTimestamp")
        self._exec_expiry = _parse_time(expiry) if expiry else None
        if status.get("clientCertificateData"):
            self._exec_pair = (private_temp_file(status["clientCertificateData"].encode()), private_temp_file(status["clientKeyData"].encode()))
        self._exec_status = status
        return status

    # -- legacy auth providers -------------------------------------------------------------------------

    def _provider_token(self) -> str | None:
        try:
            from kubernetes import config as kconfig
            from kubernetes.client import Configuration
        except ImportError as e:
            raise CredentialError(
                f"the kubeconfig's user authenticates with the legacy auth-provider {self.target.auth_provider!r}, "
                f"which kubesync reads through the official kubernetes client, not installed here: "
                f"pip install '{LEGACY_AUTH_EXTRA}' (or move the user to an exec credential plugin, "
                f"as kubectl 1.26 and later require)"
            ) from e
        if self._provider_config is None:
            cfg = Configuration()
            try:
                kconfig.load_kube_config(config_file=os.pathsep.join(self.target.files), context=self.target.context,
                                         client_configuration=cfg, persist_config=False)
            except kconfig.ConfigException as e:
                raise CredentialError(f"auth-provider {self.target.auth_provider}: {e}") from e
            self._provider_config = cfg
        cfg = self._provider_config  # the key was "authorization" before client 32, "BearerToken" since
        return cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization")


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise CredentialError(f"exec credential plugin: expirationTimestamp {value!r} is not RFC 3339") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _exec_info(plugin: ExecPlugin, target: Target) -> str:
    spec: dict = {"interactive": False}
    if plugin.provide_cluster_info:
        c = target.cluster_info
        cluster = {"server": c.get("server"), "tls-server-name": c.get("tls-server-name"),
                   "insecure-skip-tls-verify": c.get("insecure-skip-tls-verify"), "proxy-url": c.get("proxy-url")}
        if target.ca_data or target.ca_file:
            pem = target.ca_data.encode() if target.ca_data else open(target.ca_file, "rb").read()  # type: ignore[arg-type]
            cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
        for ext in c.get("extensions") or ():
            if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
                cluster["config"] = ext.get("extension")
        spec["cluster"] = {k: v for k, v in cluster.items() if v not in (None, "", False)}
    return json.dumps({"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec})


def _command(plugin: ExecPlugin) -> str | None:
    cmd = plugin.command
    if os.sep in cmd:
        path = os.path.join(plugin.base, cmd) if not os.path.isabs(cmd) else cmd
        return path if os.access(path, os.X_OK) else None
    return shutil.which(cmd)


def run_exec_plugin(plugin: ExecPlugin, target: Target) -> dict:
    """Run the plugin; its ExecCredential status, or a CredentialError saying what failed and how to fix it."""
    shown = " ".join(shlex.quote(p) for p in (plugin.command, *plugin.args))
    hint = f"\n{plugin.install_hint.strip()}" if plugin.install_hint.strip() else ""
    if plugin.interactive_mode == "Always":
        raise CredentialError(f"exec credential plugin {shown} needs an interactive terminal (interactiveMode: Always); "
                              "kubesync never runs plugins interactively" + hint)
    path = _command(plugin)
    if path is None:
        raise CredentialError(f"exec credential plugin {shown}: executable {plugin.command} not found" + hint)
    env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": _exec_info(plugin, target)}
    try:
        done = subprocess.run([path, *plugin.args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=EXEC_TIMEOUT, cwd=plugin.base or None)
    except subprocess.TimeoutExpired as e:
        raise CredentialError(f"exec credential plugin {shown} did not finish within {EXEC_TIMEOUT:.0f}s" + hint) from e
    except OSError as e:
        raise CredentialError(f"exec credential plugin {shown}: {e.strerror}" + hint) from e
    stderr = cut(done.stderr.decode(errors="replace").strip(), 1000)
    if done.returncode != 0:
        raise CredentialError(f"exec credential plugin {shown} failed with exit code {done.returncode}"
                              + (f": {stderr}" if stderr else "") + hint)
    if stderr:
        log.debug("exec credential plugin %s: %s", shown, stderr)
    return _exec_status(done.stdout, plugin, shown)


def _exec_status(stdout: bytes, plugin: ExecPlugin, shown: str) -> dict:
    try:
        doc = json.loads(stdout)
    except ValueError as e:
        raise CredentialError(f"exec credential plugin {shown}: its output is not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
        raise CredentialError(f"exec credential plugin {shown}: its output is not an ExecCredential")
    if plugin.api_version and doc.get("apiVersion") != plugin.api_version:
        raise CredentialError(f"exec credential plugin {shown}: it answered apiVersion {doc.get('apiVersion')!r}, "
                              f"the kubeconfig asks for {plugin.api_version!r}")
    status = doc.get("status") or {}
    if not isinstance(status, dict) or not (status.get("token") or (status.get("clientCertificateData") and status.get("clientKeyData"))):
        raise CredentialError(f"exec credential plugin {shown}: its ExecCredential has neither status.token nor "
                              "status.clientCertificateData with clientKeyData")
    return status
