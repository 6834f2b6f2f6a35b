"""A plan with every action type, Secrets and risks: the input of the golden render tests.

Loaded by path from tests/unit/test_render_*.py (see `load()` there). Regenerate the golden files
after an intended output change with ``KUBESYNC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit -k render``
and review the diff of tests/unit/golden/ before committing.
"""

from __future__ import annotations

import base64
import copy
import os
from pathlib import Path

from kubesync.model import Action, ActionType, ChartChange, Hook, ObjectRef, Origin, Plan, Risk

GOLDEN = Path(__file__).parent
GENERATED_AT = "2024-05-01T12:00:00Z"

# Secret values that must never appear in any rendered (masked) output, raw or base64.
OLD_PASSWORD = "hunter2-old-pass"
NEW_PASSWORD = "s3cr3t-N3w-pass"
USERNAME = "shopadmin-user"
API_TOKEN = "tok-abcdef123456"
OLD_TOKEN = "legacy-token-987654"
SECRET_VALUES = (OLD_PASSWORD, NEW_PASSWORD, USERNAME, API_TOKEN, OLD_TOKEN)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forbidden_strings() -> list[str]:
    return [v for s in SECRET_VALUES for v in (s, b64(s))]


def server_fields(obj: dict, uid: str, rv: str) -> dict:
    """What the API server adds to a stored object (all dropped from the display)."""
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    meta.update(
        uid=uid,
        resourceVersion=rv,
        generation=2,
        creationTimestamp="2024-04-01T10:00:00Z",
        managedFields=[{"manager": "kubesync", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1"}],
    )
    return obj


def ref(api_version: str, kind: str, ns: str, name: str) -> ObjectRef:
    group, _, version = api_version.rpartition("/")
    return ObjectRef(group, version, kind, ns, name)


def container(name: str, image: str, cpu: str, mem: str, cpu_limit: str | None = None, mem_limit: str | None = None) -> dict:
    c: dict = {"name": name, "image": image, "resources": {"requests": {"cpu": cpu, "memory": mem}}}
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", mem_limit)) if v}
    if limits:
        c["resources"]["limits"] = limits
    return c


def deployment(name: str, replicas: int, containers: list[dict], init: list[dict] | None = None) -> dict:
    spec: dict = {"containers": containers}
    if init:
        spec["initContainers"] = init
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def build_plan() -> Plan:
    # -- noop: the namespace
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    ns_live = server_fields(ns, "uid-ns", "100")

    # -- create: a ConfigMap with a multi-line value
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": "shop"},
        "data": {"LOG_LEVEL": "info", "nginx.conf": "server {\n  listen 8080;\n  root /srv;\n}\n"},
    }

    # -- update: a Secret's password changes, the username does not
    secret_desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db-credentials", "namespace": "shop"},
        "type": "Opaque",
        "data": {"username": b64(USERNAME), "password": b64(NEW_PASSWORD)},
    }
    secret_live = server_fields(
        {
            **secret_desired,
            "data": {"username": b64(USERNAME), "password": b64(OLD_PASSWORD)},
            "metadata": {
                "name": "db-credentials",
                "namespace": "shop",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"v1","kind":"Secret","stringData":{"password":"%s"}}' % OLD_PASSWORD,
                    "team": "payments",
                },
            },
        },
        "uid-secret",
        "201",
    )

    # -- update with an image change (risky) and bigger requests
    web_desired = deployment("web", 3, [container("web", "registry.example/web:1.5.0", "500m", "512Mi", "1", "1Gi")])
    web_live = server_fields(
        deployment("web", 3, [container("web", "registry.example/web:1.4.2", "250m", "256Mi", "1", "1Gi")]), "uid-web", "305"
    )
    web_live["status"] = {"replicas": 3, "readyReplicas": 3, "observedGeneration": 2}
    web_patch = (
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "registry.example/web:1.5.0"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "500m"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/memory", "value": "512Mi"},
    )

    # -- scale to zero
    worker = deployment("worker", 0, [container("worker", "registry.example/worker:2.0", "1.5", "1.5Gi")])
    worker_live = server_fields({**worker, "spec": {**worker["spec"], "replicas": 3}}, "uid-worker", "410")

    # -- create: a Deployment with an init container (its request is the max of init and the sum)
    api = deployment(
        "api",
        2,
        [container("api", "registry.example/api:3.1", "250m", "256Mi"), container("sidecar", "registry.example/proxy:1", "100m", "64Mi")],
        init=[container("migrate", "registry.example/api:3.1", "1", "128Mi")],
    )

    # -- create: a Secret written with stringData
    api_key = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api-key", "namespace": "shop"},
        "stringData": {"token": API_TOKEN},
    }

    # -- update: RBAC
    role_desired = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "reader", "namespace": "shop"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "list"]}],
    }
    role_live = server_fields(
        {**role_desired, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}, "uid-role", "512"
    )

    # -- update of an immutable field: delete and re-create
    job_desired = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "shop"},
        "spec": {
            "parallelism": 2,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container("migrate", "registry.example/api:3.1", "200m", "128Mi")]}},
        },
    }
    job_live = server_fields(
        {
            **job_desired,
            "spec": {
                "parallelism": 2,
                "template": {"spec": {"restartPolicy": "Never", "containers": [container("migrate", "registry.example/api:3.0", "200m", "128Mi")]}},
            },
        },
        "uid-job",
        "600",
    )

    # -- deletions (pruned: no origin)
    legacy = server_fields(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "legacy", "namespace": "shop"}, "data": {"mode": "old | `weird`"}},
        "uid-legacy",
        "700",
    )
    old_token = server_fields(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old-token", "namespace": "shop"}, "type": "Opaque", "data": {"token": b64(OLD_TOKEN)}},
        "uid-old-token",
        "701",
    )

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}
    svc_live = server_fields(svc, "uid-svc", "800")

    actions = (
        Action(ActionType.NOOP, ref("v1", "Namespace", "", "shop"), 0, Origin("namespace.yaml", 1), desired=ns, live=ns_live, uid="uid-ns", resource_version="100"),
        Action(ActionType.CREATE, ref("v1", "ConfigMap", "shop", "web-config"), 0, Origin("web.yaml", 1), desired=cm),
        Action(
            ActionType.UPDATE,
            ref("v1", "Secret", "shop", "db-credentials"),
            0,
            Origin("secrets.yaml", 1),
            patch=({"op": "replace", "path": "/data/password", "value": b64(NEW_PASSWORD)},),
            desired=secret_desired,
            live=secret_live,
            uid="uid-secret",
            resource_version="201",
        ),
        Action(ActionType.CREATE, ref("v1", "Secret", "shop", "api-key"), 0, Origin("secrets.yaml", 12), desired=api_key),
        Action(
            ActionType.UPDATE,
            ref("rbac.authorization.k8s.io/v1", "Role", "shop", "reader"),
            0,
            Origin("rbac.yaml", 1),
            patch=({"op": "add", "path": "/rules/0/resources/1", "value": "secrets"},),
            desired=role_desired,
            live=role_live,
            uid="uid-role",
            resource_version="512",
            risks=(Risk.RBAC,),
        ),
        Action(
            ActionType.UPDATE,
            ref("apps/v1", "Deployment", "shop", "web"),
            1,
            Origin("web.yaml", 14),
            patch=web_patch,
            desired=web_desired,
            live=web_live,
            uid="uid-web",
            resource_version="305",
            risks=(Risk.IMAGE,),
        ),
        Action(
            ActionType.SCALE,
            ref("apps/v1", "Deployment", "shop", "worker"),
            1,
            Origin("worker.yaml", 1),
            patch=({"op": "replace", "path": "/spec/replicas", "value": 0},),
            desired=worker,
            live=worker_live,
            uid="uid-worker",
            resource_version="410",
            replicas=(3, 0),
            risks=(Risk.SCALE_TO_ZERO,),
        ),
        Action(ActionType.CREATE, ref("apps/v1", "Deployment", "shop", "api"), 1, Origin("api.yaml", 1), desired=api),
        Action(
            ActionType.UPDATE,
            ref("batch/v1", "Job", "shop", "migrate"),
            2,
            Origin("jobs/migrate.yaml", 3),
            patch=({"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "registry.example/api:3.1"},),
            desired=job_desired,
            live=job_live,
            uid="uid-job",
            resource_version="600",
            risks=(Risk.IMMUTABLE, Risk.IMAGE),
            note="spec.template is immutable on a Job: it will be deleted and re-created",
        ),
        Action(ActionType.NOOP, ref("v1", "Service", "shop", "web"), 1, Origin("web.yaml", 40), desired=svc, live=svc_live, uid="uid-svc", resource_version="800"),
        Action(ActionType.DELETE, ref("v1", "ConfigMap", "shop", "legacy"), 1, None, live=legacy, uid="uid-legacy", resource_version="700", risks=(Risk.DELETE,)),
        Action(ActionType.DELETE, ref("v1", "Secret", "shop", "old-token"), 0, None, live=old_token, uid="uid-old-token", resource_version="701", risks=(Risk.DELETE,)),
    )
    return Plan(
        sync="shop",
        source="manifests-example/shop",
        revision="3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b",
        actions=actions,
        conflicts=("v1 ConfigMap shop/shared-settings: managed by Helm (app.kubernetes.io/managed-by=Helm)",),
        warnings=("apps/v1 Deployment shop/web: spec.replicas is also set by HorizontalPodAutoscaler shop/web",),
        charts=(ChartChange("redis", "17.3.0", "17.4.1"), ChartChange("web", "1.0.0", "1.0.0")),
        hooks=(Hook(ref("batch/v1", "Job", "shop", "web-db-migrate"), ("PreSync",),
                    Origin("web templates/migrate-job.yaml"), -5, ("BeforeHookCreation",), HOOK_JOB,
                    "helm.sh/hook: pre-install,pre-upgrade"),),
    )


HOOK_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "web-db-migrate", "namespace": "shop",
                 "annotations": {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5",
                                 "helm.sh/hook-delete-policy": "before-hook-creation"}},
    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "migrate", "image": "registry.example/api:3.1"}]}}},
}


def no_change_plan() -> Plan:
    full = build_plan()
    return Plan(full.sync, full.source, full.revision, tuple(a for a in full.actions if a.type is ActionType.NOOP))


def check_golden(name: str, text: str) -> None:
    """`text` equals tests/unit/golden/<name> byte for byte (KUBESYNC_UPDATE_GOLDEN=1 rewrites it)."""
    path = GOLDEN / name
    if os.environ.get("KUBESYNC_UPDATE_GOLDEN"):
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"{path} is missing: run with KUBESYNC_UPDATE_GOLDEN=1 and review it"
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, f"output differs from {path} (KUBESYNC_UPDATE_GOLDEN=1 rewrites it; review the diff)"
