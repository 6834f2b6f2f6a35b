"""Small Helm charts and Jsonnet apps written for the tests (never copied from elsewhere).

`write_chart` makes the `web` chart: a ConfigMap, a Deployment and a Service driven by values, a
pre-install hook Job, and a test Pod (which `--skip-tests` must leave out). `values-production.yaml`
beside values.yaml overrides some values, so tests can see Helm's merge order.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

VALUES = """\
replicaCount: 1
greeting: hello
tier: dev
image:
  repository: registry.example/web
  tag: "1.0"
"""

PRODUCTION = """\
tier: production
greeting: hello from production
"""

TEMPLATES = {
    "_helpers.tpl": """\
        {{- define "web.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
        {{- define "web.labels" -}}
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
        helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
        {{- end -}}
        """,
    "configmap.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ include "web.fullname" . }}
          labels: {{- include "web.labels" . | nindent 4 }}
        data:
          greeting: {{ .Values.greeting | quote }}
          tier: {{ .Values.tier | quote }}
          namespace: {{ .Release.Namespace | quote }}
          kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
          hasMonitoring: {{ .Capabilities.APIVersions.Has "monitoring.example.com/v1" | quote }}
        """,
    "deployment.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ include "web.fullname" . }}
          labels: {{- include "web.labels" . | nindent 4 }}
        spec:
          replicas: {{ .Values.replicaCount }}
          selector:
            matchLabels: {app.kubernetes.io/instance: {{ .Release.Name }}}
          template:
            metadata:
              labels: {app.kubernetes.io/instance: {{ .Release.Name }}}
            spec:
              containers:
                - name: web
                  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                  ports: [{containerPort: 8080, name: http}]
        """,
    "service.yaml": """\
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ include "web.fullname" . }}
        spec:
          selector: {app.kubernetes.io/instance: {{ .Release.Name }}}
          ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]
        """,
    "hook-job.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {{ include "web.fullname" . }}-migrate
          annotations:
            "helm.sh/hook": pre-install,pre-upgrade
            "helm.sh/hook-weight": "-5"
            "helm.sh/hook-delete-policy": before-hook-creation,hook-succeeded
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"}]
        """,
    "tests/test-connection.yaml": """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{ include "web.fullname" . }}-test
          annotations: {"helm.sh/hook": test}
        spec:
          restartPolicy: Never
          containers: [{name: wget, image: busybox, command: [wget, "{{ include "web.fullname" . }}:80"]}]
        """,
}


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def write_chart(folder: Path, name: str = "web", version: str = "0.1.0", *, templates: dict[str, str] | None = None,
                values: str = VALUES, dependencies: str = "") -> Path:
    """A chart in `folder` (created): Chart.yaml, values.yaml, values-production.yaml and templates/."""
    folder.mkdir(parents=True, exist_ok=True)
    chart = f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"1.0\"\n{dependencies}"
    write(folder, {"Chart.yaml": chart, "values.yaml": values, "values-production.yaml": PRODUCTION})
    templates = TEMPLATES if templates is None else templates
    return write(folder, {f"templates/{k}": v for k, v in templates.items()})


def objects(desired) -> dict[str, dict]:
    """`Kind/name` -> object of a DesiredState's manifests."""
    return {f"{m.ref.kind}/{m.ref.name}": m.obj for m in desired.manifests}
