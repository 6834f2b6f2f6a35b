"""The dashboard in a real browser (Debian's chromium, `make browser`, driven by Playwright) against a
daemon on the real control plane: states, live updates without a reload, the masked diff of a
Secret, and "Sync now" refused without the token and working with it.

Screenshots go to tests/artifacts/ (ignored by git) for a reviewer to look at.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.integration.daemon_harness import REPO_ROOT, DaemonProcess, wait_until
from tests.support.manifests import deployment, secret, write

pytestmark = pytest.mark.integration

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def web(name: str, ns: str) -> dict:
    return deployment(name, namespace=ns, container={"name": "web"})


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def kubectl(kubeconfig: str, *args: str) -> None:
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], check=True, capture_output=True, timeout=30)


def test_the_dashboard_follows_the_daemon_live_and_guards_its_buttons(kubeconfig, cluster, namespace, tmp_path, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    suffix = secrets.token_hex(3)
    watch, heal = f"watch-{suffix}", f"heal-{suffix}"
    canary = f"canary-{secrets.token_hex(6)}"
    write(tmp_path / watch, {"web.yaml": web("web-a", namespace),
                             "secret.yaml": secret(namespace=namespace, string_data={"password": canary})})
    write(tmp_path / heal, {"web.yaml": web("web-b", namespace)})
    config = tmp_path / "kubesync.yaml"
    config.write_text(f"syncs:\n  - {{name: {watch}, namespace: {namespace}, source: {{path: {tmp_path / watch}}}}}\n"
                      f"  - {{name: {heal}, namespace: {namespace}, selfHeal: true, source: {{path: {tmp_path / heal}}}}}\n")
    token = secrets.token_hex(16)
    (tmp_path / "ui-token").write_text(token)
    args = ["--config", str(config), "--interval", "5m", "--ui-token-file", str(tmp_path / "ui-token")]
    with DaemonProcess(args, kubeconfig, tmp_path) as d:
        d.wait_ready(60)
        base = f"http://127.0.0.1:{d.port}"
        page = browser.new_page(viewport={"width": 1100, "height": 560})

        # The overview lists both syncs, Synced, with text labels.
        page.goto(base + "/")
        for name in (watch, heal):
            page.wait_for_selector(f'tr[data-sync="{name}"] [data-state="Synced"]', timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"))
        page.evaluate("window.__noReload = true")

        # An out-of-band scale turns the sync without self-heal OutOfSync on the open page, without a reload.
        kubectl(kubeconfig, "-n", namespace, "scale", "deployment/web-a", "--replicas=3")
        page.wait_for_selector(f'tr[data-sync="{watch}"] [data-state="OutOfSync"]', timeout=10_000)
        assert page.evaluate("window.__noReload === true")
        # The self-healing one is turned back, and shows Synced again.
        kubectl(kubeconfig, "-n", namespace, "scale", "deployment/web-b", "--replicas=3")
        wait_until(lambda: cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web-b")["spec"]["replicas"] == 1,
                   15, what="self-heal reverted the scale")
        page.wait_for_selector(f'tr[data-sync="{heal}"] [data-state="Synced"]', timeout=10_000)

        # A Secret changed by hand: the sync page shows the masked diff, never a value.
        changed = f"changed-{secrets.token_hex(6)}"
        kubectl(kubeconfig, "-n", namespace, "patch", "secret", "creds", "--type=merge",
                "-p", '{"data": {"password": "%s"}}' % base64.b64encode(changed.encode()).decode())
        page.goto(f"{base}/syncs/{watch}")
        page.wait_for_selector("pre.diff:has-text('Secret')", timeout=10_000)  # the page's CSP allows no eval
        html = page.content()
        assert "***" in html
        assert "/spec/replicas" in html and "kubectl" in html  # the drift: what changed, and who changed it
        page.wait_for_selector("ul.podlist li:has-text('web-a-')", timeout=10_000)  # its Pods, folded under it
        for value in (canary, changed):
            assert value not in html and base64.b64encode(value.encode()).decode() not in html
        assert "Sync now" not in html
        page.screenshot(path=str(ARTIFACTS / "dashboard-sync.png"), full_page=True)

        # "Sync now" without the token is refused and runs nothing ...
        runs_before = len(d.json(f"/api/v1/syncs/{watch}/runs")["runs"])
        refused = page.request.post(f"{base}/syncs/{watch}/sync", form={"csrf": "guess"}, max_redirects=0)
        assert refused.status == 403
        assert not any("manual" in r["triggers"] for r in d.json(f"/api/v1/syncs/{watch}/runs")["runs"])
        # ... and with it (the login form's session, the page's CSRF token) runs the sync, which reverts the drift.
        page.goto(f"{base}/login?next=/syncs/{watch}")
        page.fill('input[name="token"]', token)
        page.click('button[type="submit"]')
        page.wait_for_url(f"{base}/syncs/{watch}")
        page.click("text=Sync now")
        page.wait_for_selector("text=A run was started.", timeout=10_000)
        wait_until(lambda: any("manual" in r["triggers"] for r in d.json(f"/api/v1/syncs/{watch}/runs")["runs"]), 15,
                   what=f"a manual run; log:\n{d.log()}")
        assert len(d.json(f"/api/v1/syncs/{watch}/runs")["runs"]) > runs_before
        wait_until(lambda: cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web-a")["spec"]["replicas"] == 1,
                   15, what="Sync now reverted the scale")
        page.wait_for_selector('[data-state="Synced"]', timeout=10_000)
        page.goto(base + "/")
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview-after.png"))
        assert os.path.getsize(ARTIFACTS / "dashboard-overview.png") < 200_000
        assert d.terminate() == 0
