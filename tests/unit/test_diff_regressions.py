"""Diff bugs found by applying the corpus (tests/integration/test_diff_corpus.py) to kube-apiserver 1.20.2.

Each live object below is what the server returned for the desired object next to it (trimmed to
the fields that matter). Before the fix, each pair gave a patch on every plan, forever.
"""

from __future__ import annotations

import copy

import yaml

from kubesync.diff import diff, fieldset_of, normalize_desired


def fields(desired: dict):
    return fieldset_of(normalize_desired(desired))


def patch(desired: dict, live: dict) -> list:
    return list(diff(desired, live, fields(desired)).patch)


# ---------------------------------------------------------------- PriorityClass globalDefault: false

PRIORITY_CLASS = yaml.safe_load("""
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 100000
globalDefault: false
preemptionPolicy: PreemptLowerPriority
description: Latency-sensitive workloads.
""")

# `GlobalDefault bool json:"globalDefault,omitempty"`: the server drops a false.
PRIORITY_CLASS_LIVE = yaml.safe_load("""
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high, uid: 69ceb204, resourceVersion: "231"}
value: 100000
preemptionPolicy: PreemptLowerPriority
description: Latency-sensitive workloads.
""")


def test_priority_class_global_default_false_is_the_omitted_zero():
    assert patch(PRIORITY_CLASS, PRIORITY_CLASS_LIVE) == []


def test_priority_class_global_default_true_is_still_added():
    desired = {**PRIORITY_CLASS, "globalDefault": True}
    assert patch(desired, PRIORITY_CLASS_LIVE) == [{"op": "add", "path": "/globalDefault", "value": True}]


# ---------------------------------------------------------------- HorizontalPodAutoscaler metrics

HPA = yaml.safe_load("""
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
    - type: Resource
      resource:
        name: memory
        target: {type: AverageValue, averageValue: 400Mi}
    - type: Pods
      pods:
        metric: {name: packets-per-second}
        target: {type: AverageValue, averageValue: 1000}
    - type: Object
      object:
        metric: {name: requests-per-second}
        describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main-route}
        target: {type: Value, value: 0.5k}
""")

# Stored as autoscaling/v1: the CPU-utilization metric becomes targetCPUUtilizationPercentage and
# comes back last; quantities come back canonical (1000 -> "1k", 0.5k -> "500").
HPA_LIVE = yaml.safe_load("""
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop, uid: a1679938, resourceVersion: "317"}
spec:
  scaleTargetRef: {kind: Deployment, name: web, apiVersion: apps/v1}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: memory
        target: {type: AverageValue, averageValue: 400Mi}
    - type: Pods
      pods:
        metric: {name: packets-per-second}
        target: {type: AverageValue, averageValue: 1k}
    - type: Object
      object:
        describedObject: {kind: Ingress, name: main-route, apiVersion: networking.k8s.io/v1}
        target: {type: Value, value: "500"}
        metric: {name: requests-per-second}
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
""")


def test_hpa_metrics_reordered_and_respelled_by_the_server_are_unchanged():
    assert patch(HPA, HPA_LIVE) == []


