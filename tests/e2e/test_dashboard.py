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


def shop(ns: str, bad_key: str) -> dict[str, str]:
    """A Namespace and a ConfigMap in it whose key the server refuses: nothing in the namespace can be
    dry-run before it exists, so the first apply creates the namespace, then fails on the ConfigMap."""
    return {"namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
            "settings.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\n"
                             f"data: {{'{bad_key}': '1'}}\n"}


def test_a_failing_syncs_page_shows_the_revision_it_tries_and_the_real_state_of_its_namespace(
        kubeconfig, cluster, namespace, tmp_path, browser):
    import git

    from tests.support.git import init_repo

    app_ns, name = f"{namespace[:40]}-app", f"shop-{secrets.token_hex(3)}"
    ann, bob = git.Actor("Ann Example", "ann@example.com"), git.Actor("Bob Builder", "bob@example.com")
    repo = init_repo(tmp_path / "repo")

    def push(files: dict[str, str], message: str, who) -> str:
        for f, text in files.items():
            (tmp_path / "repo" / f).write_text(text)
        repo.index.add(list(files))
        return repo.index.commit(message, author=who, committer=who).hexsha

    first = push(shop(app_ns, "bad key"), "Add the shop namespace and its settings", ann)
    args = ["--repo", str(tmp_path / "repo"), "--ref", "main", "--name", name, "--interval", "1s"]
    try:
        with DaemonProcess(args, kubeconfig, tmp_path) as d:
            # The first apply created the namespace and failed; the retries fail at the plan (now that the
            # namespace exists, the ConfigMap is dry-run): the first attempt's plan is stale.
            wait_until(lambda: (s := d.sync(name)) and s["failing"] and s["trying"]["stage"] == "planning", 60,
                       what=f"the retry's plan failing; log:\n{d.log()}")
            assert cluster.get(f"/api/v1/namespaces/{app_ns}")["status"]["phase"] == "Active"
            assert d.http("/readyz")[0] == 200 and d.metric("kubesync_sync_failing", sync=name) == 1
            base = f"http://127.0.0.1:{d.port}"
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"{base}/syncs/{name}")
            page.wait_for_selector(f"#attempt [data-revision]:has-text('{first[:12]}')", timeout=10_000)
            assert page.inner_text("[data-commit-subject]") == "Add the shop namespace and its settings"
            assert page.inner_text("[data-commit-author]") == "Ann Example <ann@example.com>"
            assert "Failed while planning" in page.inner_text("#attempt") and "settings" in page.inner_text("[data-error]")
            ns_row = f'tr[data-object="v1 Namespace {app_ns}"]'
            assert page.get_attribute(f"{ns_row} [data-health]", "data-health") == "Healthy"  # it exists: not "Missing"
            assert page.get_attribute(f"{ns_row} [data-sync-state]", "data-sync-state") != "Missing"
            assert "No plan of revision " + first[:12] in page.inner_text("body")  # not the first attempt's plan
            page.screenshot(path=str(ARTIFACTS / "dashboard-failing.png"), full_page=True)

            # A new commit, still broken: the open page follows the attempt to it, without a reload.
            page.evaluate("window.__noReload = true")
            second = push(shop(app_ns, "still bad"), "Rename the setting", bob)
            page.wait_for_selector(f"#attempt [data-revision]:has-text('{second[:12]}')", timeout=20_000)
            page.wait_for_selector("[data-commit-author]:has-text('Bob Builder')", timeout=10_000)
            assert page.evaluate("window.__noReload === true")

            # The overview says why in one line, where the sync applies, and the totals.
            page.goto(base + "/")
            reason = page.wait_for_selector(f'tr[data-sync-reason="{name}"] [data-reason]', timeout=10_000)
            text = reason.inner_text()
            assert "settings" in text and "\n" not in text
            line = page.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)", reason)
            assert reason.bounding_box()["height"] < 1.5 * line  # one line on the screen, however long the error
            assert page.inner_text("[data-totals]").split() == "1 sync: 1 failed 0 paused 0 out of sync 0 synced".split()
            page.screenshot(path=str(ARTIFACTS / "dashboard-overview-failing.png"))
            assert d.terminate() == 0
    finally:
        cluster.request("DELETE", f"/api/v1/namespaces/{app_ns}") if cluster.get_or_none(f"/api/v1/namespaces/{app_ns}") else None
