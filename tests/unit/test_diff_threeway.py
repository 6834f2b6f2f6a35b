"""kubesync.diff.threeway against live objects in the shape kube-apiserver 1.20 returns them.

For each kind: the user's YAML against live gives an empty patch; one field changed, removed (it was in
the last-applied set), added, and changed out of band in live gives exactly the expected ops.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import jsonpatch
import pytest
import yaml

from kubesync.diff import contains, diff, diff_iter, fieldset_of, last_applied_of, normalize_desired

LIVE = Path(__file__).parent / "fixtures" / "live"


def live(name: str) -> dict:
    return yaml.safe_load((LIVE / f"{name}.yaml").read_text())


def fields(desired: dict):
    return fieldset_of(normalize_desired(desired))


def ops(desired: dict, live_obj: dict, last=None, ignore=()):
    """The patch, checked on the way: it applies to live, and re-diffing the result is empty."""
    result = diff(desired, live_obj, last, ignore=ignore)
    assert list(diff_iter(desired, live_obj, last, ignore=ignore)) == list(result.patch)
    assert len(result.changed_paths) == len(result.patch)
    patched = jsonpatch.apply_patch(live_obj, list(result.patch))
    assert diff(desired, patched, fields(desired), ignore=ignore).patch == ()
    return list(result.patch)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------------------------------------- Deployment

DEPLOYMENT = yaml.safe_load(
    """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
    app.kubernetes.io/managed-by: kubesync
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.19
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: LOG_LEVEL
          value: info
        livenessProbe:
          httpGet: {path: /healthz, port: 8080}
          initialDelaySeconds: 5
        resources:
          limits: {cpu: "0.5", memory: 268435456}
          requests: {cpu: 0.1, memory: 128Mi}
        volumeMounts:
        - name: config
          mountPath: /etc/web
          readOnly: true
      volumes:
      - name: config
        configMap: {name: web-config}
