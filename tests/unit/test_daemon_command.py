"""`kubesync daemon` flags and kubesync.yaml -> DaemonSettings; deploy/ agrees with the CLI and config format."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from kubesync.cli import build_parser
from kubesync.commands.daemon import settings_from
from kubesync.config import parse_config
from kubesync.errors import ConfigError, UsageError

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


def deploy_documents():
    docs = []
    for f in sorted((REPO / "deploy").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_deploy_runs_the_daemon_with_flags_the_cli_accepts_and_a_valid_config(tmp_path):
    docs = deploy_documents()
    container = docs[("Deployment", "kubesync")]["spec"]["template"]["spec"]["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.command == "daemon" and args.leader_elect and args.lease_namespace == "kubesync-system"
    text = docs[("ConfigMap", "kubesync-config")]["data"]["kubesync.yaml"]
    config = parse_config(text, "kubesync.yaml", base_dir=tmp_path)
    assert [s.name for s in config.syncs] == ["demo"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.listen.endswith(f":{ports['http']}")
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_deploy_rbac_covers_the_lease_and_the_inventory_in_kubesync_system():
    docs = deploy_documents()
    role = docs[("Role", "kubesync-state")]
    assert role["metadata"]["namespace"] == "kubesync-system"
    rules = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert {"get", "create", "update"} <= rules[("coordination.k8s.io", "leases")]
    assert {"get", "create", "update"} <= rules[("", "configmaps")]


def test_the_default_install_is_namespaced_with_a_role_in_every_target_namespace(tmp_path):
    docs = deploy_documents()
    kinds = {kind for kind, _ in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, "the default install grants nothing cluster-wide"
    text = docs[("ConfigMap", "kubesync-config")]["data"]["kubesync.yaml"]
    targets = {s.namespace for s in parse_config(text, "kubesync.yaml", base_dir=tmp_path).syncs}
    for ns in targets:
        assert ("Namespace", ns) in docs, f"the install creates {ns}"
        binding = next(d for (k, _), d in docs.items() if k == "RoleBinding" and d["metadata"]["namespace"] == ns)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubesync", "namespace": "kubesync-system"}]
        role = docs[("Role", binding["roleRef"]["name"])]
        assert role["metadata"]["namespace"] == ns
        assert not any("*" in r["verbs"] or "*" in r["resources"] or "*" in r["apiGroups"] for r in role["rules"]), "no wildcards"
    policy = docs[("NetworkPolicy", "kubesync")]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "kubesync"}
    assert policy["spec"]["ingress"][0]["from"], "port 9090 is not open to every pod"


def test_the_cluster_mode_is_separate_and_says_what_it_grants():
    text = (REPO / "deploy" / "cluster-mode" / "rbac-cluster.yaml").read_text()
    docs = {d["kind"]: d for d in yaml.safe_load_all(text)}
    assert set(docs) == {"ClusterRole", "ClusterRoleBinding"}
    assert "every Secret in the cluster" in text and "kubesync apply deploy/cluster-mode" in text
    assert "cluster-mode/" in (REPO / "deploy" / ".kubesyncignore").read_text().splitlines()
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in docs["ClusterRole"]["rules"])
