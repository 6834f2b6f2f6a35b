"""The published JSON Schema of kubesync.yaml (kubesync/schema/config.v1.json) says what config.py
accepts: the same keys at every level, the same defaults, and the same verdict on the examples
people copy (the README's, the module docstring's, deploy/'s) and on typical mistakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from kubesync import config, configsource
from kubesync.errors import ConfigError
from kubesync.settings import (DEFAULT_INTERVAL, DEFAULT_MAX_PRUNE, WEBHOOK_FORMATS, SyncConfig, Validation, parse_duration,
                               parse_size)
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "kubesync" / "schema" / "config.v1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DEFS = SCHEMA["$defs"]


def keys(node: dict) -> set[str]:
    return set(node["properties"])


@pytest.mark.parametrize("where, schema_node, accepted", [
    ("top level", SCHEMA, config._TOP_KEYS),
    ("syncs[]", DEFS["sync"], config._SYNC_KEYS),
    ("syncs[].source", DEFS["source"], config._SOURCE_KEYS),
    ("syncs[].ignore[]", DEFS["ignore"], config._IGNORE_KEYS),
    ("syncs[].source.helm", DEFS["helm"], configsource.HELM_KEYS),
    ("syncs[].source.jsonnet", DEFS["jsonnet"], configsource.JSONNET_KEYS),
    ("webhook", SCHEMA["properties"]["webhook"], config._WEBHOOK_KEYS),
    ("receiver", SCHEMA["properties"]["receiver"], config._RECEIVER_KEYS),
])
def test_schema_has_exactly_the_keys_config_accepts(where, schema_node, accepted):
    assert keys(schema_node) == set(accepted), f"{where}: schema and config.py disagree"
    assert schema_node["additionalProperties"] is False, f"{where}: a typo must be flagged by the editor too"


def test_every_key_the_schema_names_is_accepted_by_the_parser(tmp_path):
    """Not only the tuples: a document using every key of the schema parses."""
    (tmp_path / "secret").write_text("s")
    text = """
syncs:
  - {name: a, source: {path: ./m}, namespace: ns, context: c, prune: true, selfHeal: true, interval: 1m, maxPrune: 0.2,
     allowEmpty: true, maxSourceSize: 1Mi, maxSourceNodes: 100000, allowRemoteResources: true, validate: warn,
     decryption: {provider: sops, secretRef: {name: sops-age, namespace: ns}, keyFiles: [./age.agekey]},
     ignore: [{group: apps, kind: Deployment, name: web, namespace: ns, paths: [/spec/replicas], managers: [hpa]}]}
  - {name: b, source: {repo: https://example.com/r.git, ref: main, path: sub}}
webhook: {url: https://hooks.example.com/x, format: slack}
receiver: {secretFile: ./secret, insecure: false}
"""
    doc = yaml.safe_load(text)
    used = set(doc) | set(doc["syncs"][0]) | set(doc["syncs"][0]["source"]) | set(doc["syncs"][1]["source"])
    used |= set(doc["syncs"][0]["ignore"][0]) | set(doc["webhook"]) | set(doc["receiver"])
    used |= set(doc["syncs"][0]["decryption"]) | set(doc["syncs"][0]["decryption"]["secretRef"])
    decryption = DEFS["sync"]["properties"]["decryption"]
    every = keys(SCHEMA) | keys(DEFS["sync"]) | keys(DEFS["source"]) - {"helm", "jsonnet"} | keys(DEFS["ignore"])
    every |= keys(decryption) | keys(decryption["properties"]["secretRef"])
    every |= keys(SCHEMA["properties"]["webhook"]) | keys(SCHEMA["properties"]["receiver"])
    assert used == every
    VALIDATOR.validate(doc)
    parsed = config.parse_config(text, str(tmp_path / "kubesync.yaml"))
    assert [s.name for s in parsed.syncs] == ["a", "b"]


def test_defaults_and_enumerations_match_the_settings():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    props = DEFS["sync"]["properties"]
    assert parse_duration(props["interval"]["default"]) == DEFAULT_INTERVAL
    assert props["maxPrune"]["default"] == DEFAULT_MAX_PRUNE
    assert parse_size(props["maxSourceSize"]["default"]) == DEFAULT_MAX_SOURCE_BYTES
    assert tuple(SCHEMA["properties"]["webhook"]["properties"]["format"]["enum"]) == WEBHOOK_FORMATS
    assert Validation(props["validate"]["default"]) is SyncConfig.validation
    assert {Validation(v) for v in props["validate"]["enum"]} == set(Validation)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"`kubesync\.yaml`[^\n]*:\n\n```yaml\n(.*?)```", text, re.S)
    assert found, "README.md: the kubesync.yaml example (a ```yaml block after `kubesync.yaml`:) is missing"
    return found.group(1)


def docstring_example() -> str:
    doc = config.__doc__ or ""
    block = doc.split("\n\n")[1]
    return "\n".join(line[4:] for line in block.splitlines())


def deploy_examples() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "deploy").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and "kubesync.yaml" in (doc.get("data") or {}):
                out.append((str(path.relative_to(ROOT)), doc["data"]["kubesync.yaml"]))
    assert out, "deploy/ ships no kubesync.yaml ConfigMap"
    return out


@pytest.mark.parametrize("where, text", [("README.md", readme_example()), ("kubesync/config.py", docstring_example()),
                                         *deploy_examples()])
def test_shipped_examples_validate_against_the_schema_and_parse(where, text, tmp_path):
    doc = yaml.safe_load(text)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
    assert errors == [], where
    (tmp_path / "receiver-secret").write_text("s")
    config.parse_config(text, str(tmp_path / "kubesync.yaml"))


@pytest.mark.parametrize("text", [
    "syncs: [{source: {path: m}, intervall: 30s}]",                       # a typo
    "syncs: [{source: {path: m}, interval: soon}]",
    "syncs: [{source: {path: m}, interval: 0}]",
    "syncs: [{source: {path: m, ref: main}}]",                             # a folder has no refs
    "syncs: [{source: {}}]",
    "syncs: [{name: Shop, source: {path: m}}]",
    "syncs: [{source: {path: m}, maxPrune: 2}]",
    "syncs: [{source: {path: m}, maxSourceSize: 10MB}]",
    "syncs: [{source: {path: m}, ignore: [{kind: Deployment}]}]",         # ignores nothing
    "syncs: [{source: {path: m}, ignore: [{paths: [spec.replicas]}]}]",   # not a JSON pointer
    "syncs: []",
    "syncs: [{source: {path: m}}]\nwebhook: {url: ftp://x, format: json}",
    "syncs: [{source: {path: m}}]\nwebhook: {url: https://x, format: teams}",
    "syncs: [{source: {path: m}}]\nreceiver: {secret: x}",
    "syncs: [{source: {helm: {repo: 'https://c.example', chart: web}}}]",         # a remote chart is pinned
    "syncs: [{source: {path: m, helm: {valuesFile: [v.yaml]}}}]",                 # a typo
    "syncs: [{source: {path: m, helm: {chart: oci://r/web, version: '1', digest: md5}}}]",
    "syncs: [{source: {path: m, jsonnet: {tlas: [a]}}}]",                          # a mapping of names
])
def test_schema_and_parser_refuse_the_same_mistakes(text, tmp_path):
    assert list(VALIDATOR.iter_errors(yaml.safe_load(text))), f"the schema accepts {text!r}"
    with pytest.raises(ConfigError):
        config.parse_config(text, str(tmp_path / "kubesync.yaml"))