"""
)
C0 = "/spec/template/spec/containers/0"


def deployment(**changes):
    out = copy.deepcopy(DEPLOYMENT)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = out
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    return out


@pytest.mark.parametrize("last", [None, "fields"])
def test_deployment_as_written_has_no_changes(last):
    assert ops(DEPLOYMENT, live("deployment"), fields(DEPLOYMENT) if last else None) == []


def test_deployment_image_changed():
    d = deployment(**{"spec.template.spec.containers.0.image": "nginx:1.20"})
    result = diff(d, live("deployment"), fields(DEPLOYMENT))
    assert list(result.patch) == [{"op": "replace", "path": f"{C0}/image", "value": "nginx:1.20"}]
    assert result.changed_paths == ("spec.template.spec.containers[name=web].image",)
    assert result.changed


def test_deployment_fields_removed_from_desired_are_removed_from_live():
    d = copy.deepcopy(DEPLOYMENT)
    container = d["spec"]["template"]["spec"]["containers"][0]
    del container["env"]  # the keyed list goes: only our item is removed
    del container["livenessProbe"]  # a struct goes whole, with the server's defaults inside
    del container["resources"]["limits"]["memory"]  # a key of a map goes alone
    assert ops(d, live("deployment"), fields(DEPLOYMENT)) == [
        {"op": "remove", "path": f"{C0}/resources/limits/memory"},
        {"op": "remove", "path": f"{C0}/env/0"},
        {"op": "remove", "path": f"{C0}/livenessProbe"},
    ]


def test_deployment_removals_need_the_last_applied_set():
    d = copy.deepcopy(DEPLOYMENT)
    del d["spec"]["template"]["spec"]["containers"][0]["env"]
    assert ops(d, live("deployment"), None) == []


def test_deployment_fields_added():
    d = copy.deepcopy(DEPLOYMENT)
    d["metadata"]["annotations"] = {"example.com/team": "shop"}
    web = d["spec"]["template"]["spec"]["containers"][0]
    web["env"].append({"name": "CACHE", "value": "on"})
    web["securityContext"] = {"runAsNonRoot": True}
    d["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "envoy:1.17"})
    assert ops(d, live("deployment"), fields(DEPLOYMENT)) == [
        {"op": "add", "path": "/metadata/annotations/example.com~1team", "value": "shop"},
        {"op": "add", "path": f"{C0}/env/-", "value": {"name": "CACHE", "value": "on"}},
        {"op": "add", "path": f"{C0}/securityContext", "value": {"runAsNonRoot": True}},
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "proxy", "image": "envoy:1.17"}},
    ]


def test_deployment_changed_out_of_band_is_reverted_and_foreign_fields_left_alone():
    lv = live("deployment")
    web = lv["spec"]["template"]["spec"]["containers"][0]
    web["image"] = "nginx:latest"
    web["env"][0]["value"] = "debug"
    web["env"].append({"name": "INJECTED", "value": "by-someone"})  # not ours: stays
    web["resources"]["limits"]["memory"] = "1Gi"
    web["imagePullPolicy"] = "Always"  # not ours: stays
    lv["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2024-05-03T08:00:00Z"}
    assert ops(DEPLOYMENT, lv, fields(DEPLOYMENT)) == [
        {"op": "replace", "path": f"{C0}/image", "value": "nginx:1.19"},
        {"op": "replace", "path": f"{C0}/env/0/value", "value": "info"},
        {"op": "replace", "path": f"{C0}/resources/limits/memory", "value": 268435456},
    ]


def test_deployment_items_removed_from_highest_index_down_and_matched_by_key_not_position():
    lv = live("deployment")
    lv["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "A", "value": "1"},
        {"name": "FOREIGN", "value": "x"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "C", "value": "3"},
    ]
    before = copy.deepcopy(DEPLOYMENT)
    before["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "C", "value": "3"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "A", "value": "1"},
    ]
    assert ops(DEPLOYMENT, lv, fields(before)) == [
        {"op": "remove", "path": f"{C0}/env/3"},
        {"op": "remove", "path": f"{C0}/env/0"},
    ]


def test_deployment_container_port_without_protocol_matches_live_tcp():
    d = copy.deepcopy(DEPLOYMENT)
    d["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "web", "containerPort": 8080}]
    assert ops(d, live("deployment"), fields(DEPLOYMENT)) == [{"op": "replace", "path": f"{C0}/ports/0/name", "value": "web"}]


def test_deployment_replicas_left_to_the_hpa_with_a_manager_rule():
    class Rule:
        paths = ()
        managers = ("kube-controller-manager",)

    d = deployment(**{"spec.replicas": 2})
    assert ops(d, live("deployment"), fields(DEPLOYMENT), ignore=[Rule()]) == []
    assert ops(d, live("deployment"), fields(DEPLOYMENT)) == [{"op": "replace", "path": "/spec/replicas", "value": 2}]


def test_deployment_volume_source_switch_removes_the_old_source():
    before = copy.deepcopy(DEPLOYMENT)
    before["spec"]["template"]["spec"]["volumes"] = [{"name": "config", "emptyDir": {}}]
    lv = live("deployment")
    lv["spec"]["template"]["spec"]["volumes"] = [{"name": "config", "emptyDir": {}}]
    assert ops(DEPLOYMENT, lv, fields(before)) == [
        {"op": "add", "path": "/spec/template/spec/volumes/0/configMap", "value": {"name": "web-config"}},
        {"op": "remove", "path": "/spec/template/spec/volumes/0/emptyDir"},
    ]
    # and back: the configMap source goes whole, with the defaultMode the server put in it
    assert ops(before, live("deployment"), fields(DEPLOYMENT)) == [
        {"op": "add", "path": "/spec/template/spec/volumes/0/emptyDir", "value": {}},
        {"op": "remove", "path": "/spec/template/spec/volumes/0/configMap"},
    ]


# ---------------------------------------------------------------------------------------------- Service

SERVICE = yaml.safe_load(
    """
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: metrics
    port: 9090
    targetPort: metrics
