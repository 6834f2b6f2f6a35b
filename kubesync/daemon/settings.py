"""The daemon's settings: frozen dataclasses the CLI and kubesync.yaml fill in, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubesync.apply import ApplySettings
from kubesync.cluster.client import ClientSettings
from kubesync.cluster.kubeconfig import Overrides
from kubesync.config import SyncConfig


class LeaseTiming:
    """Renew deadline and retry period derived from `duration` in client-go's proportions (shared by every Lease)."""

    duration: float

    @property
    def renew_deadline(self) -> float:
        """A holder that could not renew for this long stops writing (before anyone may take over)."""
        return self.duration * 2 / 3

    @property
    def retry_period(self) -> float:
        """Seconds between renewals (holder) or attempts to acquire (others)."""
        return max(0.2, self.duration / 8)

    max_duration: float

    @property
    def duration_bound(self) -> float:
        """The longest leaseDurationSeconds believed: a Lease claiming more is a conflict, and expires this
        long after its last change (every replica's own duration is within it: see election/holders.py)."""
        return self.max_duration or max(60.0, 4 * self.duration)


@dataclass(frozen=True)
class LeaseSettings(LeaseTiming):
    """Leader election among replicas through a coordination.k8s.io/v1 Lease."""

    enabled: bool = False
    """When False this process is always the leader (a single replica)."""

    name: str = "kubesync-leader"
    """Name of the Lease object."""

    namespace: str = "kubesync-system"
    """Namespace of the Lease object (the CLI's default: the daemon's own, see election.leader.own_namespace)."""

    duration: float = 15.0
    """Seconds a follower waits after the last observed renewal before taking over."""

    identity: str = ""
    """This process's holderIdentity; empty means hostname + pid + random."""

    max_duration: float = 0.0
    """--lease-max-duration: the longest leaseDurationSeconds believed; 0: 4 x duration, at least 60 s."""

    holders: str = ""
    """--lease-holders: a regular expression of the replica identities believed; '' for kubesync's own form."""


@dataclass(frozen=True)
class ShardSettings(LeaseTiming):
    """Replicas split the syncs: one Lease per shard, one member Lease per replica (daemon/election/shards.py)."""

    count: int
    """Number of shards S; a sync belongs to shard sha256(name) % S."""

    prefix: str = "kubesync-shard"
    """Shard Leases are <prefix>-0 .. <prefix>-(S-1); member Leases <prefix>-member-<hash of identity>."""

    namespace: str = "kubesync-system"
    """Namespace of the Leases."""

    duration: float = 15.0
    """Seconds after the last observed renewal before a dead replica's shards (and membership) expire."""

    identity: str = ""
    """This process's holderIdentity; empty means hostname + pid + random."""

    max_duration: float = 0.0
    """--lease-max-duration: the longest leaseDurationSeconds believed; 0: 4 x duration, at least 60 s."""

    holders: str = ""
    """--lease-holders: a regular expression of the replica identities believed; '' for kubesync's own form."""


@dataclass(frozen=True)
class AlertSettings:
    """Where and how alerts are posted."""

    url: str
    """http(s) URL the alerts are POSTed to; may carry a token, so it is never logged."""

    format: str = "json"
    """`json` (kubesync's own event object) or `slack` (`{"text": ...}`)."""

    retry_backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)
    """Sleeps between attempts to deliver one alert; its length is the retry count."""

    timeout: float = 10.0
    """Seconds for one POST."""


@dataclass(frozen=True)
class HttpSettings:
    """Limits of the HTTP server: where attacks on a listening daemon land."""

    header_timeout: float = 10.0
    """Seconds a connection may take to send a request's headers, counted from its first byte."""

    body_timeout: float = 10.0
    """Seconds a request may take to send its body."""

    keep_alive: float = 5.0
    """Seconds an idle keep-alive connection is kept open."""

    max_body: int = 1 << 20
    """Largest request body in bytes (webhook payloads); more is refused with 413."""

    max_header: int = 16 << 10
    """Largest request line plus headers in bytes; more is refused with 400."""

    max_connections: int = 1024
    """Open connections on the listener; over it the oldest idle one is dropped, or the new one refused
    when none is idle (lowered to what the process's file-descriptor limit leaves room for)."""

    max_client_connections: int = 64
    """Open connections from one client address (an IPv6 /64), with the same rule."""

    max_body_total: int = 8 << 20
    """Bytes of request bodies read at once, all requests together; a body that does not fit gets 503."""

    max_form: int = 4 << 10
    """Largest body of the dashboard's forms (login, buttons); more is refused with 413."""

    probe_connections: int = 32
    """Open connections on the probe listener (--probe-listen), with the same eviction rule."""


