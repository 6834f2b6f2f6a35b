"""One settings model for a sync (`SyncConfig`, read from kubesync.yaml by config.py): defaults, kubesync.yaml
and flags merged once.

    a flag given  >  the sync's kubesync.yaml entry  >  a process-wide flag (daemon --context, --interval)  >  default
    switches (--prune, --self-heal, --allow-empty, --force, --adopt, --adopt-source) only ever turn a setting on

Each check on a value (a duration, a share, a webhook URL) is written here once; the kubesync.yaml
reader adds file:line to its message, the command line the flag's name.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from kubesync.errors import ConfigError
from kubesync.model import INVENTORY_NAMESPACE, ObjectRef

if TYPE_CHECKING:
    from kubesync.sources import SourceSpec

DEFAULT_INTERVAL = 30.0
DEFAULT_MAX_PRUNE = 0.5
WEBHOOK_FORMATS = ("json", "slack")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WEBHOOK_URL = re.compile(r"^https?://[^/\s]+")


def parse_duration(text: str | float | int) -> float:
    """'30s', '5m', '1h30m', '500ms', '2d' or a plain number of seconds -> seconds.

    Raises ValueError (argparse turns it into a usage message when used as `type=`).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", s):
            seconds = float(s)
        elif _DURATION.fullmatch(s):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(s))
        else:
            raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 5m or 1h30m")
    if seconds < 0:
        raise ValueError(f"{text!r} is negative; a duration is 0 or more")
    return seconds


def positive_duration(text: str | float | int) -> float:
    """A duration that must be longer than 0 (an interval, a Lease duration); ValueError otherwise."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("must be more than 0")
    return seconds


def share(value: float) -> float:
    """A share of the owned objects (max-prune): 0 to 1; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{value} is not between 0 and 1 (a share: 0.5 allows deleting half the owned objects)")
    return float(value)


def parse_size(text: str | int) -> int:
    """A size above 0 in any Kubernetes quantity form ('256Mi', '1G', '1.5Gi', '512Ki', '1e9' or a plain
    number of bytes) -> whole bytes; ValueError otherwise."""
    from kubesync.quantity import parse_quantity

    try:
        value = parse_quantity(text if isinstance(text, (int, str)) and not isinstance(text, bool) else None)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise ValueError(f"{text!r} is not a size above 0; use bytes or a quantity such as 256Mi, 1Gi, 1.5Gi or 1G")
    return int(value)


def webhook_url(url: str) -> str:
    """An alert destination: http(s) only. The URL itself is never echoed (it often holds a token)."""
    if not _WEBHOOK_URL.match(url):
        raise ValueError("must be an http:// or https:// URL")
    return url


# --- the model ----------------------------------------------------------------------------------


class Validation(enum.StrEnum):
    """How a plan is checked before anything is applied, and how writes treat unknown fields (--validate,
    kubectl's values). `server`, the name of `strict` before there was `warn`, is read as `strict`."""

    STRICT = "strict"
    """Server dry runs of every create and update, they and the writes with fieldValidation=Strict: an
    unknown or duplicate field is an error of the plan (the default). A server without strict field
    validation (before 1.25) has the fields checked against its schema instead."""
    WARN = "warn"
    """The same dry runs with fieldValidation=Warn: unknown fields are plan warnings, applied without them."""
    NONE = "none"
    """No dry run, no field check, writes with fieldValidation=Ignore: fields the server ignores show as changes."""
    SERVER = "strict"  # the old name, an alias

    @classmethod
    def _missing_(cls, value):
        return cls.STRICT if value == "server" else None


@dataclass(frozen=True)
class IgnoreRule:
    """Differences the diff engine must not act on, for the objects this rule matches."""

    group: str | None = None
    """API group to match ("" is the core group); None matches every group."""
    kind: str | None = None
    """Kind to match, e.g. Deployment; None matches every kind."""
    name: str | None = None
    """Object name to match; None matches every name."""
    namespace: str | None = None
    """Namespace to match; None matches every namespace."""
    paths: tuple[str, ...] = ()
    """JSON pointers (RFC 6901) of fields to leave alone, e.g. /spec/replicas."""
    managers: tuple[str, ...] = ()
    """Field managers (metadata.managedFields) whose fields are left alone, e.g. an HPA's."""

    def matches(self, ref: ObjectRef) -> bool:
        """Whether the rule applies to an object: every field it sets must be equal."""
        wanted = ((self.group, ref.group), (self.kind, ref.kind), (self.name, ref.name), (self.namespace, ref.namespace))
        return all(want is None or want == have for want, have in wanted)