"""
)


@pytest.mark.parametrize("last", [None, "fields"])
def test_service_as_written_has_no_changes(last):
    assert ops(SERVICE, live("service"), fields(SERVICE) if last else None) == []


def test_service_target_port_string_is_not_the_int():
    d = copy.deepcopy(SERVICE)
    d["spec"]["ports"][0]["targetPort"] = "8080"
    assert ops(d, live("service"), fields(SERVICE)) == [{"op": "replace", "path": "/spec/ports/0/targetPort", "value": "8080"}]


def test_service_port_removed():
    d = copy.deepcopy(SERVICE)
    del d["spec"]["ports"][1]
    assert ops(d, live("service"), fields(SERVICE)) == [{"op": "remove", "path": "/spec/ports/1"}]


def test_service_port_added_same_number_other_protocol():
    d = copy.deepcopy(SERVICE)
    d["spec"]["ports"].append({"name": "quic", "port": 80, "protocol": "UDP", "targetPort": 8443})
    assert ops(d, live("service"), fields(SERVICE)) == [
        {"op": "add", "path": "/spec/ports/-", "value": {"name": "quic", "port": 80, "protocol": "UDP", "targetPort": 8443}}
    ]


def test_service_changed_out_of_band():
    lv = live("service")
    lv["spec"]["selector"]["app"] = "other"
    lv["spec"]["ports"][1]["targetPort"] = 9091
    lv["spec"]["ports"].append({"name": "debug", "port": 6060, "protocol": "TCP", "targetPort": 6060})  # not ours
    assert ops(SERVICE, lv, fields(SERVICE)) == [
        {"op": "replace", "path": "/spec/selector/app", "value": "web"},
        {"op": "replace", "path": "/spec/ports/1/targetPort", "value": "metrics"},
    ]


def test_service_allocated_fields_left_to_the_server():
    d = copy.deepcopy(SERVICE)
    d["spec"]["clusterIP"] = ""
    d["spec"]["type"] = "ClusterIP"
    assert ops(d, live("service"), fields(SERVICE)) == []
    lv = live("service")
    lv["spec"]["type"] = "NodePort"
    lv["spec"]["ports"][0]["nodePort"] = 31080
    d["spec"]["type"] = "NodePort"
    d["spec"]["ports"][0]["nodePort"] = 0
    assert ops(d, lv, fields(SERVICE)) == []


# ---------------------------------------------------------------------------------------------- Secret

SECRET = yaml.safe_load(
    """
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
type: Opaque
data:
  username: YWRtaW4=
stringData:
  password: s3cr3t
"""
)


@pytest.mark.parametrize("last", [None, "fields"])
def test_secret_as_written_has_no_changes(last):
    assert ops(SECRET, live("secret"), fields(SECRET) if last else None) == []


def test_secret_string_data_changed_patches_data_never_string_data():
    d = copy.deepcopy(SECRET)
    d["stringData"]["password"] = "n3w-s3cr3t"
    assert ops(d, live("secret"), fields(SECRET)) == [{"op": "replace", "path": "/data/password", "value": b64("n3w-s3cr3t")}]


def test_secret_string_data_wins_over_data_like_the_server():
    d = copy.deepcopy(SECRET)
    d["data"]["password"] = b64("stale")
    assert ops(d, live("secret"), fields(SECRET)) == []


def test_secret_key_removed_and_added():
    d = copy.deepcopy(SECRET)
    del d["data"]
    d["stringData"]["token"] = "abc"
    assert ops(d, live("secret"), fields(SECRET)) == [
        {"op": "add", "path": "/data/token", "value": b64("abc")},
        {"op": "remove", "path": "/data/username"},
    ]


def test_secret_data_base64_spelling_does_not_matter():
    d = copy.deepcopy(SECRET)
    d["data"]["username"] = "YWRt\naW4="
    assert ops(d, live("secret"), fields(SECRET)) == []


def test_secret_changed_out_of_band():
    lv = live("secret")
    lv["data"]["password"] = b64("hacked")
    lv["data"]["extra"] = b64("someone else's")
    assert ops(SECRET, lv, fields(SECRET)) == [{"op": "replace", "path": "/data/password", "value": b64("s3cr3t")}]


# ---------------------------------------------------------------------------------------------- ConfigMap

CONFIGMAP = yaml.safe_load(
    """
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: shop
  labels: {app: web}
data:
  LOG_LEVEL: info
  app.properties: |
    listen=8080
    greeting=hello
  retries: "3"
