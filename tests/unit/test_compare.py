"""compare: two revisions of a source, no cluster. Identical objects are "No changes" whatever their
spelling (stringData or data, 1 or 1000m); headers name base/ and head/ with short revisions."""

from __future__ import annotations

import base64

from kubesync.compare import compare_states, short
from kubesync.manifests import parse
from kubesync.model import ActionType, DesiredState
from kubesync.render.text import render_diff, render_plan

SHA_A = "a" * 40
SHA_B = "b" * 40

OBJECTS = """\
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {token: s3cret}
---
apiVersion: v1
kind: Secret
metadata: {name: both}
data: {a: YWJj}
stringData: {b: "xyz"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: v}
binaryData: {bin: "AAEC\\n"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [{containerPort: 80}]
          resources: {requests: {cpu: "1", memory: 1Gi}, limits: {cpu: 1500m}}
"""


def state(text: str, revision: str) -> DesiredState:
    return DesiredState(tuple(parse("deploy/app.yaml", text)), f"repo@{revision[:7]}:deploy", revision)


def test_identical_revisions_have_no_changes():
    plan = compare_states(state(OBJECTS, SHA_A), state(OBJECTS, SHA_A), sync="deploy")
    assert not plan.has_changes, [(a.type, str(a.ref), a.patch) for a in plan.changes]
    assert len(plan.actions) == 4
    assert render_diff(plan).startswith("No changes.")


def test_same_objects_spelled_differently_have_no_changes():
    respelled = (
        OBJECTS.replace("stringData: {token: s3cret}", f"data: {{token: {base64.b64encode(b's3cret').decode()}}}")
        .replace('cpu: "1", memory: 1Gi', "cpu: 1000m, memory: 1024Mi")
        .replace("limits: {cpu: 1500m}", "limits: {cpu: '1.5'}")
    )
    assert respelled != OBJECTS
    plan = compare_states(state(OBJECTS, SHA_A), state(respelled, SHA_B), sync="deploy")
    assert not plan.has_changes, [(a.type, str(a.ref), a.patch) for a in plan.changes]


def test_a_real_change_is_an_update_with_base_and_head_headers():
    changed = OBJECTS.replace("data: {k: v}", "data: {k: w}")
    plan = compare_states(state(OBJECTS, SHA_A), state(changed, SHA_B), sync="deploy")
    assert [(a.type, a.ref.name) for a in plan.changes] == [(ActionType.UPDATE, "cfg")]
    lines = render_diff(plan).splitlines()
    assert lines[:2] == ["--- base/v1.ConfigMap.default.cfg\taaaaaaa", "+++ head/v1.ConfigMap.default.cfg\tbbbbbbb"]
    assert "-  k: v" in lines and "+  k: w" in lines
    assert "live/" not in render_plan(plan) and "desired/" not in render_plan(plan)


def test_a_changed_secret_value_is_an_update():
    changed = OBJECTS.replace("stringData: {token: s3cret}", "stringData: {token: other}")
    plan = compare_states(state(OBJECTS, SHA_A), state(changed, SHA_B), sync="deploy")
    assert [(a.type, a.ref.name) for a in plan.changes] == [(ActionType.UPDATE, "token")]


def test_short_revision():
    assert short("0123456789abcdef0123456789abcdef01234567") == "0123456"
    assert short("sha256:abcd") == "sha256:abcd"
