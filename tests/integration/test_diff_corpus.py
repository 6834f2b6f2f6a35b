"""The diff is exact against the real API server.

1. A corpus of realistic manifests (tests/integration/corpus, plus the demo app in manifests-example)
   is applied through the facade (kubesync.sync); planning again, after the controllers have had their say, must give
   a no-op for every object. Each object is its own test, so a failure names it and shows its patch.
2. For one object of each representative kind, a field is changed, removed and added in the desired
   state, and changed out-of-band in live: each plan is exactly the expected JSON patch, applying it
   converges (the next plan is empty), and out-of-band changes to fields kubesync never set give no patch.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from kubesync.cluster.api import Client
from kubesync.cluster.requests import path as api_path
from kubesync.cluster.client import MERGE_PATCH
from kubesync.cluster.discovery import Discovery
from kubesync.diff import decode
from kubesync.errors import PlanInvalid, ResolveError
from kubesync.model import LAST_APPLIED_ANNOTATION, ActionType, ObjectRef
from kubesync.plan import owned_object, plan_object
from kubesync.settings import Validation
from kubesync.sync import Planned
from kubesync.validate import unknown_fields
from tests.support.harness import SyncHarness
from tests.support.manifests import crd, crd_path, write, yaml_text
from tests.support.waits import settle

CORPUS = Path(__file__).resolve().parent / "corpus"
EXAMPLE = Path(__file__).resolve().parents[2] / "manifests-example"
EXAMPLE_NAMESPACE = "kubesync-demo"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


# ----------------------------------------------------------------------------- helpers


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class Sync(SyncHarness):
    """One sync: a folder planned and applied through the facade (kubesync.sync), as `kubesync apply` does."""

    def __init__(self, cluster, folder: Path, namespace: str, name: str | None = None):
        self.name = name or unique("corpus")  # sync names are cluster-wide
        super().__init__(cluster, folder, self.name, namespace)

    def apply(self, planned: Planned | None = None):
        """Apply and assert nothing failed (the harness's apply_cleanly, which would call back here)."""
        _, report = super().apply(planned)
        failures = [o.message for o in report.failures]
        assert not failures and not report.not_started, "apply failed:\n" + "\n".join(failures)
        return report


def describe(action) -> str:
    return f"{action.type.value} {action.ref}\n" + "\n".join("    " + json.dumps(op, sort_keys=True) for op in action.patch)


# ----------------------------------------------------------------------------- 1. the corpus


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


_SERVED = re.compile(r"^# kubernetes: (>=|<)(\d+)\.(\d+)\s*$", re.M)


def served_by(path: Path, version: tuple[int, int]) -> bool:
    """A file's version marker (`# kubernetes: >=1.21`, `# kubernetes: <1.25`) says which servers serve
    its APIs; a file without one must plan zero changes on every version."""
    for op, major, minor in _SERVED.findall(path.read_text()):
        bound = (int(major), int(minor))
        if (op == ">=" and version < bound) or (op == "<" and version >= bound):
            return False
    return True


# Fields newer than Kubernetes 1.20, by file. A server without strict field validation (before 1.25)
# would drop them without a word; kubesync refuses them there, found in the server's schema, as kubectl
# does (its client-side validation). Each file is then planned alone and refused, naming these fields.
NEWER_FIELDS_THAN_1_20 = {
    "101-job-pod-failure-policy.yaml": ["spec.podFailurePolicy"],
    "102-job-indexed.yaml": ["spec.completionMode", "spec.backoffLimitPerIndex", "spec.maxFailedIndexes",
                             "spec.podReplacementPolicy", "spec.completionMode", "spec.successPolicy"],
    "106-service-traffic-policies.yaml": ["spec.internalTrafficPolicy", "spec.loadBalancerClass"],
    "107-statefulset-pvc-retention.yaml": ["spec.minReadySeconds", "spec.persistentVolumeClaimRetentionPolicy", "spec.ordinals"],
    "108-deployment-modern.yaml": ["spec.template.spec.topologySpreadConstraints[0].minDomains",
                                   "spec.template.spec.topologySpreadConstraints[0].matchLabelKeys",
                                   "spec.template.spec.initContainers[0].restartPolicy"],
    "110-networkpolicy-port-range.yaml": ["spec.egress[0].ports[0].endPort"],
    "111-crd-cel-listmap.yaml": ["spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations"],
    "119-webhook-configuration.yaml": ["webhooks[0].matchConditions"],
}


def refused_for_fields(path: Path, version: tuple[int, int]) -> bool:
    """Files with fields newer than this server, which has no strict field validation (the table is 1.20's)."""
    return version < (1, 25) and path.name in NEWER_FIELDS_THAN_1_20


# Files whose kinds another file's CRD defines: refused with it (planned alone, their kind is not served).
NEEDS = {"112-crd-cel-resources.yaml": "111-crd-cel-listmap.yaml"}


def applies(path: Path, version: tuple[int, int]) -> bool:
    """Whether the file is part of the corpus applied on this server (else it is planned alone and refused)."""
    needed = NEEDS.get(path.name)
    return (served_by(path, version) and not refused_for_fields(path, version)
            and (needed is None or applies(CORPUS / needed, version)))


def server_version(cluster) -> tuple[int, int]:
    info = cluster.get("/version")
    return int(info["major"]), int(re.sub(r"\D.*", "", info["minor"]))


def example_files() -> list[Path]:
    return sorted(EXAMPLE.glob("*.yaml"))


def corpus_ids() -> list[str]:
    """`<file>:<Kind>/<name>` for every document, read at collection time (no cluster needed)."""
    out = []
    for folder, files in (("", corpus_files()), ("example/", example_files())):
        for path in files:
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    name = doc["metadata"]["name"].replace("__SUFFIX__", "x")
                    out.append(f"{folder}{path.name}:{doc['kind']}/{name}")
    return out


CORPUS_IDS = corpus_ids()


def render_corpus(dest: Path, suffix: str, namespace: str, version: tuple[int, int]) -> dict[str, tuple[str, str, str, str]]:
    """Write the corpus files this server version serves (and the demo app, in a namespace of its own)
    with the per-test names filled in.

    Returns id -> (apiVersion, kind, namespace-or-"", name) for every object written.
    """
    dest.mkdir()
    (dest / "example").mkdir()
    demo_namespace = f"{EXAMPLE_NAMESPACE}-{suffix}"
    objects = {}
    for folder, files in (("", corpus_files()), ("example/", example_files())):
        for path in files:
            if not applies(path, version):
                continue
            text = path.read_text().replace("__SUFFIX__", suffix).replace("__NAMESPACE__", namespace)
            if folder:
                text = text.replace(EXAMPLE_NAMESPACE, demo_namespace)
            (dest / folder / path.name).write_text(text)
            for doc, raw in zip(yaml.safe_load_all(text), yaml.safe_load_all(path.read_text())):
                if doc:
                    name = raw["metadata"]["name"].replace("__SUFFIX__", "x")
                    ns = doc["metadata"].get("namespace", "")
                    objects[f"{folder}{path.name}:{doc['kind']}/{name}"] = (doc["apiVersion"], doc["kind"], ns, doc["metadata"]["name"])
    return objects


@dataclass
class AppliedCorpus:
    namespace: str
    suffix: str
    sync: Sync
    objects: dict[str, tuple[str, str, str, str]]
    first: Planned
    report: Any
    version: tuple[int, int] = (0, 0)
    second: Planned = None  # type: ignore[assignment]
    paths: dict[str, str] = field(default_factory=dict)

    def action(self, planned: Planned, object_id: str):
        api_version, kind, ns, name = self.objects[object_id]
        for a in planned.plan.actions:
            namespaces = (ns,) if ns else ("", self.namespace)  # namespaced objects without one go to the sync's
            if a.ref.api_version == api_version and a.ref.kind == kind and a.ref.name == name and a.ref.namespace in namespaces:
                return a
        raise AssertionError(f"{object_id}: not in the plan")


@pytest.fixture(scope="module")
def applied_corpus(cluster, tmp_path_factory):
    """The whole corpus applied once into a namespace of its own, then planned again once settled.

    Module-scoped: the per-object tests below only read it.
    """
    suffix = secrets.token_hex(3)
    namespace = f"ks-corpus-{suffix}"
    cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    folder = tmp_path_factory.mktemp("corpus") / "corpus"
    version = server_version(cluster)
    objects = render_corpus(folder, suffix, namespace, version)
    sync = Sync(cluster, folder, namespace, name=f"corpus-{suffix}")
    try:
        first = sync.plan()
        report = sync.apply(first)
        corpus = AppliedCorpus(namespace, suffix, sync, objects, first, report, version)
        discovery = Discovery(Client(cluster))
        for object_id, (api_version, kind, ns, name) in objects.items():
            rtype = discovery.resource_for(api_version, kind)
            assert rtype is not None, f"{object_id}: {api_version} {kind} not served"
            corpus.paths[object_id] = api_path(rtype, ns or (namespace if rtype.namespaced else ""), name)
        # Controllers (deployment, statefulset, job, service account tokens...) write right after a
        # create; the diff must hold against what they leave, so wait for them to finish.
        settle(cluster, list(corpus.paths.values()))
        corpus.second = sync.plan()
        yield corpus
    finally:
        cleanup(cluster, namespace, suffix, objects)


def cleanup(cluster, namespace: str, suffix: str, objects: dict[str, tuple[str, str, str, str]]) -> None:
    """Namespaces first (their objects go with them), then the cluster-scoped objects of this run."""
    discovery = Discovery(Client(cluster))
    paths = [f"/api/v1/namespaces/{namespace}", f"/api/v1/namespaces/{EXAMPLE_NAMESPACE}-{suffix}"]
    for api_version, kind, ns, name in objects.values():
        rtype = discovery.resource_for(api_version, kind)
        if rtype is not None and not rtype.namespaced:
            paths.append(api_path(rtype, "", name))
    for path in paths:
        try:
            cluster.request("DELETE", path)
        except Exception:
            pass


def test_corpus_is_large_and_varied():
    kinds = {i.split(":")[1].split("/")[0] for i in CORPUS_IDS}
    assert len(corpus_files()) >= 50
    current = [i for i in CORPUS_IDS if i.split("-")[0].isdigit() and int(i.split("-")[0]) >= 100]
    assert len(current) >= 40  # the current-API corpus (files 100 and up)
    assert {"TrafficRoute", "EndpointSlice", "IngressClass", "ValidatingAdmissionPolicy", "FlowSchema", "RuntimeClass"} <= kinds
    assert {
        "Deployment", "StatefulSet", "DaemonSet", "Service", "Ingress", "Role", "RoleBinding", "ClusterRole",
        "ClusterRoleBinding", "ServiceAccount", "ConfigMap", "Secret", "Job", "CronJob", "PersistentVolumeClaim",
        "CustomResourceDefinition", "BackupPolicy", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ResourceQuota", "LimitRange", "PriorityClass", "Namespace",
    } <= kinds
    assert len(CORPUS_IDS) == len(set(CORPUS_IDS))
    names = [i.split(":", 1)[1] for i in CORPUS_IDS if not i.startswith("example/")]
    assert len(names) == len(set(names)), "two corpus files define the same object (they are applied as one sync)"


def test_corpus_applies_every_object_once(applied_corpus):
    results = sorted((o.result, str(o.action.ref)) for o in applied_corpus.report.outcomes)
    assert {r for r, _ in results} == {"created"}
    assert len(results) == len(applied_corpus.objects)


def corpus_file_of(object_id: str) -> Path:
    name = object_id.split(":")[0]
    return EXAMPLE / name[len("example/"):] if name.startswith("example/") else CORPUS / name


@pytest.fixture(scope="module")
def refused_files(cluster, tmp_path_factory) -> dict[str, str]:
    """Each corpus file this server does not serve (by its marker), or whose fields it does not know,
    planned alone: file -> the error."""
    version = server_version(cluster)
    out = {}
    for path in corpus_files():
        if applies(path, version):
            continue
        folder = tmp_path_factory.mktemp("refused")
        (folder / path.name).write_text(path.read_text().replace("__SUFFIX__", "refused").replace("__NAMESPACE__", "default"))
        with pytest.raises(PlanInvalid if refused_for_fields(path, version) else ResolveError) as e:
            Sync(cluster, folder, "default").plan()
        out[path.name] = str(e.value)
    return out


def assert_refused_if_not_served(cluster, refused_files: dict[str, str], object_id: str) -> bool:
    """For an object whose file this server version does not serve (or whose newer fields it would drop):
    its plan is refused, naming the kind and "the cluster does not serve" (or the unknown fields), never a
    silent skip. True when that was the case."""
    path = corpus_file_of(object_id)
    version = server_version(cluster)
    if applies(path, version):
        return False
    message = refused_files[path.name]
    # the whole file is refused (nothing half-applied), naming what is not served
    what = "unknown field" if refused_for_fields(path, version) else "the cluster does not serve kind"
    assert f"{path.name}:" in message and what in message, message
    assert "nothing was applied" in message, message
    return True


def test_files_for_other_versions_are_refused_with_a_clear_error(cluster, refused_files):
    version = server_version(cluster)
    expected = sorted(p.name for p in corpus_files() if not applies(p, version))
    assert sorted(refused_files) == expected
    for name, message in refused_files.items():
        if refused_for_fields(CORPUS / name, version):
            continue  # the next test
        assert f"{name}:" in message and "the cluster does not serve kind" in message, message
        why = ("is its CustomResourceDefinition installed",) if name in NEEDS else (
            "is a built-in Kubernetes API that this server's version does not serve",  # a group-version it lacks
            "by a later Kubernetes version than this server's")  # a kind newer than the server (batch/v1 CronJob on 1.20)
        assert any(w in message for w in why), message


def test_fields_newer_than_a_server_without_strict_validation_are_refused_at_their_line(cluster, refused_files):
    """On 1.20 each file with newer fields is refused naming exactly those fields, each at the line of its
    last key in the file; on servers with strict field validation none is refused for its fields."""
    version = server_version(cluster)
    refused = sorted(name for name in refused_files if refused_for_fields(CORPUS / name, version))
    assert refused == (sorted(NEWER_FIELDS_THAN_1_20) if version < (1, 25) else [])
    for name in refused:
        lines = (CORPUS / name).read_text().splitlines()
        found = re.findall(rf'^  {re.escape(name)}:(\d+): .*: unknown field "([^"]+)"', refused_files[name], re.M)
        assert sorted(field for _, field in found) == sorted(NEWER_FIELDS_THAN_1_20[name]), refused_files[name]
        for line, field in found:
            key = re.split(r"[.\[]", field.rsplit(".", 1)[-1])[0]
            assert re.search(rf"(^|[\s{{,])(- )?{re.escape(key)}:", lines[int(line) - 1]), (name, line, field, lines[int(line) - 1])
        assert "checked against the server's schema" in refused_files[name]


def test_the_schema_check_finds_no_unknown_field_in_the_applied_corpus(applied_corpus):
    """Zero false positives: every object of the applied corpus has a schema from this server (OpenAPI v2
    on 1.20, v3 on 1.37; the corpus's own CRDs for their resources) and none has a field it calls unknown.
    On 1.20 this is the check every plan runs; on 1.37 the server checks, this shows the schema agrees."""
    planned = applied_corpus.first
    schemas = {r.ref.key: r.schema for r in planned.resolved}
    found, checked = unknown_fields(planned.plan, lambda a: getattr(schemas.get(a.ref.key), "fields", None))
    assert found == {}
    assert checked == len(planned.plan.actions) == len(applied_corpus.objects)


def ignored_paths(planned: Planned, ref) -> list[str]:
    """The paths the plan's "the server ignores ..." warning names for this object (none: [])."""
    for warning in planned.plan.warnings:
        if f"{ref}: the server ignores " in warning:
            return warning.split("the server ignores ", 1)[1].split(" (unknown field", 1)[0].split(", ")
    return []


def test_no_field_of_the_applied_corpus_is_ignored(applied_corpus):
    """Every field applied is kept: on current servers all of them, on 1.20 the files with newer fields
    are refused (above) rather than applied without them."""
    warned = {w.split(":", 1)[0] for w in applied_corpus.second.plan.warnings if "the server ignores" in w}
    assert warned == set(), applied_corpus.second.plan.warnings


@pytest.mark.parametrize("object_id", CORPUS_IDS)
def test_corpus_object_is_unchanged_when_planned_again(cluster, refused_files, applied_corpus, object_id):
    if assert_refused_if_not_served(cluster, refused_files, object_id):
        return
    action = applied_corpus.action(applied_corpus.second, object_id)
    assert action.type is ActionType.NOOP, f"{object_id}: expected no change after apply, got:\n{describe(action)}"


@pytest.mark.parametrize("object_id", CORPUS_IDS)
def test_corpus_object_diffs_empty_against_a_fresh_get(cluster, refused_files, applied_corpus, object_id):
    """The same, against the object read with a GET (not the LIST the facade uses), right now."""
    if assert_refused_if_not_served(cluster, refused_files, object_id):
        return
    planned = applied_corpus.second
    r = next(r for r in planned.resolved if r.ref == applied_corpus.action(planned, object_id).ref)
    live = cluster.get(applied_corpus.paths[object_id])
    action, conflict = plan_object(r, live, planned.config.planning)
    assert conflict is None
    ignored = ignored_paths(planned, action.ref)
    if ignored:  # fields this server drops: the plan asked the server (dry run), which changed nothing
        assert sorted(op["path"] for op in action.patch) == sorted(ignored), describe(action)
    else:
        assert action.type is ActionType.NOOP, f"{object_id}: expected no change, got:\n{describe(action)}"
    # kubesync's record of what it set is on the object, and names no server-owned field
    fs = decode(live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
    assert fs is not None and fs.paths()
    assert not any(p.startswith(("status", "metadata.uid", "metadata.resourceVersion")) for p in fs.paths())


# ----------------------------------------------------------------------------- 2. exact patches

FIELDSET = object()  # in an expected op list: "the last-applied set is rewritten to the desired one"


@dataclass
class Step:
    """One change and the exact patch the next plan must hold for the object under test.

    Either `edit` changes the desired state, or `live` is sent as an out-of-band PATCH.
    """

    label: str
    expect: list
    edit: Callable[[dict], None] | None = None
    live: Any = None
    content_type: str = MERGE_PATCH
    action: ActionType | None = None  # default: UPDATE when a patch is expected, NOOP otherwise
    check: Callable[[dict], Any] | None = None  # on the live object after apply
    has_field: str | None = None  # dotted FieldSet path that must (not) be recorded after this step
    lacks_field: str | None = None


@dataclass
class Case:
    kind: str
    base: str  # YAML; `__SUFFIX__` is replaced by a per-test suffix; the last document is the object under test
    collection: str  # REST path of its collection, `{ns}` and `{suffix}` filled in
    steps: list[Step]

    def __str__(self) -> str:
        return self.kind


def b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def at(obj: dict, dotted: str) -> Any:
    """obj at `spec.template.spec.containers.0.image` (digits index lists)."""
    for part in dotted.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def container(obj: dict) -> dict:
    spec = obj["spec"]
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"][0]


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
  annotations: {example.com/team: shop}
spec:
  replicas: 2
  revisionHistoryLimit: 5
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [{name: http, containerPort: 8080}]
          env: [{name: MODE, value: production}]
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "0.5", memory: 128Mi}}
          readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  annotations: {example.com/expose: internal}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http, protocol: TCP}
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  greeting: hello
  log.level: info