"""
)


def test_configmap_last_applied_annotation_is_read_from_live():
    assert last_applied_of(live("configmap")) == fields(CONFIGMAP)


def test_configmap_as_written_has_no_changes():
    lv = live("configmap")
    assert ops(CONFIGMAP, lv, last_applied_of(lv)) == []


def test_configmap_value_int_is_not_the_string():
    d = copy.deepcopy(CONFIGMAP)
    d["data"]["retries"] = 3
    lv = live("configmap")
    assert ops(d, lv, last_applied_of(lv)) == [{"op": "replace", "path": "/data/retries", "value": 3}]


def test_configmap_key_removed_and_null_means_removed():
    lv = live("configmap")
    d = copy.deepcopy(CONFIGMAP)
    del d["data"]["LOG_LEVEL"]
    d["data"]["retries"] = None
    assert ops(d, lv, last_applied_of(lv)) == [
        {"op": "remove", "path": "/data/LOG_LEVEL"},
        {"op": "remove", "path": "/data/retries"},
    ]


def test_configmap_key_added_and_empty_annotations_equal_absent():
    lv = live("configmap")
    d = copy.deepcopy(CONFIGMAP)
    d["metadata"]["annotations"] = {}
    d["data"]["feature.flags"] = "beta=true"
    assert ops(d, lv, last_applied_of(lv)) == [{"op": "add", "path": "/data/feature.flags", "value": "beta=true"}]


def test_configmap_changed_out_of_band():
    lv = live("configmap")
    lv["data"]["app.properties"] = "listen=9090\n"
    lv["metadata"]["labels"]["team"] = "ops"  # not ours
    assert ops(CONFIGMAP, lv, last_applied_of(lv)) == [
        {"op": "replace", "path": "/data/app.properties", "value": "listen=8080\ngreeting=hello\n"}
    ]


# ---------------------------------------------------------------------------------------------- StatefulSet

STATEFULSET = yaml.safe_load(
    """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: postgres
        image: postgres:13
        ports: [{name: pg, containerPort: 5432}]
        readinessProbe:
          exec: {command: [pg_isready]}
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1024Mi
"""
)


@pytest.mark.parametrize("last", [None, "fields"])
def test_statefulset_as_written_has_no_changes(last):
    assert ops(STATEFULSET, live("statefulset"), fields(STATEFULSET) if last else None) == []


def test_statefulset_claim_template_changed_replaces_the_atomic_list():
    d = copy.deepcopy(STATEFULSET)
    d["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert ops(d, live("statefulset"), fields(STATEFULSET)) == [
        {"op": "replace", "path": "/spec/volumeClaimTemplates", "value": d["spec"]["volumeClaimTemplates"]}
    ]


def test_statefulset_probe_command_and_replicas_changed():
    d = copy.deepcopy(STATEFULSET)
    d["spec"]["replicas"] = 3
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"] = ["pg_isready", "-U", "postgres"]
    assert ops(d, live("statefulset"), fields(STATEFULSET)) == [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": f"{C0}/readinessProbe/exec/command", "value": ["pg_isready", "-U", "postgres"]},
    ]


def test_statefulset_probe_removed_and_added_out_of_band_field_left_alone():
    d = copy.deepcopy(STATEFULSET)
    del d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    lv = live("statefulset")
    lv["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}  # not ours
    assert ops(d, lv, fields(STATEFULSET)) == [{"op": "remove", "path": f"{C0}/readinessProbe"}]


# ---------------------------------------------------------------------------------------------- CronJob, Job

CRONJOB = yaml.safe_load(
    """
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: cleanup, namespace: shop}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: cleanup
            image: busybox:1.33
            command: [/bin/cleanup]
            args: [--older-than=7d]
"""
)
CJ0 = "/spec/jobTemplate/spec/template/spec/containers/0"


@pytest.mark.parametrize("last", [None, "fields"])
def test_cronjob_as_written_has_no_changes(last):
    assert ops(CRONJOB, live("cronjob"), fields(CRONJOB) if last else None) == []


def test_cronjob_args_replaced_whole_and_schedule_changed():
    d = copy.deepcopy(CRONJOB)
    d["spec"]["schedule"] = "0 4 * * *"
    d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] = ["--older-than=7d", "--dry-run"]
    assert ops(d, live("cronjob"), fields(CRONJOB)) == [
        {"op": "replace", "path": "/spec/schedule", "value": "0 4 * * *"},
        {"op": "replace", "path": f"{CJ0}/args", "value": ["--older-than=7d", "--dry-run"]},
    ]


def test_cronjob_suspended_out_of_band():
    lv = live("cronjob")
    lv["spec"]["suspend"] = True
    assert ops(CRONJOB, lv, fields(CRONJOB)) == []  # not a field we set
    d = copy.deepcopy(CRONJOB)
    d["spec"]["suspend"] = False
    assert ops(d, live("cronjob"), fields(CRONJOB)) == []  # the default, as live has it
    assert ops(d, lv, fields(d)) == [{"op": "replace", "path": "/spec/suspend", "value": False}]


def test_cronjob_args_removed():
    d = copy.deepcopy(CRONJOB)
    del d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert ops(d, live("cronjob"), fields(CRONJOB)) == [{"op": "remove", "path": f"{CJ0}/args"}]


JOB = yaml.safe_load(
    """
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop, labels: {app: migrate}}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.example.com/shop/migrate:2.4.1
        command: [/migrate, up]
        env: [{name: DB_HOST, value: db}]
        resources:
          requests: {cpu: 0.25, memory: 64Mi}
