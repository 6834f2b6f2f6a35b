"""The embedded local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
and kwok on loopback, with a few simulated Nodes.

Used by the integration tests (one per test session), by `make demo` and by `kubesync cluster up`
(whose background supervisor process is kubesync/localsupervisor.py).
Two Kubernetes versions are supported side by side (see `VERSIONS`): 1.37.2, built from the Go
module proxy by the `build-k8s-1.37` recipe (with etcd 3.6 built the same way), and 1.20.2, the oldest
version kubesync supports, built from Debian's `kubernetes` source package by `build-k8s-1.20`
(with Debian's etcd-server; recipes shipped in kubesync/recipes/, run by `kubesync cluster build`).
Binaries are cached in ~/.cache/kubesync/k8s-<version>/bin.
No kubelet runs: kwok (built by kubesync/recipes/build-kwok) plays it for the Nodes created here
(kubesync/localnodes.py), so pods are scheduled, run, become Ready, complete, crash on demand.
With nodes=0 neither kwok nor any Node is started, and pods stay Pending (unschedulable).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kubesync import localnodes, tools
from kubesync.errors import ToolMissing
from kubesync.localnodes import NodeShape
from kubesync.localprocess import (  # noqa: F401  (tests, bench and the demo import these from here)
    Component,
    ControlPlaneError,
    die_with_parent as _die_with_parent,
    free_port,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KubernetesVersion:
    """One supported control-plane version: where its binaries live and which flags it takes."""

    minor: str
    """"1.37": what users type after --kubernetes-version."""
    full: str
    """"1.37.2": the release the build script produces (and /version reports)."""
    build_script: str
    """The command that builds and caches the binaries (it runs the packaged recipe build-k8s-<minor>)."""
    bundled_etcd: bool
    """True when etcd is built beside kube-apiserver; False: Debian's etcd-server on PATH."""
    insecure_port_flags: bool
    """1.20 still has insecure ports that must be turned off; they were removed in 1.24."""


VERSIONS: dict[str, KubernetesVersion] = {
    # Newest first: it is the default wherever its binaries are built.
    "1.37": KubernetesVersion("1.37", "1.37.2", "kubesync cluster build --kubernetes-version 1.37", bundled_etcd=True, insecure_port_flags=False),
    "1.20": KubernetesVersion("1.20", "1.20.2", "kubesync cluster build --kubernetes-version 1.20", bundled_etcd=False, insecure_port_flags=True),
}
NEWEST = next(iter(VERSIONS))


def cache_dir() -> Path:
    base = os.environ.get("KUBESYNC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubesync"
    )
    return Path(base)


def binaries_root() -> Path:
    """The folder holding k8s-<version>/bin; KUBESYNC_K8S_ROOT pins it (tests set it before moving HOME)."""
    return Path(os.environ.get("KUBESYNC_K8S_ROOT") or cache_dir())


def get_version(minor: str | None) -> KubernetesVersion:
    """The version named by `minor` ("1.37", or "1.37.2"), or the newest one whose binaries are built."""
    if minor is None:
        built = built_versions()
        return built[0] if built else VERSIONS[NEWEST]
    key = ".".join(minor.lstrip("v").split(".")[:2])
    if key not in VERSIONS:
        raise ControlPlaneError(f"unsupported Kubernetes version {minor!r}; choose one of {', '.join(VERSIONS)}")
    return VERSIONS[key]


def bin_dir(version: KubernetesVersion | None = None) -> Path:
    version = version or get_version(None)
    return binaries_root() / f"k8s-{version.full}" / "bin"


def _binary_paths(version: KubernetesVersion) -> dict[str, str]:
    bins = bin_dir(version)
    etcd = str(bins / "etcd") if version.bundled_etcd else (shutil.which("etcd") or "/usr/bin/etcd")
    return {
        "kube-apiserver": str(bins / "kube-apiserver"),
        "kube-controller-manager": str(bins / "kube-controller-manager"),
        "kube-scheduler": str(bins / "kube-scheduler"),
        "etcd": etcd,
    }


def _missing(version: KubernetesVersion) -> list[str]:
    return [name for name, path in _binary_paths(version).items() if not os.access(path, os.X_OK)]