@dataclass(frozen=True)
class WebhookConfig:
    """Where the daemon posts alerts (sync failed, degraded, recovered)."""

    url: str
    """http(s) URL to POST to; may hold a token, so it is never printed."""
    format: str = "json"
    """Body format: `json` (kubesync's own event) or `slack` (an incoming-webhook message)."""


@dataclass(frozen=True)
class ReceiverConfig:
    """Authentication of the daemon's webhook receiver (POST /webhook/<sync>)."""

    secret_file: str | None = None
    """File holding the shared secret (HMAC key, GitLab token or bearer token); relative to kubesync.yaml."""
    insecure: bool = False
    """Accept unauthenticated triggers when no secret file is given."""


@dataclass(frozen=True)
class Decryption:
    """Where a sync's SOPS-encrypted Secrets find their age keys (kubesync.yaml `decryption:`, --decryption-key-file);
    paths and names only: the keys themselves are read when the source is (sources/keys.py)."""

    key_files: tuple[str, ...] = ()
    """age identity files (a file mounted into the daemon's pod, or `age-keygen -o` output)."""
    secret_ref: tuple[str, str] | None = None
    """(namespace, name) of a Secret whose `*.agekey` entries hold age identities, as Flux's `decryption.secretRef`."""


@dataclass(frozen=True)
class SyncConfig:
    """One source kept converged into one cluster."""

    name: str
    """Names the inventory and the owner label; a DNS-1123 label, unique in the file."""
    source: SourceSpec
    """Where manifests come from; relative paths are resolved against the config file's folder."""
    namespace: str = ""
    """Namespace for namespaced objects that name none; empty: the kubeconfig context's, else `default`."""
    context: str | None = None
    """kubeconfig context to use; None for the current context (or in-cluster config)."""
    prune: bool = False
    """Delete owned objects that are gone from the source."""
    self_heal: bool = False
    """Revert out-of-band changes to managed objects as soon as they are seen."""
    interval: float = DEFAULT_INTERVAL
    """Seconds between git polls and full resyncs."""
    max_prune: float = DEFAULT_MAX_PRUNE
    """Largest share (0..1) of the owned objects one run may delete; more is refused as a likely mistake."""
    ignore: tuple[IgnoreRule, ...] = ()
    """Differences to leave alone (fields other controllers own)."""
    allow_empty: bool = False
    """Accept a source with no objects; otherwise an empty source is an error (nothing applied or pruned)."""
    inventory_namespace: str = INVENTORY_NAMESPACE
    """Namespace of the sync's inventory ConfigMap."""
    force: bool = False
    """Allow pruning beyond max_prune (command line only: --force)."""
    adopt: bool = False
    """Take over existing objects no tool manages (command line only: --adopt)."""
    adopt_source: bool = False
    """Take over a sync whose inventory was written from another source, and prune for it (command line only:
    --adopt-source); nothing else."""
    source_identity: str = ""
    """Where the source really comes from (sources/identity.py), filled in once it is loaded; empty: the spec's."""
    source_aliases: tuple[str, ...] = ()
    """Older recorded forms of `source_identity`."""
    selector: tuple = ()
    """Label selector (kubesync.selector.Requirement, all must hold; -l): only matching desired objects are
    planned, only matching owned objects may be pruned."""
    validation: Validation = Validation.STRICT
    """How the plan is checked before anything is applied, and unknown fields in writes (--validate, `validate:`)."""
    strict_namespace: bool = False
    """`namespace` was given on the command line (-n): a namespaced object naming another is an error, as in kubectl."""
    unattended: bool = False
    """Nobody confirms this run's plan (the daemon): replacements not opted in with kubesync.io/replace are left out."""
    decryption: Decryption = Decryption()
    """The age keys of its SOPS-encrypted Secrets: key files and a Secret (see Decryption)."""

    @cached_property
    def planning(self) -> "PlanSettings":
        """What the pure planner needs of these settings (a derived view, never built on its own)."""
        return PlanSettings(sync=self.name, prune=self.prune, max_prune=self.max_prune, force=self.force, adopt=self.adopt,
                            ignore=tuple(self.ignore), selector=tuple(self.selector),
                            source=self.source_identity or self.source.identity(), source_aliases=self.source_aliases,
                            allow_empty=self.allow_empty, adopt_source=self.adopt_source)

    @property
    def resync(self) -> float:
        """Seconds between full resyncs when nothing else triggered one (the poll interval)."""
        return self.interval