"""

SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
stringData:
  password: s3cret-one
  token: tok-123456
"""

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: postgres
          image: postgres:16.1
          args: ["-c", "max_connections=100"]
          env:
            - {name: POSTGRES_DB, value: shop}
            - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
"""

INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: web-tls}]
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""

CRONJOB = """\
apiVersion: __CRONJOB_API__
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "30 2 * * *"
  startingDeadlineSeconds: 300
  suspend: false
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - {name: backup, image: "registry.example.com/pg-backup:3.2", args: [--compress]}
"""

CUSTOM_RESOURCE = yaml_text(crd("changes-__SUFFIX__.example.com", "BackupPolicy", {
    "schedule": {"type": "string"},
    "retention": {"type": "object", "properties": {
        "days": {"type": "integer", "default": 7}, "keepLast": {"type": "integer", "default": 3}}},
    "compression": {"type": "string", "default": "gzip"},
    "threshold": {"type": "number"},
}, plural="backuppolicies")) + """\
---
apiVersion: changes-__SUFFIX__.example.com/v1
kind: BackupPolicy
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  retention: {days: 14}
  threshold: 0.75
"""

FOREIGN_ANNOTATION = {"metadata": {"annotations": {"example.com/touched-by": "oncall"}, "labels": {"team": "sre"}}}


def merged(*patches: dict) -> dict:
    out: dict = {}
    for p in patches:
        for k, v in p.items():
            out[k] = merged(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


CONTAINER0 = "/spec/template/spec/containers/0"

CASES = [
    Case("Deployment", DEPLOYMENT, "/apis/apps/v1/namespaces/{ns}/deployments", [
        Step("image changed", [{"op": "replace", "path": f"{CONTAINER0}/image", "value": "nginx:1.26"}],
             edit=lambda o: container(o).update(image="nginx:1.26"),
             check=lambda live: at(live, "spec.template.spec.containers.0.image") == "nginx:1.26"),
        Step("quantity respelled: same value, no patch", [],
             edit=lambda o: container(o)["resources"]["limits"].update(cpu="500m", memory="0.125Gi")),
        Step("probe removed", [FIELDSET, {"op": "remove", "path": f"{CONTAINER0}/readinessProbe"}],
             edit=lambda o: container(o).pop("readinessProbe"),
             check=lambda live: "readinessProbe" not in at(live, "spec.template.spec.containers.0"),
             lacks_field="spec.template.spec.containers.@name=web.readinessProbe.periodSeconds"),
        Step("server-defaulted field removed: the server restores its default, and that is no change",
             [FIELDSET, {"op": "remove", "path": "/spec/revisionHistoryLimit"}],
             edit=lambda o: o["spec"].pop("revisionHistoryLimit"),
             check=lambda live: live["spec"]["revisionHistoryLimit"] == 10,
             lacks_field="spec.revisionHistoryLimit"),
        Step("env var added", [FIELDSET, {"op": "add", "path": f"{CONTAINER0}/env/-", "value": {"name": "LOG_LEVEL", "value": "debug"}}],
             edit=lambda o: container(o)["env"].append({"name": "LOG_LEVEL", "value": "debug"}),
             has_field="spec.template.spec.containers.@name=web.env.@name=LOG_LEVEL.value"),
        Step("owned fields changed out-of-band", [
            {"op": "replace", "path": "/metadata/annotations/example.com~1team", "value": "shop"},
            {"op": "replace", "path": "/spec/strategy/rollingUpdate/maxSurge", "value": 1},
            {"op": "replace", "path": f"{CONTAINER0}/resources/limits/memory", "value": "0.125Gi"},  # as written
        ], live={"metadata": {"annotations": {"example.com/team": "payments"}},
                 "spec": {"revisionHistoryLimit": 20, "strategy": {"rollingUpdate": {"maxSurge": "50%"}},
                          "template": {"spec": {"containers": [{"name": "web", "resources": {"limits": {"memory": "1Gi"}}}]}}}},
             content_type=STRATEGIC_MERGE_PATCH),
        Step("image changed out-of-band (kubectl set image)", [{"op": "replace", "path": f"{CONTAINER0}/image", "value": "nginx:1.26"}],
             live={"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}}},
             content_type=STRATEGIC_MERGE_PATCH),
        Step("scaled out-of-band (kubectl scale)", [{"op": "replace", "path": "/spec/replicas", "value": 2}],
             live={"spec": {"replicas": 5}}, action=ActionType.SCALE,
             check=lambda live: live["spec"]["replicas"] == 2),
        Step("foreign annotation, label, env var and server-defaulted fields changed: no patch", [],
             live=merged(FOREIGN_ANNOTATION, {"spec": {"progressDeadlineSeconds": 120, "template": {"spec": {
                 "terminationGracePeriodSeconds": 5,
                 "containers": [{"name": "web", "terminationMessagePolicy": "FallbackToLogsOnError",
                                 "env": [{"name": "DEBUG", "value": "1"}]}]}}}}),  # and `kubectl set env`
             content_type=STRATEGIC_MERGE_PATCH),
    ]),
    Case("Service", SERVICE, "/api/v1/namespaces/{ns}/services", [
        Step("named targetPort changed to a number", [{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 8080}],
             edit=lambda o: o["spec"]["ports"][0].update(targetPort=8080),
             check=lambda live: live["spec"]["ports"][0]["targetPort"] == 8080),
        Step("annotation removed", [FIELDSET, {"op": "remove", "path": "/metadata/annotations/example.com~1expose"}],
             edit=lambda o: o["metadata"].pop("annotations"),
             check=lambda live: "example.com/expose" not in live["metadata"]["annotations"]),
        Step("port added", [FIELDSET, {"op": "add", "path": "/spec/ports/-",
                                        "value": {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}}],
             edit=lambda o: o["spec"]["ports"].append({"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}),
             has_field='spec.ports.@port,protocol=[9090,"TCP"].targetPort'),
        Step("selector changed out-of-band", [{"op": "replace", "path": "/spec/selector/app", "value": "web"}],
             live={"spec": {"selector": {"app": "hijacked"}}}),
        Step("foreign annotation and server-defaulted sessionAffinity changed: no patch", [],
             live=merged(FOREIGN_ANNOTATION, {"spec": {"sessionAffinity": "ClientIP"}})),
    ]),
    Case("ConfigMap", CONFIGMAP, "/api/v1/namespaces/{ns}/configmaps", [
        Step("value changed", [{"op": "replace", "path": "/data/greeting", "value": "bonjour"}],
             edit=lambda o: o["data"].update(greeting="bonjour")),
        Step("key removed", [FIELDSET, {"op": "remove", "path": "/data/log.level"}],
             edit=lambda o: o["data"].pop("log.level"),
             check=lambda live: live["data"] == {"greeting": "bonjour"}),
        Step("binaryData added", [FIELDSET, {"op": "add", "path": "/binaryData", "value": {"logo.png": "iVBORw0KGgo="}}],
             edit=lambda o: o.update(binaryData={"logo.png": "iVBORw0KGgo="}),
             has_field="binaryData.logo.png"),
        Step("value changed out-of-band", [{"op": "replace", "path": "/data/greeting", "value": "bonjour"}],
             live={"data": {"greeting": "hola"}}),
        Step("foreign key and label added: no patch", [], live=merged(FOREIGN_ANNOTATION, {"data": {"extra": "theirs"}})),
    ]),
    Case("Secret", SECRET, "/api/v1/namespaces/{ns}/secrets", [
        Step("stringData value changed: patches data", [{"op": "replace", "path": "/data/password", "value": b64("s3cret-two")}],
             edit=lambda o: o["stringData"].update(password="s3cret-two"),
             check=lambda live: live["data"]["password"] == b64("s3cret-two") and "stringData" not in live),
        Step("key removed", [FIELDSET, {"op": "remove", "path": "/data/token"}],
             edit=lambda o: o["stringData"].pop("token"),
             check=lambda live: set(live["data"]) == {"password"}),
        Step("key added as data", [FIELDSET, {"op": "add", "path": "/data/ca.crt", "value": b64("-----BEGIN CERTIFICATE-----\n")}],
             edit=lambda o: o.update(data={"ca.crt": b64("-----BEGIN CERTIFICATE-----\n")}),
             has_field="data.ca.crt"),
        Step("value changed out-of-band", [{"op": "replace", "path": "/data/password", "value": b64("s3cret-two")}],
             live={"data": {"password": b64("leaked")}}),
        Step("foreign key and annotation added: no patch", [], live=merged(FOREIGN_ANNOTATION, {"data": {"extra": b64("theirs")}})),
    ]),
    Case("StatefulSet", STATEFULSET, "/apis/apps/v1/namespaces/{ns}/statefulsets", [
        Step("args changed: atomic list replaced whole",
             [{"op": "replace", "path": f"{CONTAINER0}/args", "value": ["-c", "max_connections=200"]}],
             edit=lambda o: container(o).update(args=["-c", "max_connections=200"])),
        Step("env var removed by key", [FIELDSET, {"op": "remove", "path": f"{CONTAINER0}/env/0"}],
             edit=lambda o: container(o)["env"].pop(0),
             check=lambda live: [e["name"] for e in at(live, "spec.template.spec.containers.0.env")] == ["PGDATA"]),
        Step("pod annotations added", [FIELDSET, {"op": "add", "path": "/spec/template/metadata/annotations",
                                                  "value": {"backup.example.com/enabled": "true"}}],
             edit=lambda o: o["spec"]["template"]["metadata"].update(annotations={"backup.example.com/enabled": "true"})),
        Step("scaled out-of-band", [{"op": "replace", "path": "/spec/replicas", "value": 1}],
             live={"spec": {"replicas": 3}}, action=ActionType.SCALE),
        Step("server-defaulted fields changed: no patch", [],
             live=merged(FOREIGN_ANNOTATION, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}, "template": {"spec": {"dnsPolicy": "Default"}}}})),
    ]),
    Case("Ingress", INGRESS, "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", [
        Step("class changed", [{"op": "replace", "path": "/spec/ingressClassName", "value": "traefik"}],
             edit=lambda o: o["spec"].update(ingressClassName="traefik")),
        Step("tls removed", [FIELDSET, {"op": "remove", "path": "/spec/tls"}],
             edit=lambda o: o["spec"].pop("tls"),
             check=lambda live: "tls" not in live["spec"]),
        Step("annotation added", [{"op": "add", "path": "/metadata/annotations/nginx.ingress.kubernetes.io~1ssl-redirect", "value": "false"},
                                  FIELDSET],
             edit=lambda o: o["metadata"].update(annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"})),
        Step("rules changed out-of-band: atomic list replaced whole", [{"op": "replace", "path": "/spec/rules", "value": [
            {"host": "shop.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}],
             live={"spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [
                 {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 8080}}}}]}}]}}),
        Step("foreign annotation and default backend added: no patch", [],
             live=merged(FOREIGN_ANNOTATION, {"spec": {"defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}}}})),
    ]),
    Case("CronJob", CRONJOB, "/apis/{cronjob_api}/namespaces/{ns}/cronjobs", [
        Step("schedule changed", [{"op": "replace", "path": "/spec/schedule", "value": "0 4 * * *"}],
             edit=lambda o: o["spec"].update(schedule="0 4 * * *")),
        Step("deadline removed", [FIELDSET, {"op": "remove", "path": "/spec/startingDeadlineSeconds"}],
             edit=lambda o: o["spec"].pop("startingDeadlineSeconds"),
             check=lambda live: "startingDeadlineSeconds" not in live["spec"]),
        Step("history limit added over the server's default: a replace",
             [FIELDSET, {"op": "replace", "path": "/spec/successfulJobsHistoryLimit", "value": 5}],
             edit=lambda o: o["spec"].update(successfulJobsHistoryLimit=5),
             has_field="spec.successfulJobsHistoryLimit"),
        Step("suspended out-of-band", [{"op": "replace", "path": "/spec/suspend", "value": False}],
             live={"spec": {"suspend": True}}, check=lambda live: live["spec"]["suspend"] is False),
        Step("server-defaulted field changed: no patch", [],
             live=merged(FOREIGN_ANNOTATION, {"spec": {"failedJobsHistoryLimit": 4, "concurrencyPolicy": "Forbid"}})),
    ]),
    Case("BackupPolicy", CUSTOM_RESOURCE, "/apis/changes-{suffix}.example.com/v1/namespaces/{ns}/backuppolicies", [
        Step("nested value changed", [{"op": "replace", "path": "/spec/retention/days", "value": 30}],
             edit=lambda o: o["spec"]["retention"].update(days=30)),
        Step("field removed", [FIELDSET, {"op": "remove", "path": "/spec/threshold"}],
             edit=lambda o: o["spec"].pop("threshold"),
             check=lambda live: "threshold" not in live["spec"]),
        Step("field added over the schema default: a replace", [FIELDSET, {"op": "replace", "path": "/spec/compression", "value": "zstd"}],
             edit=lambda o: o["spec"].update(compression="zstd")),
        Step("changed out-of-band", [{"op": "replace", "path": "/spec/schedule", "value": "0 3 * * *"}],
             live={"spec": {"schedule": "* * * * *"}}),
        Step("schema-defaulted field changed: no patch", [],
             live=merged(FOREIGN_ANNOTATION, {"spec": {"retention": {"keepLast": 10}}})),
    ]),
]


def cronjob_api_for(version: tuple[int, int]) -> str:
    """batch/v1 serves CronJobs from 1.21; batch/v1beta1 stopped in 1.25."""
    return "batch/v1" if version >= (1, 21) else "batch/v1beta1"


def write_docs(folder: Path, docs: list[dict]) -> None:
    (folder / "objects.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def expected_ops(step: Step, doc: dict, sync: str) -> tuple:
    annotation = owned_object(doc, sync)["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    fieldset_op = {"op": "replace", "path": "/metadata/annotations/kubesync.io~1last-applied-fields", "value": annotation}
    return tuple(fieldset_op if op is FIELDSET else op for op in step.expect)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_changed_removed_added_and_drifted_fields_give_exact_patches(cluster, namespace, tmp_path, case):
    suffix = namespace[-6:]
    folder = tmp_path / "src"
    folder.mkdir()
    cronjob_api = cronjob_api_for(server_version(cluster))
    docs = [d for d in yaml.safe_load_all(case.base.replace("__SUFFIX__", suffix).replace("__CRONJOB_API__", cronjob_api)) if d]
    write_docs(folder, docs)
    sync = Sync(cluster, folder, namespace)
    doc = docs[-1]
    path = case.collection.format(ns=namespace, suffix=suffix, cronjob_api=cronjob_api) + "/" + doc["metadata"]["name"]
    ref = ObjectRef.of({**doc, "metadata": {**doc["metadata"], "namespace": namespace}})
    try:
        sync.apply()
        settle(cluster, [path])
        assert not sync.plan().plan.has_changes, "not converged right after the first apply"
        for step in case.steps:
            if step.edit:
                step.edit(doc)
                write_docs(folder, docs)
            if step.live is not None:
                cluster.request("PATCH", path, body=step.live, content_type=step.content_type)
            planned = sync.plan()
            others = [describe(a) for a in planned.plan.changes if a.ref != ref]
            assert not others, f"{case.kind}, {step.label}: unexpected changes to other objects:\n" + "\n".join(others)
            [action] = [a for a in planned.plan.actions if a.ref == ref]
            want = expected_ops(step, doc, sync.name)
            assert action.patch == want, f"{case.kind}, {step.label}: got\n{describe(action)}"
            assert action.type is (step.action or (ActionType.UPDATE if want else ActionType.NOOP)), f"{case.kind}, {step.label}"
            if want:
                sync.apply(planned)
                again = sync.plan()
                assert not again.plan.has_changes, f"{case.kind}, {step.label}: not converged:\n" + "\n".join(
                    describe(a) for a in again.plan.changes)
            live = cluster.get(path)
            if step.check:
                assert step.check(live), f"{case.kind}, {step.label}: live object not as expected"
            fs = decode(live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
            if step.has_field:
                assert step.has_field in fs.paths(), f"{case.kind}, {step.label}: {step.has_field} not recorded"
            if step.lacks_field:
                assert step.lacks_field not in fs.paths(), f"{case.kind}, {step.label}: {step.lacks_field} still recorded"
    finally:
        if docs[0]["kind"] == "CustomResourceDefinition":
            cluster.request("DELETE", crd_path(docs[0]["metadata"]["name"]))


# ----------------------------------------------------------------------------- 3. known gaps

DROPPED_BY_THE_SERVER = """\
apiVersion: v1
kind: Service
metadata: {name: single-stack}
spec:
  ipFamilyPolicy: SingleStack   # IPv6DualStack is alpha (off) in 1.20: the server drops both fields
  ipFamilies: [IPv4]
  selector: {app: web}
  ports: [{port: 80, protocol: TCP}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  ttlSecondsAfterFinished: 600  # TTLAfterFinished is alpha (off) in 1.20: dropped
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: busybox:1.36}]
"""

# A typo is refused by default (strict field validation, or the schema on 1.20: test_field_validation.py);
# applied anyway with --validate=warn, the server drops it.
TYPO = """apiVersion: v1
kind: ConfigMap
metadata: {name: typo}
data: {k: v}
immutible: true
"""


def test_fields_the_server_drops_are_not_a_perpetual_change(cluster, namespace, tmp_path):
    folder = write(tmp_path / "dropped", {"objects.yaml": DROPPED_BY_THE_SERVER})
    sync = Sync(cluster, folder, namespace)
    sync.apply()
    again = sync.plan()
    assert not again.plan.has_changes, "\n".join(describe(a) for a in again.plan.changes)
    # ...and the user is told which fields the server ignores (only 1.20 drops them: features off)
    ignored = [w for w in again.plan.warnings if "the server ignores" in w]
    if server_version(cluster) >= (1, 23):
        assert not ignored, again.plan.warnings
    else:
        assert any("/spec/ipFamilyPolicy" in w for w in ignored) and any("/spec/ttlSecondsAfterFinished" in w for w in ignored), ignored


def test_a_typo_applied_with_validate_warn_is_warned_and_not_a_perpetual_change(cluster, namespace, tmp_path):
    folder = tmp_path / "typo"
    folder.mkdir()
    (folder / "objects.yaml").write_text(TYPO)
    sync = Sync(cluster, folder, namespace)
    sync.apply(sync.plan(validation=Validation.WARN))
    again = sync.plan(validation=Validation.WARN)
    assert not again.plan.has_changes, "\n".join(describe(a) for a in again.plan.changes)
    ref = f"v1 ConfigMap {namespace}/typo"
    assert again.plan.warnings == (
        f'objects.yaml:5: {ref}: unknown field "immutible" (did you mean "immutable"?): the server drops it (--validate=warn)',
        f"objects.yaml:1: {ref}: the server ignores /immutible (unknown field, disabled feature or omitted default); nothing to change",
    )


# Every schema field here is at its zero value, which the server does not store.
CRD_WITH_ZERO_VALUES = yaml_text(crd("zero-__SUFFIX__.example.com", "Probe", {
    "count": {"type": "integer", "minimum": 0, "exclusiveMinimum": False},
    "tags": {"type": "array", "uniqueItems": False, "items": {"type": "string"}},
}, version_fields={"deprecated": False}, spec_fields={"nullable": False}))


def test_crd_schema_zero_values_the_server_omits_are_no_change(cluster, namespace, tmp_path):
    suffix = namespace[-6:]
    folder = write(tmp_path / "crd", {"crd.yaml": CRD_WITH_ZERO_VALUES.replace("__SUFFIX__", suffix)})
    sync = Sync(cluster, folder, namespace)
    try:
        sync.apply()
        again = sync.plan()
        assert not again.plan.has_changes, "\n".join(describe(a) for a in again.plan.changes)
    finally:
        cluster.request("DELETE", crd_path(f"probes.zero-{suffix}.example.com"))


ENV_ORDER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: env-order}
spec:
  selector: {matchLabels: {app: env-order}}
  template:
    metadata: {labels: {app: env-order}}
    spec:
      containers:
        - name: app
          image: busybox:1.36
          env:
            - {name: DATA_DIR, value: $(BASE_DIR)/data}
"""


def test_env_order_of_the_source_reaches_the_cluster(cluster, namespace, tmp_path):
    """`$(VAR)` only sees variables defined before it: a variable added in front must land in front."""
    folder = write(tmp_path / "env", {"deploy.yaml": ENV_ORDER})
    sync = Sync(cluster, folder, namespace)
    sync.apply()
    # BASE_DIR must come first for $(BASE_DIR) to expand in DATA_DIR
    (folder / "deploy.yaml").write_text(ENV_ORDER.replace(
        "            - {name: DATA_DIR", "            - {name: BASE_DIR, value: /srv}\n            - {name: DATA_DIR"))
    sync.apply()
    live = cluster.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/env-order")
    names = [e["name"] for e in live["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names == ["BASE_DIR", "DATA_DIR"]
    assert not sync.plan().plan.has_changes
