"""A daemon running every sync of a kubesync.yaml: each with its own kubeconfig context, and one
failing sync (unreachable cluster, broken source) never stopping the others. JSON logs, no secrets."""

from __future__ import annotations

import json
import secrets

import pytest
import yaml

from tests.integration.daemon_harness import DaemonProcess, configmap_yaml, data_is, wait_until

pytestmark = pytest.mark.integration

PASSWORD = "hunter2-do-not-log"
TOKEN = "webhook-token-do-not-log"


def kubeconfig_with_contexts(kubeconfig: str, path) -> tuple[str, str]:
    """The fixture's kubeconfig plus contexts `one` and `two` (the real cluster) and `dead` (nothing listens)."""
    cfg = yaml.safe_load(open(kubeconfig))
    real = cfg["contexts"][0]["context"]
    cfg["clusters"].append({"name": "dead", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}})
    cfg["contexts"] += [
        {"name": "one", "context": dict(real)},
        {"name": "two", "context": dict(real)},
        {"name": "dead", "context": {"cluster": "dead", "user": real["user"]}},
    ]
    path.write_text(yaml.safe_dump(cfg))
    token = next(iter(cfg["users"][0]["user"].values()))
    return str(path), str(token)


def test_config_syncs_each_use_their_context_and_fail_alone(kubeconfig, cluster, namespace, tmp_path):
    multi, credential = kubeconfig_with_contexts(kubeconfig, tmp_path / "kubeconfig")
    tag = secrets.token_hex(3)
    folders = {
        "one": {"cm.yaml": configmap_yaml("from-one", namespace, a="1"),
                "secret.yaml": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {namespace}}}\n"
                               f"stringData: {{password: {PASSWORD}}}\n"},
        "two": {"cm.yaml": configmap_yaml("from-two", namespace, b="2")},
        "dead": {"cm.yaml": configmap_yaml("never", namespace, c="3")},
        "broken": {"cm.yaml": "kind: [\n"},
    }
    syncs = []
    for name, files in folders.items():
        d = tmp_path / name
        d.mkdir()
        for fname, text in files.items():
            (d / fname).write_text(text)
        sync = {"name": f"{name}-{tag}", "source": {"path": f"./{name}"}, "namespace": namespace, "interval": "5m"}
        if name in ("one", "two", "dead"):
            sync["context"] = name
        syncs.append(sync)
    config = {"syncs": syncs, "webhook": {"url": f"http://127.0.0.1:1/hook?token={TOKEN}", "format": "slack"}}
    (tmp_path / "kubesync.yaml").write_text(yaml.safe_dump(config))

    args = ["--config", str(tmp_path / "kubesync.yaml"), "--log-format", "json"]
    with DaemonProcess(args, multi, tmp_path) as d:
        wait_until(data_is(cluster, namespace, "from-one", a="1"), 20, what="sync one applied")
        wait_until(data_is(cluster, namespace, "from-two", b="2"), 20, what="sync two applied")
        # Two failing syncs leave the process ready; the sync endpoint names them, with their reasons.
        doc = d.wait_every_sync_ran(60)
        states = {s["name"]: s for s in doc["syncs"]}
        assert doc["failed"] == sorted([f"broken-{tag}", f"dead-{tag}"])
        assert states[f"one-{tag}"]["state"] == states[f"two-{tag}"]["state"] == "Synced"
        assert states[f"dead-{tag}"]["state"] == states[f"broken-{tag}"]["state"] == "Failed"
        assert states[f"dead-{tag}"]["destination"]["context"] == "dead"
        assert "connection refused" in states[f"dead-{tag}"]["reason"] and "YAML" in states[f"broken-{tag}"]["reason"]
        status, raw = d.http("/readyz")
        assert status == 200 and "connection refused" not in raw.decode() and "YAML" not in raw.decode()
        assert PASSWORD not in json.dumps(doc) and TOKEN not in json.dumps(doc)
        assert d.metric("kubesync_sync_failing", sync=f"dead-{tag}") == 1
        assert (d.metric("kubesync_api_errors_total", sync=f"dead-{tag}", error="ClusterUnreachable") or 0) >= 1
        assert (d.metric("kubesync_sync_errors_total", sync=f"broken-{tag}", error="ManifestError") or 0) >= 1
        assert cluster.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/never") is None

        # The healthy syncs keep working while the others fail.
        (tmp_path / "two" / "cm.yaml").write_text(configmap_yaml("from-two", namespace, b="22"))
        wait_until(data_is(cluster, namespace, "from-two", b="22"), 10, what="sync two still follows its source")
        wait_until(lambda: (d.metric("kubesync_alerts_total", result="failed") or 0) >= 1, 60, what="undeliverable alert given up")
        assert d.terminate(60) == 0

    lines = [line for line in d.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r.get("sync") == f"broken-{tag}" and r["level"] == "error" for r in records)
    text = d.log()
    assert PASSWORD not in text and TOKEN not in text and credential not in text