def test_hpa_metric_target_changed_replaces_the_metrics_in_desired_order():
    desired = yaml.safe_load(yaml.safe_dump(HPA))
    desired["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 80
    assert patch(desired, HPA_LIVE) == [{"op": "replace", "path": "/spec/metrics", "value": desired["spec"]["metrics"]}]


def test_hpa_metric_quantity_changed_by_value_is_a_change():
    desired = yaml.safe_load(yaml.safe_dump(HPA))
    desired["spec"]["metrics"][2]["pods"]["target"]["averageValue"] = "2k"
    assert [op["path"] for op in patch(desired, HPA_LIVE)] == ["/spec/metrics"]


def test_hpa_metric_dropped_or_duplicated_is_a_change():
    dropped = yaml.safe_load(yaml.safe_dump(HPA))
    del dropped["spec"]["metrics"][1]
    assert [op["path"] for op in patch(dropped, HPA_LIVE)] == ["/spec/metrics"]
    doubled = yaml.safe_load(yaml.safe_dump(HPA))
    doubled["spec"]["metrics"][1] = doubled["spec"]["metrics"][0]  # two CPU metrics, no memory one
    assert [op["path"] for op in patch(doubled, HPA_LIVE)] == ["/spec/metrics"]


def test_hpa_v2beta1_target_quantities_compared_by_value():
    desired = {"apiVersion": "autoscaling/v2beta1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "w"},
               "spec": {"maxReplicas": 3, "metrics": [{"type": "Pods", "pods": {"metricName": "pps", "targetAverageValue": 1000}}]}}
    live = {**desired, "spec": {"maxReplicas": 3, "metrics": [{"type": "Pods", "pods": {"metricName": "pps", "targetAverageValue": "1k"}}]}}
    assert patch(desired, live) == []


def test_unordered_metrics_are_only_an_hpa_rule():
    """A CRD's `spec.metrics` (or any other atomic list) stays ordered."""
    desired = {"apiVersion": "example.com/v1", "kind": "Dashboard", "metadata": {"name": "d"},
               "spec": {"metrics": [{"name": "a"}, {"name": "b"}]}}
    live = {**desired, "spec": {"metrics": [{"name": "b"}, {"name": "a"}]}}
    assert [op["path"] for op in patch(desired, live)] == ["/spec/metrics"]


# ---------------------------------------------------------------- resourceFieldRef divisor

DEPLOYMENT = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: div, namespace: shop}
spec:
  selector: {matchLabels: {app: div}}
  template:
    metadata: {labels: {app: div}}
    spec:
      containers:
        - name: c
          image: busybox
          env:
            - name: CPU
              valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1}}
            - name: MEM
              valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1024Ki}}
          volumeMounts: [{name: info, mountPath: /etc/info}]
      volumes:
        - name: info
          downwardAPI:
            items:
              - path: cpu
                resourceFieldRef: {containerName: c, resource: requests.cpu, divisor: 0.001}
""")

DEPLOYMENT_LIVE = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: div, namespace: shop, uid: 1f2e, resourceVersion: "900"}
spec:
  replicas: 1
  selector: {matchLabels: {app: div}}
  template:
    metadata: {labels: {app: div}}
    spec:
      containers:
        - name: c
          image: busybox
          env:
            - name: CPU
              valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "1"}}
            - name: MEM
              valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
          volumeMounts: [{name: info, mountPath: /etc/info}]
          terminationMessagePath: /dev/termination-log
          imagePullPolicy: Always
      volumes:
        - name: info
          downwardAPI:
            items:
              - path: cpu
                resourceFieldRef: {containerName: c, resource: requests.cpu, divisor: 1m}
            defaultMode: 420
      restartPolicy: Always
""")


def test_resource_field_ref_divisor_compared_as_a_quantity():
    assert patch(DEPLOYMENT, DEPLOYMENT_LIVE) == []


def test_resource_field_ref_divisor_changed_by_value_is_a_change():
    desired = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    desired["spec"]["template"]["spec"]["containers"][0]["env"][1]["valueFrom"]["resourceFieldRef"]["divisor"] = "1Gi"
    assert patch(desired, DEPLOYMENT_LIVE) == [{
        "op": "replace", "path": "/spec/template/spec/containers/0/env/1/valueFrom/resourceFieldRef/divisor", "value": "1Gi"}]


# ---------------------------------------------------------------- custom resources: JSON numbers

BACKUP_POLICY = yaml.safe_load("""
apiVersion: corpus.example.com/v1
kind: BackupPolicy
metadata: {name: nightly, namespace: shop}
spec:
  weight: 1.0
  threshold: 0.75
  options: {timeoutSeconds: 30.0, big: 10000000000000000000000, enabled: true, retries: 1}
""")

