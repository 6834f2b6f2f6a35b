"""A real chart repository and a real OCI registry on loopback, both over TLS with basic auth.

`ChartRepository`: charts packaged with the pinned helm, indexed with `helm repo index`, served by a
Python HTTPS server that wants a username and password (and counts requests). `OCIRegistry`: the
CNCF Distribution registry built by the project's recipe (kubesync.tools), htpasswd auth, charts
pushed with `helm push`. `tls()` makes a throwaway CA and a certificate for 127.0.0.1 with openssl.
"""

from __future__ import annotations

import base64
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from kubesync import tools

USER, PASSWORD = "charts", "s3cret-chart-pass"


@dataclass(frozen=True)
class TLS:
    ca: Path
    cert: Path
    key: Path


def tls(folder: Path) -> TLS:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key, cert, key, csr = (folder / n for n in ("ca.pem", "ca.key", "cert.pem", "cert.key", "cert.csr"))
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=kubesync test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "2", "-extfile", str(ext))
    return TLS(ca, cert, key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def helm(*args: str, stdin: str | None = None, cwd: Path | None = None, home: Path | None = None) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home or cwd or "/tmp")}
    if home:
        env.update(HELM_CONFIG_HOME=str(home / "config"), HELM_CACHE_HOME=str(home / "cache"), HELM_DATA_HOME=str(home / "data"))
    done = subprocess.run([str(tools.find("helm")), *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stderr}"
    return done.stdout + done.stderr


class ChartRepository:
    """`https://127.0.0.1:PORT/` serving index.yaml and chart archives to USER:PASSWORD only."""

    def __init__(self, folder: Path, certs: TLS, charts: list[Path]):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for chart in charts:
            helm("package", str(chart), "--destination", str(folder), cwd=folder)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        helm("repo", "index", str(folder), "--url", self.url, cwd=folder)
        self.requests: list[tuple[str, bool]] = []  # (path, authorized)
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.cert, certs.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self):
        repo, expected = self, "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(repo.folder), **kwargs)

            def do_GET(self):  # noqa: N802
                ok = self.headers.get("Authorization") == expected
                repo.requests.append((self.path, ok))
                if not ok:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> "ChartRepository":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class OCIRegistry:
    """The Distribution registry on `127.0.0.1:PORT` over TLS, htpasswd auth for USER:PASSWORD."""

    def __init__(self, folder: Path, certs: TLS):
        self.folder, self.certs = folder, certs
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        (folder / "htpasswd").write_bytes(USER.encode() + b":" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(5)) + b"\n")
        (folder / "config.yml").write_text(f"""\
version: 0.1
log: {{level: error}}
storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}
http: {{addr: "{self.host}", tls: {{certificate: {certs.cert}, key: {certs.key}}}}}
auth: {{htpasswd: {{realm: kubesync, path: {folder / 'htpasswd'}}}}}
""")
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "OCIRegistry":
        self.proc = subprocess.Popen([str(tools.find("registry")), "serve", str(self.folder / "config.yml")],
                                     stdout=open(self.folder / "registry.log", "wb"), stderr=subprocess.STDOUT)
        context = ssl.create_default_context(cafile=str(self.certs.ca))
        deadline = time.monotonic() + 30
        while True:  # up when /v2/ answers (401: it wants credentials)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                    with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                        s.sendall(b"GET /v2/ HTTP/1.0\r\n\r\n")
                        if b"401" in s.recv(64):
                            return self
            except OSError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, (self.folder / "registry.log").read_text()
            time.sleep(0.1)

    def push(self, chart: Path, work: Path) -> str:
        """Package and push a chart to oci://HOST/charts; returns the manifest digest helm reports."""
        work.mkdir(parents=True, exist_ok=True)
        helm("package", str(chart), "--destination", str(work), cwd=work)
        archive = next(work.glob("*.tgz"))
        helm("registry", "login", self.host, "--username", USER, "--password-stdin", "--ca-file", str(self.certs.ca),
             stdin=PASSWORD, home=work)
        said = helm("push", str(archive), f"oci://{self.host}/charts", "--ca-file", str(self.certs.ca), home=work)
        shutil.rmtree(work / "config", ignore_errors=True)  # the login's stored credentials
        return next(line.split()[-1] for line in said.splitlines() if line.startswith("Digest:"))

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
