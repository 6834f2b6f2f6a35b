"""Finding 4 on the real control plane: an admission webhook that quotes a Secret value in its
denial; the value reaches neither `kubesync apply`'s error line nor its logs (text or JSON).

The webhook is a real HTTPS server in the test process, registered with a real
ValidatingWebhookConfiguration scoped to the test's namespace; the API server calls it and
returns its message in the 403, exactly as a policy engine (Gatekeeper, Kyverno) would.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import ssl
import subprocess
import threading
import time

import pytest

from kubesync.errors import ClusterError
from tests.support import cli as support_cli
from tests.support.manifests import write


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class _Deny(http.server.BaseHTTPRequestHandler):
    """Denies every Secret, quoting each value raw and in base64 (the worst a webhook can do)."""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        obj = request.get("object") or {}
        quoted = [f"{k}={base64.b64decode(v).decode(errors='replace')!r} ({v})" for k, v in (obj.get("data") or {}).items()]
        quoted += [f"{k}={v!r}" for k, v in (obj.get("stringData") or {}).items()]
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {
            "uid": request["uid"], "allowed": False,
            "status": {"code": 403, "message": "policy breach-list denied: " + ", ".join(quoted)},
        }}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def denying_webhook(cluster, namespace, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    label = {"kubesync-echo-test": namespace}
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}", body={"metadata": {"labels": label}},
                    content_type="application/merge-patch+json")
    name = f"echo-{secrets.token_hex(3)}"
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    cluster.request("POST", path, body={
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "echo.kubesync.test", "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "failurePolicy": "Fail", "timeoutSeconds": 5, "namespaceSelector": {"matchLabels": label},
            "clientConfig": {"url": f"https://127.0.0.1:{server.server_address[1]}/validate",
                             "caBundle": base64.b64encode(cert.read_bytes()).decode()},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["secrets"]}],
        }],
    })
    try:
        _wait_until_denied(cluster, namespace)
        yield
    finally:
        cluster.request("DELETE", f"{path}/{name}")
        server.shutdown()
        server.server_close()


def _wait_until_denied(cluster, namespace: str) -> None:
    """The API server picks up a new webhook configuration within a second or two."""
    probe = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "probe"}, "stringData": {"k": "probe-value"}}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            cluster.request("POST", f"/api/v1/namespaces/{namespace}/secrets", query={"dryRun": "All"}, body=probe)
        except ClusterError as e:
            if "breach-list" in str(e):
                return
        time.sleep(0.3)
    raise AssertionError("the webhook was not called within 30s")


def test_a_webhook_quoting_a_secret_value_is_scrubbed_from_errors_and_logs(kubeconfig, namespace, denying_webhook, tmp_path):
    password, token = f"canary-pw-{secrets.token_hex(6)}", f"canary-tok-{secrets.token_hex(6)}"
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {password}}}\n"
        f"data: {{token: {b64(token)}}}\n"
    )
    for log_format in ("text", "json"):
        proc = support_cli.run("apply", folder, "-n", namespace, "--name", "echo", "--yes", "--kubeconfig", kubeconfig,
                               "--debug", "--log-format", log_format)
        captured = proc.stdout + proc.stderr
        assert proc.returncode == 1, captured
        assert "policy breach-list denied: " in proc.stderr  # the webhook's message is shown ...
        assert "password=***" in proc.stderr or "password='***'" in proc.stderr
        for value in (password, token, b64(password), b64(token), b64(token).rstrip("=")):
            assert value not in captured, f"{log_format}: {value!r} leaked:\n{captured[-2000:]}"  # ... its quotes are not


def test_the_api_server_quoting_a_value_it_cannot_decode_is_scrubbed(kubeconfig, namespace, tmp_path):
    """A space inside base64 passes kubesync's check (whitespace is stripped, as in YAML folding) but
    not the API server's decoder, whose error quotes the request body around the bad byte."""
    token = f"canary-decode-{secrets.token_hex(8)}"
    encoded = b64(token)
    written = encoded[:12] + " " + encoded[12:]
    folder = write(tmp_path / "app", {
        "secret.yaml": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\ndata: {{token: '{written}'}}\n",
    })
    proc = support_cli.run("apply", folder, "-n", namespace, "--name", "decode", "--yes", "--kubeconfig", kubeconfig,
                           "--debug", "--log-format", "json")
    captured = proc.stdout + proc.stderr
    assert proc.returncode == 1, captured
    assert "v1 Secret" in proc.stderr and "creds" in proc.stderr
    for value in (token, encoded, written, encoded[:12], encoded[12:]):
        assert value not in captured, f"{value!r} leaked:\n{captured[-2000:]}"


def test_the_daemon_keeps_an_echoed_value_out_of_its_log_probes_dashboard_and_alerts(kubeconfig, namespace, denying_webhook, tmp_path):
    from tests.integration.daemon_harness import DaemonProcess, wait_until
    from tests.support.webhooks import AlertReceiver

    password = f"canary-daemon-{secrets.token_hex(6)}"
    folder = write(tmp_path / "app", {
        "secret.yaml": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {password}}}\n",
    })
    hook = AlertReceiver()
    args = [str(folder), "--name", "echo-daemon", "-n", namespace, "--interval", "5m", "--alert-webhook", hook.url,
            "--debug", "--log-format", "json"]
    try:
        with DaemonProcess(args, kubeconfig, tmp_path) as d:
            wait_until(lambda: "sync_failed" in hook.events(), 60, what=f"a sync_failed alert; log:\n{d.log()}")
            readyz = d.http("/readyz")
            assert readyz is not None and readyz[0] == 200  # about the process; the failure is the sync's
            listed = wait_until(lambda: (got := d.syncs()) and got["failed"] == ["echo-daemon"] and got, 30,
                                what="the failing sync listed")
            page = d.http("/syncs/echo-daemon")
            assert page is not None and page[0] == 200
            seen = {"log": d.log(), "readyz": readyz[1].decode(), "alerts": json.dumps(hook.bodies),
                    "syncs": json.dumps(listed), "sync": json.dumps(d.json("/api/v1/syncs/echo-daemon")),
                    "page": page[1].decode()}
            assert "breach-list" in seen["sync"]  # the denial is shown on the dashboard, its quotes scrubbed
            assert "breach-list" in seen["log"]  # the webhook's denial is logged, its quotes scrubbed
            for where, text in seen.items():
                for value in (password, b64(password), b64(password).rstrip("=")):
                    assert value not in text, f"{where}: {value!r} leaked:\n{text[-2000:]}"
            d.terminate()
    finally:
        hook.close()