@dataclass(frozen=True)
class ReceiverSettings:
    """Who may trigger a run through POST /webhook/<sync>, and how often."""

    secret: bytes | None = field(default=None, repr=False)
    """GitHub's HMAC key, GitLab's token or a bearer token (one shared secret); None: the receiver is off."""

    insecure: bool = False
    """Accept unauthenticated triggers when no secret is set (--receiver-insecure)."""

    quiet: float = 1.0
    """A burst of POSTs for one sync becomes one trigger once no POST came for this many seconds..."""

    max_delay: float = 10.0
    """...or this many seconds after the burst's first POST, whichever comes first."""


@dataclass(frozen=True)
class UiSettings:
    """Who may read the dashboard and press its buttons."""

    token: bytes | None = field(default=None, repr=False)
    """--ui-token-file: a bearer token, or typed into the login form (a cookie then); None: no actions."""

    public: bool = False
    """Read without a token on a non-loopback address (--ui-public); loopback reading is always open."""

    hosts: tuple[str, ...] = ()
    """Names the dashboard, API and /metrics answer to beside the listen address, IP literals and localhost
    (--allowed-host): any other Host header is refused (DNS rebinding)."""

    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (--trusted-proxy)."""

    session_ttl: float = 8 * 3600.0
    """Seconds a login session lasts (then the token is asked again); logout ends it at once."""


@dataclass(frozen=True)
class DaemonSettings:
    """Everything one `kubesync daemon` process does."""

    syncs: tuple[SyncConfig, ...]
    """The syncs to keep converged: keys of one work queue run by `workers` threads."""

    listen: str = "127.0.0.1:9090"
    """HOST:PORT of /healthz, /readyz, /metrics and POST /webhook/<sync>."""

    probe_listen: str = ""
    """HOST:PORT serving only /healthz and /readyz, in a thread of its own (the kubelet's probes); '' for none."""

    http: HttpSettings = field(default_factory=HttpSettings)
    """Timeouts and size limits of the HTTP server."""

    receiver: ReceiverSettings = field(default_factory=ReceiverSettings)
    """Authentication and rate limit of the webhook receiver."""

    ui: UiSettings = field(default_factory=UiSettings)
    """Access to the dashboard and its API."""

    kubeconfig: str | None = None
    """kubeconfig file; None for $KUBECONFIG, ~/.kube/config, then in-cluster configuration."""

    context: str | None = None
    """Default kubeconfig context (also the cluster holding the Lease)."""

    client: ClientSettings = field(default_factory=ClientSettings)
    """Request timeout and retry budget of the daemon's API connections (--request-timeout)."""

    impersonate: Overrides | None = None
    """--as / --as-group / --as-uid for every connection."""

    lease: LeaseSettings = field(default_factory=LeaseSettings)
    """Leader election."""

    shards: ShardSettings | None = None
    """Sharding of the syncs across replicas (--shards N); None: off (mutually exclusive with leader election)."""

    alerts: AlertSettings | None = None
    """Alert destination; None sends none."""

    apply: ApplySettings = field(default_factory=ApplySettings)
    """How each run's plan is applied."""

    debounce: float = 0.5
    """Quiet seconds after the last file change before a directory source is re-read."""

    settle: float = 0.2
    """Seconds a sync waits after a trigger to gather the ones that follow it into one run..."""

    max_delay: float = 10.0
    """...but a burst of triggers (or of file changes) delays its run by this much at most."""

    min_interval: float = 1.0
    """Seconds between the starts of two runs of one sync (its own writes wake it through the watch)."""

    workers: int = 8
    """Syncs run at the same time (--workers): the queue's threads, however many syncs there are."""

    retry_backoff: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    """Seconds before retrying a failed run (the last repeats); a new trigger retries at once."""

    watch_timeout: float = 60.0
    """Seconds one cluster watch request stays open before it is renewed."""

    shutdown_timeout: float = 30.0
    """Seconds to wait for running syncs to finish their write wave on SIGTERM."""
