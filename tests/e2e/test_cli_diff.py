"""`kubesync diff` as a CI script runs it: a unified diff per changed object and exit code 2 while the
cluster differs from the source, `No changes.` and exit 0 once applied; Secret values never printed;
colour only on a terminal and never with --no-color."""

from __future__ import annotations

import base64
import os
import pty
import re

import pytest

from tests.support import cli as support_cli
from tests.support.manifests import configmap, deployment, secret, write, yaml_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")

PASSWORD = "correct-horse-battery-staple-e2e"
NEW_PASSWORD = "tr0ub4dor-and-3-e2e"
TOKEN = "tok-9f8e7d6c5b4a-e2e"

APP = yaml_text(
    configmap("settings", {"greeting": "hello", "log.level": "info"}),
    secret(string_data={"password": PASSWORD}, data={"token": TOKEN}),
    deployment(container={"env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]}),
)


def forms(value: str) -> list[str]:
    """Every way a Secret value could leak into the output: plain, base64, base64 without padding."""
    encoded = base64.b64encode(value.encode()).decode()
    return [value, encoded, encoded.rstrip("=")]


# Colour is the CLI's own choice here (no NO_COLOR), on a terminal that claims colours.
TERMINAL = {"TERM": "xterm-256color"}


def kubesync(*args: str, expect: int) -> str:
    proc = support_cli.run(*args, no_color=False, env_extra=TERMINAL, timeout=180, check_code=expect)
    return proc.stdout + proc.stderr


def kubesync_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal, where colour is on unless --no-color says otherwise."""
    master, slave = pty.openpty()
    proc = support_cli.popen(*args, no_color=False, env_extra=TERMINAL, stdout=slave, text=False)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=180)
    return code, b"".join(chunks).decode() + stderr


@pytest.fixture
def source(tmp_path):
    folder = write(tmp_path / "app", {"app.yaml": APP})
    return folder


@pytest.fixture
def args(source, namespace, kubeconfig):
    sync = f"cli-diff-{namespace[-6:]}"  # sync names are cluster-wide
    return lambda *extra: [str(source), "-n", namespace, "--name", sync, "--kubeconfig", kubeconfig, *extra]


def assert_no_secret(output: str, *values: str) -> None:
    for value in values:
        for form in forms(value):
            assert form not in output, f"a Secret value leaked into the output ({form[:4]}...)"


def block(output: str, header: str) -> str:
    """The lines of one object's diff, from its `--- live/...` (or `+++ desired/...` for a create) header
    to the next header or the summary."""
    start = output.index(header)
    rest = output[start + len(header):]
    ends = [i for i in (rest.find("\n--- "), rest.find("\nPlan:"), rest.find("\nNo changes.")) if i >= 0]
    return header + rest[: min(ends) if ends else len(rest)]


def test_diff_exits_2_with_a_unified_diff_until_applied_then_0_with_no_changes(args, namespace):
    out = kubesync("diff", *args("--exit-code", "--no-color"), expect=2)
    for ref in (f"v1.ConfigMap.{namespace}.settings", f"v1.Secret.{namespace}.creds", f"apps.v1.Deployment.{namespace}.web"):
        assert f"--- /dev/null\n+++ desired/{ref}\n@@ -0,0 " in out  # a create, as git writes one
    cm = block(out, f"+++ desired/v1.ConfigMap.{namespace}.settings")
    assert "\n+  greeting: hello" in cm and "\n+kind: ConfigMap" in cm
    assert "Plan: 3 to create, 0 to update, 0 to scale, 0 to delete (0 unchanged)." in out
    assert_no_secret(out, PASSWORD, TOKEN)

    kubesync("apply", *args("--yes", "--no-color"), expect=0)

    out = kubesync("diff", *args("--exit-code", "--no-color"), expect=0)
    assert "No changes." in out and "--- live/" not in out
    # without --exit-code, changes or not, a diff is a success
    kubesync("diff", *args("--no-color"), expect=0)


def test_changed_source_and_out_of_band_change_show_as_hunks(args, namespace, source, cluster):
    kubesync("apply", *args("--yes", "--no-color"), expect=0)
    (source / "app.yaml").write_text(APP.replace("greeting: hello", "greeting: bonjour"))
    cluster.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/web",
                    body={"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}}},
                    content_type="application/strategic-merge-patch+json")

    out = kubesync("diff", *args("--exit-code", "--no-color"), expect=2)
    cm = block(out, f"--- live/v1.ConfigMap.{namespace}.settings")
    assert "\n-  greeting: hello\n+  greeting: bonjour\n" in cm
    assert "log.level: info" in cm  # context lines around the change
    deploy = block(out, f"--- live/apps.v1.Deployment.{namespace}.web")
    assert re.search(r"\n-\s+image: nginx:latest\n\+\s+image: nginx:1\.25\n", deploy), deploy
    assert f"v1.Secret.{namespace}.creds" not in out  # unchanged objects are not shown
    assert "Plan: 0 to create, 2 to update, 0 to scale, 0 to delete (1 unchanged)." in out

    kubesync("apply", *args("--yes", "--no-color"), expect=0)
    assert "No changes." in kubesync("diff", *args("--exit-code", "--no-color"), expect=0)


def test_secret_values_are_masked_never_printed(args, namespace, source, cluster):
    kubesync("apply", *args("--yes", "--no-color"), expect=0)
    (source / "app.yaml").write_text(APP.replace(PASSWORD, NEW_PASSWORD))
    # and someone changes the token in the cluster
    stolen = "stolen-token-value-e2e"
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/secrets/creds",
                    body={"data": {"token": base64.b64encode(stolen.encode()).decode()}},
                    content_type="application/merge-patch+json")

    out = kubesync("diff", *args("--exit-code", "--no-color"), expect=2)
    assert_no_secret(out, PASSWORD, NEW_PASSWORD, TOKEN, stolen)
    secret = block(out, f"--- live/v1.Secret.{namespace}.creds")
    removed = re.findall(r"^-\s+(password|token): '(.*)'$", secret, re.M)
    added = re.findall(r"^\+\s+(password|token): '(.*)'$", secret, re.M)
    assert [k for k, _ in removed] == ["password", "token"] and [k for k, _ in added] == ["password", "token"], secret
    # the markers tell a reviewer that both values changed, and nothing about them (no hash)
    assert dict(removed) == {"password": "***", "token": "***"}, secret
    assert dict(added) == {"password": "*** (changed)", "token": "*** (changed)"}, secret

    # the same holds for the other outputs that show values: plan text, JSON and Markdown
    for fmt in ("text", "json", "markdown"):
        out = kubesync("plan", *args("--no-color", "-o", fmt), expect=0)
        assert_no_secret(out, PASSWORD, NEW_PASSWORD, TOKEN, stolen)


def test_colour_on_a_terminal_and_never_with_no_color(args, namespace):
    code, out = kubesync_on_a_terminal("diff", *args("--exit-code"))
    assert code == 2, out
    assert ANSI.search(out), "expected a coloured diff on a terminal"
    assert "\x1b[32m+  greeting: hello\x1b[0m" in out.replace("\r\n", "\n")

    code, out = kubesync_on_a_terminal("diff", *args("--exit-code", "--no-color"))
    assert code == 2, out
    assert "\x1b" not in out and f"+++ desired/v1.ConfigMap.{namespace}.settings" in out

    piped = kubesync("diff", *args("--exit-code"), expect=2)  # not a terminal: plain as well
    assert "\x1b" not in piped
