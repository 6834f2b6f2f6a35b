"""config.py: kubesync.yaml validated into frozen dataclasses; every problem names file:line and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kubesync.config import (
    Config,
    IgnoreRule,
    SyncConfig,
    WebhookConfig,
    load_config,
    parse_config,
    parse_duration,
)
from kubesync.errors import ConfigError
from kubesync.model import ObjectRef
from kubesync.sources import SourceSpec

FULL = """\
syncs:
  - name: shop
    source: {path: ./manifests}
    namespace: shop
    context: kind-dev
    prune: true
    selfHeal: true
    interval: 1h30m
    maxPrune: 0.25
    ignore:
      - {group: apps, kind: Deployment, name: web, namespace: shop, paths: [/spec/replicas]}
      - {kind: Deployment, managers: [kube-controller-manager, hpa]}
  - source: {repo: "https://bot:t0ken@github.com/org/infra.git", ref: main, path: apps/billing}
  - name: local-git
    source: {repo: ../gitops}
webhook: {url: "https://hooks.example.com/T0/B0/x", format: slack}
"""


def write(tmp_path: Path, text: str, name: str = "kubesync.yaml") -> Path:
    path = tmp_path / "conf" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "k.yaml", "/base")
    return str(info.value)


# --- the happy path ---------------------------------------------------------------------------


def test_a_full_config_is_read_into_dataclasses(tmp_path):
    path = write(tmp_path, FULL)
    config = load_config(path)
    base = tmp_path / "conf"
    assert config == Config(
        syncs=(
            SyncConfig(
                name="shop",
                source=SourceSpec(path=str(base / "manifests")),
                namespace="shop",
                context="kind-dev",
                prune=True,
                self_heal=True,
                interval=5400.0,
                max_prune=0.25,
                ignore=(
                    IgnoreRule("apps", "Deployment", "web", "shop", paths=("/spec/replicas",)),
                    IgnoreRule(kind="Deployment", managers=("kube-controller-manager", "hpa")),
                ),
            ),
            SyncConfig(
                name="billing",
                source=SourceSpec(repo="https://bot:t0ken@github.com/org/infra.git", ref="main", subpath="apps/billing"),
            ),
            SyncConfig(name="local-git", source=SourceSpec(repo=str(tmp_path / "gitops"))),
        ),
        webhook=WebhookConfig("https://hooks.example.com/T0/B0/x", "slack"),
    )
    assert config.path == str(path)
    assert config.sync("billing").source.describe() == "https://github.com/org/infra.git@main:apps/billing"


def test_defaults():
    config = parse_config("syncs:\n  - source: {path: /srv/manifests}\n", "k.yaml")
    assert config.syncs == (SyncConfig(name="manifests", source=SourceSpec(path="/srv/manifests")),)
    sync = config.syncs[0]
    assert (sync.namespace, sync.context, sync.prune, sync.self_heal, sync.interval, sync.max_prune, sync.ignore) == (
        "",  # the kubeconfig context's namespace, else default
        None,
        False,
        False,
        30.0,
        0.5,
        (),
    )
    assert config.webhook is None


def test_settings_are_frozen_and_documented():
    for cls in (Config, SyncConfig, IgnoreRule, WebhookConfig):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
        assert cls.__doc__
    with pytest.raises(dataclasses.FrozenInstanceError):
        SyncConfig(name="a", source=SourceSpec(path=".")).prune = True  # type: ignore[misc]


def test_unknown_sync_name_lists_the_known_ones(tmp_path):
    config = load_config(write(tmp_path, FULL))
    with pytest.raises(ConfigError) as info:
        config.sync("nope")
    assert str(info.value) == f"{config.path}: no sync named 'nope'; known: shop, billing, local-git"


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1h", 3600), ("500ms", 0.5), ("1.5h", 5400), ("2d", 172800), ("45", 45), (" 10s ", 10), (7, 7), ("0s", 0)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30x", "m5", "1h 30m", "-5s", "5 m", "1.h", "s"])
def test_parse_duration_refuses_garbage(text):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"{text!r} is not a duration; use e.g. 30s, 5m or 1h30m"


def test_parse_duration_refuses_negative_numbers():
    with pytest.raises(ValueError) as info:
        parse_duration(-1)
    assert str(info.value) == "-1 is negative; a duration is 0 or more"


# --- ignore rules -----------------------------------------------------------------------------


def test_ignore_rule_matches_on_every_field_it_sets():
    web = ObjectRef("apps", "v1", "Deployment", "shop", "web")
    assert IgnoreRule(paths=("/spec/replicas",)).matches(web)
    assert IgnoreRule(group="apps", kind="Deployment", name="web", namespace="shop").matches(web)
    assert not IgnoreRule(group="", kind="Deployment").matches(web)
    assert not IgnoreRule(kind="StatefulSet").matches(web)
    assert not IgnoreRule(kind="Deployment", name="api").matches(web)
    assert not IgnoreRule(kind="Deployment", namespace="other").matches(web)
    assert IgnoreRule(group="", kind="ConfigMap").matches(ObjectRef("", "v1", "ConfigMap", "shop", "x"))


def test_core_group_can_be_spelled_core_or_empty():
    text = 'syncs:\n  - source: {path: m}\n    ignore:\n      - {group: core, kind: Service, paths: [/spec/clusterIP]}\n      - {group: "", kind: Service, paths: [/spec/clusterIPs]}\n'
    rules = parse_config(text, "k.yaml", "/base").syncs[0].ignore
    assert [r.group for r in rules] == ["", ""]


def test_ignore_rule_needs_paths_or_managers():
    text = "syncs:\n  - source: {path: m}\n    ignore:\n      - {kind: Deployment}\n"
    assert error(text) == "k.yaml:4: syncs[0].ignore[0]: needs paths (JSON pointers) or managers (field manager names) to ignore"


def test_ignore_paths_must_be_json_pointers():
    text = "syncs:\n  - source: {path: m}\n    ignore:\n      - kind: Deployment\n        paths:\n          - /spec/replicas\n          - spec/template\n          - /metadata/annotations/a~2b\n"
    assert error(text) == (
        "2 problems in k.yaml:\n"
        "  k.yaml:7: syncs[0].ignore[0].paths[1]: 'spec/template' is not a JSON pointer; write it like /spec/replicas\n"
        "  k.yaml:8: syncs[0].ignore[0].paths[2]: '/metadata/annotations/a~2b' is not a JSON pointer; write it like /spec/replicas"
    )


def test_ignore_rule_unknown_key_and_wrong_types():
    text = "syncs:\n  - source: {path: m}\n    ignore:\n      - {kinds: Deployment, managers: hpa}\n"
    assert error(text) == (
        "2 problems in k.yaml:\n"
        "  k.yaml:4: syncs[0].ignore[0]: unknown key 'kinds'; did you mean 'kind'? known keys: group, kind, name, namespace, paths, managers\n"
        "  k.yaml:4: syncs[0].ignore[0].managers: must be a list of strings, not a string"
    )


# --- every problem names file:line and the field ----------------------------------------------


def test_unknown_keys_are_refused_with_a_suggestion():
    text = "syncs:\n  - source: {path: m}\n    self_heal: true\n    intervall: 5m\nwebhooks: {url: http://x}\n"
    assert error(text) == (
        "3 problems in k.yaml:\n"
        "  k.yaml:3: syncs[0]: unknown key 'self_heal'; did you mean 'selfHeal'? known keys: name, source, namespace, context, prune, selfHeal, interval, maxPrune, ignore, allowEmpty, maxSourceSize, maxSourceNodes, allowRemoteResources, decryption, validate\n"
        "  k.yaml:4: syncs[0]: unknown key 'intervall'; did you mean 'interval'? known keys: name, source, namespace, context, prune, selfHeal, interval, maxPrune, ignore, allowEmpty, maxSourceSize, maxSourceNodes, allowRemoteResources, decryption, validate\n"
        "  k.yaml:5: (top level): unknown key 'webhooks'; did you mean 'webhook'? known keys: syncs, webhook, receiver"
    )


def test_unknown_key_without_a_close_match():
    assert error("syncs:\n  - source: {path: m}\n    zzz: 1\n") == (
        "k.yaml:3: syncs[0]: unknown key 'zzz'; known keys: name, source, namespace, context, prune, selfHeal, interval, maxPrune, ignore, allowEmpty, maxSourceSize, maxSourceNodes, allowRemoteResources, decryption, validate"
    )


def test_wrong_types_name_the_field():
    text = "syncs:\n  - source: {path: m}\n    prune: 'yes please'\n    selfHeal: 1\n    maxPrune: half\n    context: [a]\n    interval: true\n"
    assert error(text) == (
        "5 problems in k.yaml:\n"
        "  k.yaml:3: syncs[0].prune: must be true or false, not a string\n"
        "  k.yaml:4: syncs[0].selfHeal: must be true or false, not a number\n"
        "  k.yaml:5: syncs[0].maxPrune: must be a number from 0 to 1, not a string\n"
        "  k.yaml:6: syncs[0].context: must be a string, not a list\n"
        "  k.yaml:7: syncs[0].interval: must be a duration like 30s, 5m or 1h30m, not a boolean"
    )


def test_bad_values():
    text = "syncs:\n  - source: {path: m}\n    interval: 30x\n    maxPrune: 1.5\n  - source: {path: n}\n    interval: 0s\n"
    assert error(text) == (
        "3 problems in k.yaml:\n"
        "  k.yaml:3: syncs[0].interval: '30x' is not a duration; use e.g. 30s, 5m or 1h30m\n"
        "  k.yaml:4: syncs[0].maxPrune: 1.5 is not between 0 and 1 (a share: 0.5 allows deleting half the owned objects)\n"
        "  k.yaml:6: syncs[1].interval: must be more than 0"
    )


def test_interval_may_be_a_number_of_seconds():
    assert parse_config("syncs:\n  - source: {path: m}\n    interval: 90\n", "k.yaml").syncs[0].interval == 90.0


def test_sync_names_must_be_dns_labels_and_unique():
    text = "syncs:\n  - name: Shop_1\n    source: {path: a}\n  - name: web\n    source: {path: b}\n  - source: {path: c/web}\n"
    assert error(text) == (
        "2 problems in k.yaml:\n"
        "  k.yaml:2: syncs[0].name: 'Shop_1' is not a valid sync name: it must be a DNS-1123 label: at most 63 lowercase "
        "letters, digits and '-', starting and ending with a letter or digit\n"
        "  k.yaml:6: syncs[2].name: 'web' is already used by syncs[1]; sync names name inventories and must be unique"
    )


def test_namespace_must_be_a_dns_label():
    assert error("syncs:\n  - source: {path: m}\n    namespace: My.Shop\n") == (
        "k.yaml:3: syncs[0].namespace: 'My.Shop' is not a valid namespace name: it must be a DNS-1123 label: at most 63 "
        "lowercase letters, digits and '-', starting and ending with a letter or digit"
    )


def test_source_problems():
    text = (
        "syncs:\n"
        "  - name: a\n    source: {path: m, ref: main}\n"
        "  - name: b\n    source: {ref: main}\n"
        "  - name: c\n    source: {repo: https://x/r.git, path: ../up}\n"
        "  - name: d\n    source: ./m\n"
        "  - name: e\n"
    )
    assert error(text) == (
        "5 problems in k.yaml:\n"
        "  k.yaml:3: syncs[0].source.ref: needs repo: a folder has no refs\n"
        "  k.yaml:5: syncs[1].source: needs path (a folder), repo (a git repository) or helm.chart (a chart from a repository)\n"
        "  k.yaml:7: syncs[2].source.path: sub-folder '../up' leaves the source root ('..'); give a path inside it\n"
        "  k.yaml:9: syncs[3].source: must be a mapping, not a string\n"
        "  k.yaml:10: syncs[4]: needs source, e.g. source: {path: ./manifests}"
    )


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    path = write(tmp_path, "syncs:\n  - source: {path: ../manifests/app}\n  - source: {path: /abs/x}\n")
    monkeypatch.chdir("/")
    config = load_config(path)
    assert [s.source.path for s in config.syncs] == [str(tmp_path / "manifests/app"), "/abs/x"]


def test_url_repos_are_kept_as_given():
    config = parse_config("syncs:\n  - source: {repo: 'git@github.com:org/r.git', ref: v1.2.0}\n", "k.yaml", "/base")
    assert config.syncs[0].source == SourceSpec(repo="git@github.com:org/r.git", ref="v1.2.0")


def test_webhook_problems_never_echo_the_url():
    text = "syncs:\n  - source: {path: m}\nwebhook: {url: 'ftp://s3cret@host/hook', format: xml}\n"
    message = error(text)
    assert message == (
        "2 problems in k.yaml:\n"
        "  k.yaml:3: webhook.url: must be an http:// or https:// URL\n"
        "  k.yaml:3: webhook.format: 'xml' is not one of json, slack"
    )
    assert error("syncs:\n  - source: {path: m}\nwebhook: {format: json}\n") == "k.yaml:3: webhook: needs url"


def test_top_level_shape():
    assert error("- a\n- b\n") == "k.yaml:1: (top level): must be a mapping, not a list"
    assert error("webhook: {url: 'http://x'}\n") == "k.yaml:1: syncs: is missing; list at least one sync under syncs:"
    assert error("syncs: []\n") == "k.yaml:1: syncs: is empty; list at least one sync"
    assert error("syncs: {name: a}\n") == "k.yaml:1: syncs: must be a list, not a mapping"
    assert error("") == "k.yaml: is empty; list at least one sync under syncs:"


def test_duplicate_keys_are_refused():
    assert error("syncs:\n  - source: {path: m}\n    prune: true\n    prune: false\n") == "k.yaml:4: syncs[0].prune: is given twice; keep one"


def test_yaml_syntax_error_names_line_and_column():
    assert error("syncs:\n  - source: {path: m\n") == "k.yaml:3: invalid YAML at column 1: expected ',' or '}', but got '<stream end>' (while parsing a flow mapping at line 2)"
    assert error("syncs: []\n---\nsyncs: []\n") == (
        "k.yaml:2: invalid YAML at column 1: but found another document (expected a single document in the stream at line 1)"
    )


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"config file {tmp_path / 'nope.yaml'} does not exist"
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"syncs: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(info.value).startswith(f"cannot read config file {bad}: 'utf-8' codec can't decode byte 0xe9")


def test_allow_empty_is_read(tmp_path):
    from kubesync.config import load_config

    (tmp_path / "m").mkdir()
    path = tmp_path / "kubesync.yaml"
    path.write_text("syncs:\n  - name: a\n    source: {path: m}\n    allowEmpty: true\n  - name: b\n    source: {path: m}\n")
    config = load_config(str(path))
    assert [s.allow_empty for s in config.syncs] == [True, False]


@pytest.mark.parametrize("value, size", [("1G", 10**9), ("1.5Gi", 3 * 2**29), ("512Ki", 2**19), ("1e9", 10**9), ("300", 300)])
def test_a_source_size_takes_every_kubernetes_quantity_form(value, size, tmp_path):
    config = parse_config(f"syncs:\n- source: {{path: .}}\n  maxSourceSize: {value}\n", "k.yaml", tmp_path)
    assert config.syncs[0].source.max_bytes == size


def test_source_size_and_remote_resources_reach_the_source_spec(tmp_path):
    text = "syncs:\n- source: {path: .}\n  maxSourceSize: 64Mi\n  allowRemoteResources: true\n- source: {path: ./b}\n"
    first, second = parse_config(text, "k.yaml", tmp_path).syncs
    assert (first.source.max_bytes, first.source.allow_remote) == (64 * 2**20, True)
    assert (second.source.max_bytes, second.source.allow_remote) == (None, False)


@pytest.mark.parametrize("value", ["64MB", "0", "-1", "lots", "1m"])
def test_a_bad_source_size_is_named(value, tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_config(f"syncs:\n- source: {{path: .}}\n  maxSourceSize: {value}\n", "k.yaml", tmp_path)
    assert str(info.value).startswith("k.yaml:3: syncs[0].maxSourceSize: ")


def test_validate_sets_how_unknown_fields_are_treated():
    from kubesync.settings import Validation

    text = "syncs:\n  - {name: a, source: {path: m}}\n  - {name: b, source: {path: m}, validate: warn}\n  - {name: c, source: {path: m}, validate: server}\n"
    config = parse_config(text, "k.yaml", "/base")
    assert [s.validation for s in config.syncs] == [Validation.STRICT, Validation.WARN, Validation.STRICT]
    assert error("syncs:\n  - source: {path: m}\n    validate: lenient\n") == (
        "k.yaml:3: syncs[0].validate: 'lenient' is not one of strict, warn, none")
    assert error("syncs:\n  - source: {path: m}\n    validate: true\n") == (
        "k.yaml:3: syncs[0].validate: must be one of strict, warn, none, not a boolean")