# The server decodes a custom resource's JSON numbers as int64 when integral, float64 otherwise.
BACKUP_POLICY_LIVE = yaml.safe_load("""
apiVersion: corpus.example.com/v1
kind: BackupPolicy
metadata: {name: nightly, namespace: shop, uid: 77aa, resourceVersion: "5"}
spec:
  weight: 1
  threshold: 0.75
  options: {timeoutSeconds: 30, big: 1.0e+22, enabled: true, retries: 1}
""")


def test_custom_resource_numbers_compared_by_value():
    assert patch(BACKUP_POLICY, BACKUP_POLICY_LIVE) == []


def test_custom_resource_number_changed_or_retyped_is_a_change():
    desired = copy.deepcopy(BACKUP_POLICY)
    desired["spec"]["weight"] = 1.5
    desired["spec"]["options"]["retries"] = "1"  # a string is not the number
    desired["spec"]["options"]["enabled"] = 1  # nor is 1 the boolean true
    assert patch(desired, BACKUP_POLICY_LIVE) == [
        {"op": "replace", "path": "/spec/weight", "value": 1.5},
        {"op": "replace", "path": "/spec/options/enabled", "value": 1},
        {"op": "replace", "path": "/spec/options/retries", "value": "1"},
    ]


def _pod_env(*names, extra=None):
    env = [{"name": n, "value": n.lower()} for n in names]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "env": env + (extra or [])}]}}


def test_env_added_in_front_keeps_the_desired_order():
    from kubesync.diff import diff, fieldset_of, normalize_desired

    last = fieldset_of(normalize_desired(_pod_env("A", "B")))
    out = diff(_pod_env("NEW", "A", "B"), _pod_env("A", "B"), last)
    assert out.patch == ({"op": "replace", "path": "/spec/containers/0/env",
                          "value": [{"name": "NEW", "value": "new"}, {"name": "A", "value": "a"}, {"name": "B", "value": "b"}]},)


def test_env_reordered_in_the_source_is_reordered_live_and_foreign_vars_stay_last():
    from kubesync.diff import diff, fieldset_of, normalize_desired

    last = fieldset_of(normalize_desired(_pod_env("DATA_DIR", "BASE_DIR")))
    foreign = [{"name": "DEBUG", "value": "1"}]
    out = diff(_pod_env("BASE_DIR", "DATA_DIR"), _pod_env("DATA_DIR", "BASE_DIR", extra=foreign), last)
    assert [e["name"] for e in out.patch[0]["value"]] == ["BASE_DIR", "DATA_DIR", "DEBUG"]
    assert out.patch[0]["op"] == "replace"


def test_env_appended_at_the_end_is_a_plain_add():
    from kubesync.diff import diff, fieldset_of, normalize_desired

    last = fieldset_of(normalize_desired(_pod_env("A")))
    out = diff(_pod_env("A", "B"), _pod_env("A"), last)
    assert out.patch == ({"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "B", "value": "b"}},)


# ---------------------------------------------------------------- empty Secret/ConfigMap values read back as null


def test_secret_empty_value_returned_as_null_is_unchanged():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
               "stringData": {"empty": ""}, "data": {"also": ""}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
            "data": {"empty": None, "also": None}}
    assert patch(desired, live) == []


def test_configmap_empty_value_returned_as_null_is_unchanged():
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"flag": ""}, "binaryData": {"b": ""}}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"flag": None}, "binaryData": {"b": None}}
    assert patch(desired, live) == []


def test_secret_value_null_in_live_and_set_in_desired_is_a_change():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "aGk="}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": None}}
    assert patch(desired, live) == [{"op": "replace", "path": "/data/k", "value": "aGk="}]


def test_null_values_of_custom_resources_named_data_still_mean_absent():
    desired = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": ""}}
    live = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": None}}
    assert patch(desired, live) == [{"op": "add", "path": "/data/k", "value": ""}]