def find_binaries(version: KubernetesVersion | None = None) -> dict[str, str]:
    """Paths of the control plane's programs, or a ControlPlaneError saying how to build them."""
    version = version or get_version(None)
    missing = _missing(version)
    if missing:
        raise ControlPlaneError(
            f"Kubernetes {version.full}: missing {', '.join(missing)} (looked in {bin_dir(version)}"
            f"{'' if version.bundled_etcd else ' and PATH'}); run `{version.build_script}` (or `make control-plane`) first"
        )
    return _binary_paths(version)


def built_versions() -> list[KubernetesVersion]:
    return [v for v in VERSIONS.values() if not _missing(v)]


@dataclass
class LocalCluster:
    """A running control plane. Use as a context manager, or start()/stop()."""

    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    components: list[Component] = field(default_factory=list)
    api_port: int = 0
    owns_workdir: bool = False
    tie_to_parent: bool = True
    version: KubernetesVersion = field(default_factory=lambda: get_version(None))
    nodes: NodeShape = field(default_factory=NodeShape)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @classmethod
    def create(
        cls, workdir: str | os.PathLike | None = None, tie_to_parent: bool = True, version: str | None = None,
        nodes: NodeShape | None = None,
    ) -> "LocalCluster":
        """A cluster of `version` ("1.37", "1.20"; default: the newest built one) in `workdir`, with
        `nodes` simulated Nodes (default: 3 of 4 CPUs and 16Gi each)."""
        chosen = get_version(version)
        if workdir is None:
            path, owns = Path(tempfile.mkdtemp(prefix="kubesync-cluster-")), True
        else:
            path, owns = Path(workdir), False
            path.mkdir(parents=True, exist_ok=True)
        return cls(path, owns_workdir=owns, tie_to_parent=tie_to_parent, version=chosen, nodes=nodes or NodeShape())

    def __enter__(self) -> "LocalCluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- start -----------------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        bins = find_binaries(self.version)
        kwok = kwok_binary() if self.nodes.count else None
        try:
            self._write_credentials()
            self._start_etcd(bins["etcd"], timeout)
            self._start_apiserver(bins["kube-apiserver"], timeout)
            self._write_kubeconfig()
            self._start_controller_manager(bins["kube-controller-manager"])
            self._start_scheduler(bins["kube-scheduler"])
            self._wait_default_serviceaccount(timeout)
            if kwok:
                self._start_kwok(kwok)
                self._create_nodes(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("local control plane ready at %s (kubeconfig %s)", self.server, self.kubeconfig)

    def _write_credentials(self) -> None:
        (self.workdir / "logs").mkdir(exist_ok=True)
        (self.workdir / "certs").mkdir(exist_ok=True)
        # a system:masters token: readable by its owner only, from the first byte on
        fd = os.open(self.workdir / "token.csv", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'{self.token},kubesync-admin,kubesync-admin,"system:masters"\n')
        os.chmod(self.workdir / "token.csv", 0o600)  # an existing file keeps its mode through O_TRUNC
        key = self.workdir / "sa.key"
        if not key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
            key.chmod(0o600)  # signs every service account token of the cluster
            subprocess.run(
                ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(self.workdir / "sa.pub")],
                check=True,
                capture_output=True,
            )

    def _launch(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Component:
        comp = Component(name, argv, self.workdir / "logs" / f"{name}.log")
        comp.start(env, tie_to_parent=self.tie_to_parent)
        self.components.append(comp)
        return comp

    def _start_etcd(self, etcd: str, timeout: float) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        comp = self._launch(
            "etcd",
            [
                etcd,
                "--name=kubesync",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=kubesync=http://127.0.0.1:{peer}",
                "--listen-metrics-urls=",
                "--log-level=warn",
                "--logger=zap",
            ],
        )
        self._wait(comp, lambda: _http_ok(self.etcd_url + "/health"), timeout, "did not become healthy")

    def _start_apiserver(self, binary: str, timeout: float) -> None:
        self.api_port = free_port()
        w = self.workdir
        comp = self._launch(
            "kube-apiserver",
            [
                binary,
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={w / 'certs'}",
                f"--token-auth-file={w / 'token.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={w / 'sa.pub'}",
                f"--service-account-signing-key-file={w / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--v=1",
                *(["--insecure-port=0"] if self.version.insecure_port_flags else []),
            ],
        )
        self._wait(comp, lambda: _http_ok(self.server + "/readyz", self.token), timeout, "did not become ready")

    def _write_kubeconfig(self) -> None:
        ca = self.workdir / "certs" / "apiserver.crt"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubesync-local", "cluster": {"server": self.server, "certificate-authority": str(ca)}}],
            "users": [{"name": "kubesync-admin", "user": {"token": self.token}}],
            "contexts": [{"name": "kubesync-local", "context": {"cluster": "kubesync-local", "user": "kubesync-admin"}}],
            "current-context": "kubesync-local",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)

    def _start_controller_manager(self, binary: str) -> None:
        w = self.workdir
        self._launch(
            "kube-controller-manager",
            [
                binary,
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                # The node lifecycle controller stays on: it removes the not-ready taint the API
                # server puts on every new Node once kwok reports it Ready, and taints silent ones.
                "--controllers=*,-nodeipam,-ttl",
                f"--service-account-private-key-file={w / 'sa.key'}",
                f"--root-ca-file={w / 'certs' / 'apiserver.crt'}",
                "--use-service-account-credentials=false",
                "--secure-port=0",
                "--concurrent-gc-syncs=5",
                "--v=1",
                *(["--port=0"] if self.version.insecure_port_flags else []),
            ],
        )

    def _start_scheduler(self, binary: str) -> None:
        self._launch(
            "kube-scheduler",
            [
                binary,
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                "--v=1",
                *(["--port=0"] if self.version.insecure_port_flags else []),
            ],
        )

    def _start_kwok(self, binary: str) -> None:
        config = self.workdir / "kwok.yaml"
        config.write_text(localnodes.kwok_config())
        home = self.workdir / "kwok-home"  # kwok also reads ~/.kwok/kwok.yaml: never the user's
        home.mkdir(exist_ok=True)
        env = {**os.environ, "HOME": str(home)}
        self._launch("kwok", localnodes.kwok_argv(binary, self.kubeconfig, config), env=env)

    def _create_nodes(self, timeout: float) -> None:
        """Register the Nodes as kubelets would, then wait until the scheduler may use every one."""
        names = localnodes.node_names(self.nodes.count)
        for index in range(len(names)):
            body = localnodes.node_manifest(index, self.nodes, f"v{self.version.full}")
            _http_json(self.server + "/api/v1/nodes", self.token, "POST", body)
        pending = names

        def all_ready() -> bool:
            nonlocal pending
            pending = localnodes.not_ready((_http_json(self.server + "/api/v1/nodes", self.token) or {}).get("items") or [], names)
            return not pending

        try:
            self._wait(self.component("kwok"), all_ready, timeout, "did not make the nodes Ready")
        except ControlPlaneError as e:
            raise ControlPlaneError(f"{e}\nnodes not Ready: {', '.join(pending)}") from None

    def _wait_default_serviceaccount(self, timeout: float) -> None:
        """Workloads need the `default` ServiceAccount, which the controller-manager creates."""
        cm = self.component("kube-controller-manager")
        url = self.server + "/api/v1/namespaces/default/serviceaccounts/default"
        self._wait(cm, lambda: _http_ok(url, self.token), timeout, "did not create the default service account")

    def _wait(self, comp: Component, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not comp.alive():
                raise comp.failure("failed to start")
            if ready():
                return
            time.sleep(0.2)
        raise comp.failure(f"{what} within {timeout:.0f}s")

    # -- stop ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        for comp in reversed(self.components):
            comp.stop()
        self.components.clear()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


def kwok_binary() -> str:
    """kwok from the tools cache (kubesync/recipes/build-kwok), or one ControlPlaneError saying how to build it."""
    try:
        return str(tools.find("kwok"))
    except ToolMissing as e:
        raise ControlPlaneError(f"the simulated nodes need kwok: {e}") from None


def _http_json(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict | None:
    """One request to the control plane being started; the decoded answer, or ControlPlaneError."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10, context=ssl._create_unverified_context()) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raise ControlPlaneError(f"{method} {url}: {e.code} {e.read(400).decode(errors='replace')}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ControlPlaneError(f"{method} {url}: {e}") from None


def _http_ok(url: str, token: str | None = None) -> bool:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    ctx = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