@dataclass(frozen=True)
class PlanSettings:
    """What the pure planner (kubesync.plan) needs of a sync: `SyncConfig.planning`."""

    sync: str
    """The sync's name: the owner label's value and the inventory's name."""
    prune: bool = False
    """Plan deletions of owned objects that are gone from the desired state."""
    max_prune: float = DEFAULT_MAX_PRUNE
    """Largest share of the owned objects one run may delete without `force`."""
    force: bool = False
    """Allow pruning beyond max_prune."""
    adopt: bool = False
    """Take over existing objects that no tool manages (no managed-by label)."""
    ignore: tuple = ()
    """Ignore rules (IgnoreRule): fields the diff leaves alone."""
    selector: tuple = ()
    """Label selector requirements (see SyncConfig.selector)."""
    source: str = ""
    """Where this run's desired state comes from (sources/identity.py); a prune is refused when the
    inventory was written from another source, unless `adopt_source`."""
    source_aliases: tuple[str, ...] = ()
    """Older recorded forms of `source` (the same source)."""
    allow_empty: bool = False
    """Allow pruning everything when the desired state is empty."""
    adopt_source: bool = False
    """Prune for a sync whose inventory another source wrote (and record this source from now on)."""
    offline: bool = False
    """`compare`: the live objects are another ref's desired state, not a cluster's."""


@dataclass(frozen=True)
class Config:
    """The whole kubesync.yaml."""

    syncs: tuple[SyncConfig, ...]
    """Every sync, in file order."""
    webhook: WebhookConfig | None = None
    """Alert destination; None for no alerts."""
    receiver: ReceiverConfig = ReceiverConfig()
    """Who may trigger a sync through the daemon's webhook receiver."""
    path: str = field(default="", compare=False)
    """The file it was read from (for messages)."""

    def find(self, name: str) -> SyncConfig | None:
        """The sync called `name`, or None."""
        return next((s for s in self.syncs if s.name == name), None)

    def sync(self, name: str) -> SyncConfig:
        """The sync called `name`; ConfigError naming the known ones otherwise."""
        found = self.find(name)
        if found is not None:
            return found
        known = ", ".join(s.name for s in self.syncs)
        raise ConfigError(f"{self.path or 'kubesync.yaml'}: no sync named {name!r}; known: {known}")


@dataclass(frozen=True)
class Flags:
    """What the command line says about a sync; None or False: not given."""

    name: str | None = None
    source: SourceSpec | None = None
    namespace: str | None = None
    context: str | None = None
    """Process-wide: a kubesync.yaml entry's own context wins."""
    interval: float | None = None
    """Process-wide: a kubesync.yaml entry's own interval wins."""
    max_prune: float | None = None
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False
    force: bool = False
    adopt: bool = False
    adopt_source: bool = False
    selector: tuple | None = None
    """-l, parsed."""
    validation: Validation | None = None
    strict_namespace: bool = False
    """-n was given: see SyncConfig.strict_namespace."""
    unattended: bool = False
    """The daemon: see SyncConfig.unattended."""
    decryption_key_files: tuple[str, ...] = ()
    """--decryption-key-file, added to a kubesync.yaml entry's own key files."""


def merge(flags: Flags, entry: SyncConfig | None = None) -> SyncConfig:
    """The sync's settings: its kubesync.yaml entry (when there is one) under the flags, else defaults."""
    if entry is None:
        if flags.source is None:
            raise ValueError("a sync without a kubesync.yaml entry needs a source")
        entry = SyncConfig(name=flags.name or flags.source.default_name(), source=flags.source,
                           context=flags.context, interval=flags.interval or DEFAULT_INTERVAL)
    return replace(
        entry,
        source=flags.source or entry.source,
        namespace=flags.namespace or entry.namespace or "",  # empty: the context's namespace, else default
        context=entry.context or flags.context,
        max_prune=entry.max_prune if flags.max_prune is None else flags.max_prune,
        prune=entry.prune or flags.prune,
        self_heal=entry.self_heal or flags.self_heal,
        allow_empty=entry.allow_empty or flags.allow_empty,
        force=entry.force or flags.force,
        adopt=entry.adopt or flags.adopt,
        adopt_source=entry.adopt_source or flags.adopt_source,
        selector=entry.selector if flags.selector is None else flags.selector,
        validation=flags.validation or entry.validation,
        strict_namespace=entry.strict_namespace or flags.strict_namespace,
        unattended=entry.unattended or flags.unattended,
        decryption=replace(entry.decryption, key_files=tuple(dict.fromkeys(entry.decryption.key_files + flags.decryption_key_files))),
    )
