"""Plain data shared by every stage: object identity, manifests, plans.

Each arrow in the pipeline (source -> manifests -> resolve -> live -> diff -> plan -> render/apply)
carries these frozen values, never a client or a file handle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

KubeObject = dict[str, Any]  # a raw Kubernetes object as the API (or YAML) gives it

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "kubesync"
SYNC_LABEL = "kubesync.io/sync"
LAST_APPLIED_ANNOTATION = "kubesync.io/last-applied-fields"
WAVE_ANNOTATION = "kubesync.io/wave"
# On a Secret decrypted from a SOPS-encrypted file: a digest of the file's ciphertext, so a plan without the
# key can tell an unchanged encrypted Secret from a changed one (and a saved plan which values to leave out).
SOPS_DIGEST_ANNOTATION = "kubesync.io/sops-digest"
ADOPTABLE_LABEL = "kubesync.io/adoptable"  # on an unowned object: any sync that declares it may take it over
INVENTORY_NAMESPACE = "kubesync-system"  # where each sync's inventory ConfigMap lives by default


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (maps, lists, scalars): several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def split_api_version(api_version: str) -> tuple[str, str]:
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version


@dataclass(frozen=True, order=True)
class ObjectRef:
    """The identity of one object; the key everywhere. Printable as `apps/v1 Deployment shop/web`."""

    group: str
    version: str
    kind: str
    namespace: str  # "" for cluster-scoped objects (or not yet defaulted)
    name: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity without the version: the same object seen through two API versions is one object."""
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def short(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def with_namespace(self, namespace: str) -> "ObjectRef":
        return ObjectRef(self.group, self.version, self.kind, namespace, self.name)

    @classmethod
    def of(cls, obj: KubeObject) -> "ObjectRef":
        group, version = split_api_version(str(obj.get("apiVersion") or ""))
        meta = obj.get("metadata") or {}
        return cls(group, version, str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def __str__(self) -> str:
        return f"{self.api_version} {self.kind} {self.short}"


@dataclass(frozen=True)
class Origin:
    """Where a desired object was defined: file (relative to the source root) and 1-based line."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class Manifest:
    """One desired object and where it came from."""

    ref: ObjectRef
    obj: KubeObject = field(compare=False, hash=False, repr=False)
    origin: Origin = Origin("<unknown>")
    sealed: bool = False
    """A SOPS-encrypted Secret read without the key: `obj` has no values, only its identity and the digest of
    its ciphertext (SOPS_DIGEST_ANNOTATION); plans compare that digest and never write it."""

    def __str__(self) -> str:
        return f"{self.origin}: {self.ref}"


@dataclass(frozen=True)
class InventoryEntry:
    """One object a sync applied before, with the uid it had then (prune only ever deletes that uid)."""

    ref: ObjectRef
    uid: str


@dataclass(frozen=True)
class Chart:
    """A Helm chart a source rendered (name and version from its Chart.yaml): plans show it before and after."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Hook:
    """An object run around a sync rather than applied as part of it (kubesync.io/hook, Argo CD's or Helm's
    hook annotation; kubesync/hooks.py): created in its phases, waited for, deleted by its policies; never
    in the inventory, never pruned, never drift."""

    ref: ObjectRef
    """A `generateName` hook's name is `<generateName><…>`: it gets a real one each run."""
    phases: tuple[str, ...]
    """PreSync, Sync, PostSync, SyncFail, in that order; empty: never run (`skipped` says why)."""
    origin: Origin = Origin("<unknown>")
    wave: int = 0
    """Its wave inside each phase (Argo CD's sync-wave, kubesync.io/wave or helm.sh/hook-weight)."""
    delete_policies: tuple[str, ...] = ("BeforeHookCreation",)
    """BeforeHookCreation, HookSucceeded, HookFailed (Helm's spellings mapped)."""
    obj: KubeObject = field(default_factory=dict, compare=False, hash=False, repr=False)
    said: str = ""
    """The annotation that makes it a hook, for people: `helm.sh/hook: pre-install,pre-upgrade`."""
    skipped: str = ""
    """Why it never runs ('' when it does)."""

    @property
    def generate_name(self) -> str:
        meta = self.obj.get("metadata") or {}
        return "" if meta.get("name") else str(meta.get("generateName") or "")


@dataclass(frozen=True)
class DesiredState:
    """Everything a source yielded, validated as a whole."""

    manifests: tuple[Manifest, ...]
    source: str  # a description for people: a path, or repo@ref:path
    revision: str  # git commit sha, or a content hash for a directory
    warnings: tuple[str, ...] = ()  # for the plan: e.g. remote kustomize resources the revision does not pin
    charts: tuple[Chart, ...] = ()  # the Helm charts rendered (none for plain YAML)
    hooks: tuple[Hook, ...] = ()  # hook objects (any source), kept out of `manifests`
    identity: str = ""
    """Which source this is on any machine (sources/identity.py): recorded in the inventory, compared before a prune."""
    identity_aliases: tuple[str, ...] = ()
    """Older recorded forms of the same identity."""
    texts: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Origin path -> the text read, for files whose lines mean something (not rendered output): an error
    found later (an unknown field) names the line of the field in it."""


@dataclass(frozen=True)
class ChartChange:
    """One chart's version before (what the sync last applied, or compare's base) and after ("" when absent)."""

    name: str
    before: str
    after: str

    def __str__(self) -> str:
        if self.before == self.after:
            return f"{self.name} {self.after} (unchanged)"
        return f"{self.name} {self.before or '(none)'} -> {self.after or '(removed)'}"


@dataclass(frozen=True)
class CommitInfo:
    """A git commit as people recognise it: the daemon's dashboard shows it beside a revision being tried."""

    sha: str
    subject: str
    """The message's first line, cut and with control characters escaped (anyone who pushes writes it)."""
    author: str
    """`Name <email>`, as `git log` shows it."""
    time: float
    """When it was authored, epoch seconds."""


@dataclass(frozen=True)
class ResourceType:
    """What discovery says about one apiVersion/kind."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    has_scale: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version



# Built-in types kubesync reads or writes by name (everything else comes from discovery).
NAMESPACES = ResourceType("", "v1", "Namespace", "namespaces", False)
CONFIGMAPS = ResourceType("", "v1", "ConfigMap", "configmaps", True)
SECRETS = ResourceType("", "v1", "Secret", "secrets", True)
PODS = ResourceType("", "v1", "Pod", "pods", True)
NODES = ResourceType("", "v1", "Node", "nodes", False)
RESOURCE_QUOTAS = ResourceType("", "v1", "ResourceQuota", "resourcequotas", True)
LEASES = ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True)
CRDS = ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)


class ActionType(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    SCALE = "scale"
    REPLACE = "replace"  # delete, wait until gone, create: an update the server refuses (immutable field)
    DELETE = "delete"
    NOOP = "noop"


class Result(enum.StrEnum):
    """What applying one action did (the progress line's word, the objects metric's label)."""

    CREATED = "created"
    PATCHED = "patched"
    SCALED = "scaled"
    REPLACED = "replaced"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


class RunResult(enum.StrEnum):
    """How one daemon run ended (the runs metric's label)."""

    SUCCESS = "success"
    ERROR = "error"
    STANDBY = "standby"  # a follower planned; only the leader applies
    ABORTED = "aborted"  # shutdown or a lost leadership cut the apply short


class SyncState(enum.StrEnum):
    """A sync's state in the daemon (the dashboard shows it as Synced, OutOfSync, Failed or Paused)."""

    STARTING = "starting"
    SYNCED = "synced"
    DRIFTED = "drifted"  # out-of-band changes, reported only (self-heal is off)
    STANDBY = "standby"
    FAILED = "failed"


class PatchType(enum.StrEnum):
    """The Content-Type of a PATCH, as the API names it."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC_MERGE = "application/strategic-merge-patch+json"


class Cascade(enum.StrEnum):
    """How a deletion treats the object's dependents (DeleteOptions.propagationPolicy)."""

    BACKGROUND = "Background"
    FOREGROUND = "Foreground"
    ORPHAN = "Orphan"


class Verdict(str, enum.Enum):
    """What a server dry run of one create or update said (cluster/dryrun.py asks, validate.py judges)."""

    NO_EFFECT = "no-effect"  # an update the server would store as no change
    CHANGES = "changes"  # accepted: the write does something
    FORBIDDEN = "forbidden"  # our credentials may not dry-run it: not validated by the server
    INVALID = "invalid"  # the server would reject the object (422, 400, 404): an error of the plan
    IMMUTABLE = "immutable"  # an update refused because it changes an immutable field: replace it
    FAILED = "failed"  # unreachable, 5xx, a conflict: not validated; the real apply reports it


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    reason: str = ""
    """The server's message (cut), for INVALID, IMMUTABLE, FORBIDDEN and FAILED."""
    fields: tuple[str, ...] = ()
    """INVALID by strict field validation: the unknown or duplicate fields, as the server names them (`spec.replica`)."""
    warnings: tuple[str, ...] = ()
    """The server's Warning headers (unknown fields under fieldValidation=Warn, deprecations)."""


class Risk(str, enum.Enum):
    """Flags a reviewer or a CI gate (--fail-on) cares about."""

    DELETE = "delete"
    NAMESPACE_DELETE = "namespace-delete"
    SCALE_TO_ZERO = "scale-to-zero"
    IMMUTABLE = "immutable"
    RBAC = "rbac"
    IMAGE = "image"
    UNSCHEDULABLE = "unschedulable"
    """A workload whose pods fit no node, or that grows past what the nodes offer (kubesync/capacity.py)."""


@dataclass(frozen=True)
class Action:
    """One step of a plan. `patch` is the RFC 6902 patch against `live` (update), without preconditions."""

    type: ActionType
    ref: ObjectRef
    wave: int = 0
    origin: Origin | None = None
    patch: tuple[dict, ...] = ()
    desired: KubeObject | None = field(default=None, compare=False, hash=False, repr=False)
    live: KubeObject | None = field(default=None, compare=False, hash=False, repr=False)
    uid: str = ""  # precondition: the uid seen when planning ("" for create)
    resource_version: str = ""  # precondition: the resourceVersion seen when planning
    replicas: tuple[int | None, int | None] | None = None  # (live, desired) for scale
    risks: tuple[Risk, ...] = ()
    note: str = ""  # e.g. why an immutable change needs delete and re-create
    sync_wave: int = 0
    """Argo CD's wave (argocd.argoproj.io/sync-wave): orders the plan before `wave`, the kind's step."""


@dataclass(frozen=True)
class Review:
    """Where a plan applies and how, for the people and bots reading it (pull-request comments, CI logs)."""

    context: str = ""
    """The kubeconfig context it was planned with."""
    server: str = ""
    """The API server's URL."""
    cluster_id: str = ""
    """A short id of the cluster (the kube-system namespace's uid), the same for every context of one cluster."""
    apply_with: str = ""
    """The exact command that applies it, or how it will be applied ("the daemon applies it when merged")."""


@dataclass(frozen=True)
class Plan:
    """What a sync would do, in execution order."""

    sync: str
    source: str
    revision: str
    actions: tuple[Action, ...]
    conflicts: tuple[str, ...] = ()  # objects left alone because another tool owns them
    warnings: tuple[str, ...] = ()
    sides: tuple[tuple[str, str], ...] = (("live", ""), ("desired", ""))
    """The diff headers' labels and revisions: `--- live/<object>` against `+++ desired/<object>`,
    or `--- base/<object>\t<rev>` against `+++ head/<object>\t<rev>` for compare."""
    would_prune: tuple[Action, ...] = ()
    """Owned objects gone from the source that this plan does not delete because prune is off, but a sync
    with prune on (a daemon, `apply --prune`) would: shown in every review, flagged `delete`, never applied."""
    charts: tuple[ChartChange, ...] = ()
    """The Helm charts of the source, version before and after."""
    hooks: tuple[Hook, ...] = ()
    """The hooks of the desired state, in run order (phase, wave, kind, name): run around the apply when it
    has changes (or `--force-hooks`), never applied as objects."""

    @property
    def changes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.type is not ActionType.NOOP)

    def counts(self) -> dict[str, int]:
        out = {t.value: 0 for t in ActionType}
        for a in self.actions:
            out[a.type.value] += 1
        return out

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)
