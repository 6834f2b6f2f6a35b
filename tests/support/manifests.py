"""Kubernetes objects for tests, written once: ConfigMaps, Secrets, Deployments, Services, Namespaces,
CustomResourceDefinitions and their resources, as dicts; `yaml_text` and `write` turn them into the
YAML files a source folder holds.

A test states what its objects have that matters to it (a name, a value, a replica count, a schema)
and gets the rest (selectors that match the template, a container, the CRD's names and version)
right every time, instead of copying twenty lines of YAML from the test next door.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Iterable

import yaml

IMAGE = "nginx:1.25"


def b64(text: str) -> str:
    """A Secret's `data` form of a value."""
    return base64.b64encode(text.encode()).decode()


def metadata(name: str, namespace: str | None = None, labels: dict | None = None,
             annotations: dict | None = None) -> dict:
    out: dict = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def configmap(name: str, data: dict | None = None, *, namespace: str | None = None, labels: dict | None = None,
              annotations: dict | None = None) -> dict:
    """A ConfigMap; without `data`, none (not an empty map)."""
    out = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(name, namespace, labels, annotations)}
    if data is not None:
        out["data"] = {k: str(v) for k, v in data.items()}
    return out


def secret(name: str = "creds", *, namespace: str | None = None, string_data: dict | None = None,
           data: dict | None = None, type: str | None = None) -> dict:
    """A Secret: `string_data` as written (stringData), `data` given in plain text and stored base64."""
    out: dict = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata(name, namespace)}
    if type:
        out["type"] = type
    if string_data is not None:
        out["stringData"] = dict(string_data)
    if data is not None:
        out["data"] = {k: b64(v) for k, v in data.items()}
    return out


def deployment(name: str = "web", *, replicas: int | None = 1, image: str = IMAGE, namespace: str | None = None,
               app: str | None = None, template_app: str | None = None, container: dict | None = None,
               spec: dict | None = None, labels: dict | None = None, annotations: dict | None = None) -> dict:
    """A Deployment of one container (named like the Deployment) whose selector matches its template
    (`app: <name>`); `template_app` gives the template other labels (a selector the server refuses),
    `container` adds fields to the container (a `name` of its own too), `spec` adds fields to the
    Deployment's spec (`progressDeadlineSeconds`...). `replicas=None` leaves the field out."""
    app = app or name
    head: dict = {} if replicas is None else {"replicas": replicas}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace, labels, annotations),
        "spec": {
            **head,
            **(spec or {}),
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": template_app or app}},
                "spec": {"containers": [{"name": name, "image": image, **(container or {})}]},
            },
        },
    }


def service(name: str = "web", *, port: int = 80, target_port: int = 8080, namespace: str | None = None,
            app: str | None = None) -> dict:
    """A ClusterIP Service in front of the pods labelled `app: <app or name>`: one TCP port named http."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(name, namespace),
            "spec": {"selector": {"app": app or name},
                     "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}]}}


def service_account(name: str, *, namespace: str | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name, namespace)}


def namespace_object(name: str, *, labels: dict | None = None) -> dict:
    """A Namespace (named so, not `namespace`, beside the fixture of that name)."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, labels=labels)}


def crd(group: str, kind: str, properties: dict, *, plural: str | None = None, scope: str = "Namespaced",
        version: str = "v1", version_fields: dict | None = None, spec_fields: dict | None = None) -> dict:
    """A CustomResourceDefinition of one served and stored version whose objects have a `spec` with
    these `properties` (OpenAPI v3 schemas). `version_fields` add to the version (`deprecated`...),
    `spec_fields` to the schema of `spec` beside its properties (`nullable`, `required`...)."""
    singular = kind.lower()
    plural = plural or singular + "s"
    spec_schema = {"type": "object", **(spec_fields or {}), "properties": properties}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": singular, "listKind": f"{kind}List"},
            "versions": [{
                "name": version, "served": True, "storage": True, **(version_fields or {}),
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
            }],
        },
    }


def custom(group: str, kind: str, name: str, spec: dict, *, version: str = "v1", namespace: str | None = None) -> dict:
    """An object of a custom resource (see `crd`)."""
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": metadata(name, namespace), "spec": spec}


def crd_path(name: str) -> str:
    """The API path of a CustomResourceDefinition (to delete one a test created)."""
    return f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"


def yaml_text(*docs: dict) -> str:
    """Documents as one YAML text, `---` between them, each key where the builder put it (apiVersion,
    kind and metadata first, as people write them)."""
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


def write(folder: str | Path, files: dict[str, str | dict | Iterable[dict]]) -> Path:
    """A source folder (created if missing): file name -> YAML text, one object or several objects."""
    root = Path(folder)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = yaml_text(content)
        elif not isinstance(content, str):
            content = yaml_text(*content)
        path.write_text(content)
    return root


def simulated(obj: dict, failure: str, container: str | None = None) -> dict:
    """`obj` (a workload) whose pods ask the embedded control plane's kwok for a failure on demand:
    the pod template's `kubesync.io/simulate` annotation (crash-loop, oom-killed, image-pull-failure,
    readiness-failure; see kubesync/stages/simulate.yaml), limited to one `container` if given."""
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
    annotations["kubesync.io/simulate"] = failure
    if container:
        annotations["kubesync.io/simulate-container"] = container
    return obj


def job(name: str, *, namespace: str | None = None, annotations: dict | None = None, simulate: str | None = None,
        backoff_limit: int = 0, generate_name: bool = False, labels: dict | None = None) -> dict:
    """A Job of one container that runs to completion (kwok completes its pod), or fails on demand
    (`simulate`: a kubesync.io/simulate value on its pod: crash-loop exits 1, image-pull-failure never starts);
    `backoff_limit` 0 fails it at the first failed pod. `generate_name`: `name` is the generateName prefix."""
    meta = metadata(name, namespace, labels, annotations)
    if generate_name:
        meta["generateName"] = meta.pop("name")
    out = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
           "spec": {"backoffLimit": backoff_limit,
                    "template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "run", "image": "busybox:1.36", "command": ["true"]}]}}}}
    return simulated(out, simulate) if simulate else out