"""
)


@pytest.mark.parametrize("last", [None, "fields"])
def test_job_as_written_has_no_changes_despite_controller_labels(last):
    assert ops(JOB, live("job"), fields(JOB) if last else None) == []


def test_job_env_added_and_cpu_changed():
    d = copy.deepcopy(JOB)
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["env"].append({"name": "DB_PORT", "value": "5432"})
    c["resources"]["requests"]["cpu"] = "500m"
    assert ops(d, live("job"), fields(JOB)) == [
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "DB_PORT", "value": "5432"}},
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "500m"},
    ]


# ---------------------------------------------------------------------------------------------- Ingress

INGRESS = yaml.safe_load(
    """
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        backend: {serviceName: web, servicePort: 80}
"""
)


@pytest.mark.parametrize("last", [None, "fields"])
def test_ingress_as_written_has_no_changes_path_type_default_absorbed(last):
    assert ops(INGRESS, live("ingress"), fields(INGRESS) if last else None) == []


def test_ingress_rule_changed_replaces_rules_whole():
    d = copy.deepcopy(INGRESS)
    d["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/shop"
    assert ops(d, live("ingress"), fields(INGRESS)) == [{"op": "replace", "path": "/spec/rules", "value": d["spec"]["rules"]}]


def test_ingress_service_port_string_is_not_the_int():
    d = copy.deepcopy(INGRESS)
    d["spec"]["rules"][0]["http"]["paths"][0]["backend"]["servicePort"] = "80"
    assert ops(d, live("ingress"), fields(INGRESS)) == [{"op": "replace", "path": "/spec/rules", "value": d["spec"]["rules"]}]


def test_ingress_annotation_removed_escapes_the_slash():
    d = copy.deepcopy(INGRESS)
    del d["metadata"]["annotations"]
    result = diff(d, live("ingress"), fields(INGRESS))
    assert list(result.patch) == [{"op": "remove", "path": "/metadata/annotations/nginx.ingress.kubernetes.io~1rewrite-target"}]
    assert result.changed_paths == ('metadata.annotations["nginx.ingress.kubernetes.io/rewrite-target"]',)


def test_ingress_tls_changed_out_of_band():
    lv = live("ingress")
    lv["spec"]["tls"][0]["secretName"] = "other-tls"
    assert ops(INGRESS, lv, fields(INGRESS)) == [{"op": "replace", "path": "/spec/tls", "value": INGRESS["spec"]["tls"]}]


# ---------------------------------------------------------------------------------------------- quantities

PVC = yaml.safe_load(
    """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: uploads, namespace: shop}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  resources:
    requests:
      storage: 5120Mi
"""
)

QUOTA = yaml.safe_load(
    """
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: shop}
spec:
  hard:
    pods: 20
    requests.cpu: 2000m
    requests.memory: 4096Mi
    limits.memory: 8589934592
"""
)

LIMITS = yaml.safe_load(
    """
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: shop}
spec:
  limits:
  - type: Container
    default: {cpu: "0.5", memory: 0.5Gi}
    defaultRequest: {cpu: 0.1, memory: 128Mi}
    max: {memory: 1Gi}
"""
)


@pytest.mark.parametrize("desired, name", [(PVC, "pvc"), (QUOTA, "resourcequota"), (LIMITS, "limitrange")])
def test_quantities_compared_by_value(desired, name):
    assert ops(desired, live(name), fields(desired)) == []
    assert contains(desired, live(name))


def test_quota_changed_by_value():
    d = copy.deepcopy(QUOTA)
    d["spec"]["hard"]["requests.cpu"] = "2.5"
    assert ops(d, live("resourcequota"), fields(QUOTA)) == [{"op": "replace", "path": "/spec/hard/requests.cpu", "value": "2.5"}]


def test_pvc_resize():
    d = copy.deepcopy(PVC)
    d["spec"]["resources"]["requests"]["storage"] = "10Gi"
    assert ops(d, live("pvc"), fields(PVC)) == [{"op": "replace", "path": "/spec/resources/requests/storage", "value": "10Gi"}]
