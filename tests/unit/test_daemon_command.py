"""`kubesync daemon` flags and kubesync.yaml -> DaemonSettings; deploy/ agrees with the CLI and config format."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from kubesync.cli import build_parser
from kubesync.commands.daemon import settings_from
from kubesync.config import parse_config
from kubesync.errors import ConfigError, UsageError
from tests.support.deploy import DEPLOY, by_kind_and_name, render

REPO = Path(__file__).resolve().parents[2]


def settings(argv: str):
    return settings_from(build_parser().parse_args(["daemon", *shlex.split(argv)]))


def test_one_sync_from_flags(tmp_path):
    s = settings(f"{tmp_path} --name shop -n web --interval 10s --self-heal --prune --webhook http://h/x --leader-elect "
                 "--lease-duration 4s --lease-namespace kubesync-system --identity me --listen 0.0.0.0:9000")
    (sync,) = s.syncs
    assert (sync.name, sync.namespace, sync.interval, sync.resync, sync.self_heal, sync.prune) == ("shop", "web", 10, 10, True, True)
    assert sync.source.path == str(tmp_path) and not sync.allow_empty
    assert s.alerts.url == "http://h/x" and s.alerts.format == "json"
    assert (s.lease.enabled, s.lease.duration, s.lease.namespace, s.lease.identity) == (True, 4, "kubesync-system", "me")
    assert s.listen == "0.0.0.0:9000"


def test_a_git_source_from_flags():
    (sync,) = settings("--repo https://example.com/r.git --ref main --path app --name web").syncs
    assert (sync.source.repo, sync.source.ref, sync.source.subpath, sync.name) == ("https://example.com/r.git", "main", "app", "web")


def test_a_daemon_from_flags_needs_a_name():
    with pytest.raises(UsageError, match="needs the sync's name: pass --name SYNC"):
        settings("--repo https://example.com/r.git --path app")


def write_config(tmp_path, text):
    (tmp_path / "kubesync.yaml").write_text(text)
    return tmp_path / "kubesync.yaml"


CONFIG = """
syncs:
  - name: one
    source: {path: ./one}
    namespace: a
    context: ctx-a
    selfHeal: true
    interval: 45s
  - name: two
    source: {repo: https://example.com/r.git, ref: main, path: k8s}
    prune: true
    maxPrune: 0.2
webhook: {url: "https://hooks.example.com/T0?token=x", format: slack}
"""


def test_every_sync_of_a_config(tmp_path):
    path = write_config(tmp_path, CONFIG)
    s = settings(f"--config {path} --context fallback")
    one, two = s.syncs
    assert (one.name, one.namespace, one.context, one.self_heal, one.interval) == ("one", "a", "ctx-a", True, 45)
    assert one.source.path == str(tmp_path / "one")
    assert (two.name, two.context, two.prune, two.max_prune, two.source.subpath) == ("two", "fallback", True, 0.2, "k8s")
    assert s.alerts.format == "slack" and s.alerts.url.startswith("https://hooks.example.com/")


def test_config_with_name_runs_that_sync_and_flags_override_the_webhook(tmp_path):
    path = write_config(tmp_path, CONFIG)
    s = settings(f"--config {path} --name two --alert-webhook http://other/ --alert-format json")
    assert [x.name for x in s.syncs] == ["two"]
    assert s.alerts.url == "http://other/" and s.alerts.format == "json"
    with pytest.raises(ConfigError, match="no sync named"):
        settings(f"--config {path} --name three")


def test_the_old_alert_flags_still_work_and_say_they_are_deprecated(tmp_path, caplog):
    s = settings(f"{tmp_path} --name shop --webhook http://old/ --webhook-format slack")
    assert (s.alerts.url, s.alerts.format) == ("http://old/", "slack")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "--webhook is deprecated and will be removed; use --alert-webhook" in warned
    assert "--webhook-format is deprecated and will be removed; use --alert-format" in warned


def test_the_receiver_is_off_without_a_secret_and_reads_one_from_a_file(tmp_path):
    off = settings(f"{tmp_path} --name shop").receiver
    assert off.secret is None and not off.insecure
    assert settings(f"{tmp_path} --name shop --receiver-insecure").receiver.insecure
    (tmp_path / "secret").write_text("0123456789abcdef0123\n")
    s = settings(f"{tmp_path} --name shop --receiver-secret-file {tmp_path / 'secret'}")
    assert s.receiver.secret == b"0123456789abcdef0123" and "0123" not in repr(s.receiver)


def test_the_receiver_secret_from_kubesync_yaml_is_relative_to_it(tmp_path):
    (tmp_path / "hook-secret").write_text("s3cret-s3cret-s3cret")
    path = write_config(tmp_path, CONFIG + "receiver: {secretFile: hook-secret}\n")
    assert settings(f"--config {path}").receiver.secret == b"s3cret-s3cret-s3cret"
    (tmp_path / "hook-secret").write_text("short")
    with pytest.raises(UsageError, match="receiver.secretFile: .*hook-secret holds a secret shorter than 16 bytes") as e:
        settings(f"--config {path}")
    assert "short" not in str(e.value).replace("shorter", "")


@pytest.mark.parametrize("argv, message", [
    ("", "no source"),
    (". --interval soon", "--interval"),
    (". --interval 0s", "--interval"),
    (". --name s --lease-duration x", "--lease-duration"),
    (". --name s --alert-webhook ftp://x", "--alert-webhook"),
    (". --max-prune 2", "--max-prune"),
    (". --name s --receiver-secret-file /nonexistent/secret", "--receiver-secret-file: cannot read /nonexistent/secret"),
    (". --name s --header-timeout 0", "--header-timeout"),
])
def test_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        settings(argv)


def deploy_documents(folder: str = ""):
    """(kind, name) -> document of one install (deploy/ itself by default: the namespaced mode)."""
    return {(k, name): d for (k, _, name), d in by_kind_and_name(render(folder)).items()}


def test_deploy_runs_the_daemon_with_flags_the_cli_accepts_and_a_valid_config(tmp_path):
    docs = deploy_documents()
    container = docs[("Deployment", "kubesync")]["spec"]["template"]["spec"]["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.command == "daemon" and args.leader_elect
    # The Leases live in the pod's own namespace: no flag names one, the downward API gives it.
    env = {e["name"]: e for e in container["env"]}
    assert args.lease_namespace is None and env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    text = docs[("ConfigMap", "kubesync-config")]["data"]["kubesync.yaml"]
    config = parse_config(text, "kubesync.yaml", base_dir=tmp_path)
    assert [s.name for s in config.syncs] == ["demo"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.listen.endswith(f":{ports['http']}") and args.probe_listen.endswith(f":{ports['probes']}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "probes"}  # the probe listener, not --listen


def rules_of(role: dict) -> dict[tuple[str, str], set[str]]:
    return {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}


def test_deploy_rbac_covers_the_lease_and_the_inventory_in_kubesync_system():
    docs = deploy_documents()
    role = docs[("Role", "kubesync-state")]
    assert role["metadata"]["namespace"] == "kubesync-system"
    rules = rules_of(role)
    assert {"get", "create", "update"} <= rules[("coordination.k8s.io", "leases")]
    # the inventories are written by PUT, and read through the daemon's shared watch
    assert rules[("", "configmaps")] == {"get", "list", "watch", "create", "update"}


def test_the_default_install_is_namespaced_with_a_grant_in_every_target_namespace(tmp_path):
    docs = deploy_documents()
    assert not [k for k in docs if k[0] == "ClusterRoleBinding"], "the default install binds nothing cluster-wide"
    text = docs[("ConfigMap", "kubesync-config")]["data"]["kubesync.yaml"]
    targets = {s.namespace for s in parse_config(text, "kubesync.yaml", base_dir=tmp_path).syncs}
    for ns in targets:
        assert ("Namespace", ns) in docs, f"the install creates {ns}"
        binding = next(d for (k, _), d in docs.items() if k == "RoleBinding" and d["metadata"]["namespace"] == ns)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubesync", "namespace": "kubesync-system"}]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubesync-sync"}
    role = docs[("ClusterRole", "kubesync-sync")]
    assert not any("*" in r["verbs"] or "*" in r["resources"] or "*" in r["apiGroups"] for r in role["rules"]), "no wildcards"
    assert ("", "namespaces") not in rules_of(role), "the namespaced mode never creates or lists namespaces"
    policy = docs[("NetworkPolicy", "kubesync")]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "kubesync"}
    assert policy["spec"]["ingress"][0]["from"], "port 9090 is not open to every pod"


def test_a_target_namespace_is_one_line_of_kustomize(tmp_path):
    """overlays/namespaced's recipe: a one-line kustomization naming the namespace, listed in resources."""
    import shutil

    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    overlay = copy / "overlays" / "namespaced"
    (overlay / "shop").mkdir()
    (overlay / "shop" / "kustomization.yaml").write_text("{namespace: shop, resources: [../../../target]}\n")
    text = (overlay / "kustomization.yaml").read_text()
    (overlay / "kustomization.yaml").write_text(text.replace("  - kubesync-demo\n", "  - kubesync-demo\n  - shop\n"))
    before, after = by_kind_and_name(render("overlays/namespaced")), by_kind_and_name(render(overlay))
    assert set(after) - set(before) == {("Namespace", "", "shop"), ("RoleBinding", "shop", "kubesync-sync")}
    assert after[("RoleBinding", "shop", "kubesync-sync")]["subjects"][0]["namespace"] == "kubesync-system"


def test_the_cluster_mode_is_an_overlay_that_says_what_it_grants():
    base, cluster = deploy_documents("base"), deploy_documents("overlays/cluster")
    added = {k: d for k, d in cluster.items() if k not in base}
    assert set(added) == {("ClusterRoleBinding", "kubesync-sync"), ("ClusterRole", "kubesync-namespaces"),
                          ("ClusterRoleBinding", "kubesync-namespaces")}
    text = (DEPLOY / "overlays" / "cluster" / "rbac-cluster.yaml").read_text()
    assert "every Secret in the cluster" in text
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in added[("ClusterRole", "kubesync-namespaces")]["rules"])
    assert not [k for k in deploy_documents("overlays/namespaced") if k[0] == "ClusterRoleBinding"]
