"""`kubesync daemon`: flags and kubesync.yaml -> DaemonSettings -> a running Daemon (exit 0 on SIGTERM)."""

from __future__ import annotations

import logging
import re

from kubesync.errors import UsageError

log = logging.getLogger(__name__)


def _duration(flag: str, value: str) -> float:
    from kubesync.settings import positive_duration

    try:
        return positive_duration(value)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None


def syncs_from(args, config, interval: float):
    """Every sync of --config, or the one named by SOURCE (with --config's entry of its name as the base)."""
    from kubesync.commands.common import flags, require_name, source_spec
    from kubesync.settings import merge

    if args.source or args.repo:
        f = flags(args, source=source_spec(args), interval=interval, strict_namespace=False, unattended=True)
        name = f.name or f.source.default_name()
        entry = config.find(name) if config is not None else None
        require_name(f, entry, may_prune=True)  # a daemon keeps the sync's inventory: never a guessed name
        return (merge(f, entry),)
    if config is None:
        raise UsageError("no source: give a PATH, --repo URL, or --config kubesync.yaml")
    # -n names SOURCE's namespace, never a config entry's; nobody confirms the daemon's plans
    f = flags(args, interval=interval, namespace=None, strict_namespace=False, unattended=True)
    entries = (config.sync(args.name),) if args.name else config.syncs
    return tuple(merge(f, cfg) for cfg in entries)


def _alerts(args, config):
    """--alert-webhook (or its deprecated name --webhook), else kubesync.yaml's webhook."""
    from kubesync.daemon.settings import AlertSettings
    from kubesync.settings import webhook_url

    for old, new in (("webhook_deprecated", "--alert-webhook"), ("webhook_format_deprecated", "--alert-format")):
        if getattr(args, old, None):
            flag = "--" + old.removesuffix("_deprecated").replace("_", "-")
            log.warning("%s is deprecated and will be removed; use %s", flag, new)
    url = args.alert_webhook or args.webhook_deprecated
    fmt = args.alert_format or args.webhook_format_deprecated
    if url:
        try:
            webhook_url(url)
        except ValueError as e:
            raise UsageError(f"--alert-webhook: {e}") from None
        return AlertSettings(url=url, format=fmt or "json")
    if config is not None and config.webhook is not None:
        return AlertSettings(url=config.webhook.url, format=fmt or config.webhook.format)
    return None


MAX_SECRET = 4096


def read_secret(path: str, where: str) -> bytes:
    """A shared secret (the receiver's, the UI token): a small file, surrounding whitespace dropped; never echoed."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SECRET + 1)
    except OSError as e:
        raise UsageError(f"{where}: cannot read {path}: {e.strerror or e}") from None
    secret = data.strip()
    if len(data) > MAX_SECRET:
        raise UsageError(f"{where}: {path} is larger than {MAX_SECRET} bytes; it should hold only the secret")
    if len(secret) < 16:
        raise UsageError(f"{where}: {path} holds {'no secret' if not secret else 'a secret shorter than 16 bytes'}; "
                         "generate one with: openssl rand -hex 32")
    return secret


def _receiver(args, config):
    from kubesync.daemon.settings import ReceiverSettings

    if args.receiver_secret_file:
        return ReceiverSettings(secret=read_secret(args.receiver_secret_file, "--receiver-secret-file"))
    cfg = config.receiver if config is not None else None
    if cfg is not None and cfg.secret_file:
        return ReceiverSettings(secret=read_secret(cfg.secret_file, f"{config.path}: receiver.secretFile"))
    insecure = bool(args.receiver_insecure or (cfg is not None and cfg.insecure))
    if insecure:
        log.warning("the webhook receiver accepts unauthenticated triggers (--receiver-insecure)")
    return ReceiverSettings(insecure=insecure)


def _ui(args):
    from kubesync.daemon.settings import UiSettings
    from kubesync.daemon.web.clients import networks

    token = read_secret(args.ui_token_file, "--ui-token-file") if args.ui_token_file else None
    if args.ui_public:
        log.warning("the dashboard is readable by anyone who reaches --listen (--ui-public)")
    proxies = tuple(getattr(args, "trusted_proxy", None) or ())
    try:
        networks(proxies)
    except ValueError as e:
        raise UsageError(f"--trusted-proxy: {e}") from None
    return UiSettings(token=token, public=bool(args.ui_public), hosts=tuple(getattr(args, "allowed_host", None) or ()),
                      trusted_proxies=proxies, session_ttl=_duration("--session-ttl", getattr(args, "session_ttl", "8h")))


def _lease(args):
    """--leader-elect and the Lease flags; the namespace is the daemon's own unless given."""
    from kubesync.daemon.election.holders import check_pattern, known_holders
    from kubesync.daemon.election.leader import own_namespace
    from kubesync.daemon.settings import LeaseSettings

    duration = _duration("--lease-duration", args.lease_duration)
    given = getattr(args, "lease_max_duration", None)
    bound = _duration("--lease-max-duration", given) if given else 0.0
    if bound and bound < duration:
        raise UsageError(f"--lease-max-duration {given} is shorter than --lease-duration {args.lease_duration}: "
                         "a replica's own Lease would be a conflict")
    try:
        holders = check_pattern(getattr(args, "lease_holders", None) or "")
    except ValueError as e:
        raise UsageError(f"--lease-holders: {e}") from None
    if args.identity and not holders and not known_holders("")(args.identity) and (args.leader_elect or args.shards):
        log.warning("--identity %s: the other replicas' identities are believed only if they match --lease-holders "
                    "(default: kubesync's generated <host>-<pid>-<6 hex>); give one that matches every replica's", args.identity)
    namespace = args.lease_namespace or own_namespace()
    if namespace == "default":
        log.warning("the Leases are in the namespace default, where anyone with the built-in edit role can write them; "
                    "use the daemon's own namespace")
    return LeaseSettings(enabled=args.leader_elect, name=args.lease_name or LeaseSettings.name, namespace=namespace,
                         duration=duration, identity=args.identity or "", max_duration=bound, holders=holders)


MAX_SHARDS = 128


def _shards(args, lease):
    """--shards N: the Lease flags name the shard group instead of the leader Lease; None when off."""
    from kubesync.daemon.settings import ShardSettings

    count = getattr(args, "shards", 0) or 0
    if count == 0:
        return None
    if not 0 < count <= MAX_SHARDS:
        raise UsageError(f"--shards: {count} is not between 0 (off) and {MAX_SHARDS}; a few shards per replica is plenty")
    if args.leader_elect:
        raise UsageError("--shards and --leader-elect exclude each other: sharded replicas all write (each its "
                         "own shards), a leader-elected one writes alone; pick one")
    prefix = args.lease_name or ShardSettings.prefix
    if len(prefix) > 200 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", prefix):
        raise UsageError(f"--lease-name: {prefix!r} cannot prefix Lease names: lower-case letters, digits, '-' and '.', "
                         "starting and ending with a letter or digit, at most 200 characters")
    return ShardSettings(count=count, prefix=prefix, namespace=lease.namespace, duration=lease.duration, identity=lease.identity,
                         max_duration=lease.max_duration, holders=lease.holders)


def settings_from(args):
    from kubesync.apply import ApplySettings
    from kubesync.commands.common import client_settings, overrides
    from kubesync.daemon.settings import DaemonSettings, HttpSettings

    config = None
    if args.config:
        from kubesync.config import load_config

        config = load_config(args.config)
    interval = _duration("--interval", args.interval)
    workers = getattr(args, "workers", 8)
    if not 1 <= workers <= 256:
        raise UsageError(f"--workers: {workers} is not between 1 and 256")
    syncs = syncs_from(args, config, interval)
    lease = _lease(args)
    probe_listen = getattr(args, "probe_listen", "") or ""
    if probe_listen:
        from kubesync.daemon.http import parse_listen

        parse_listen(probe_listen)
    return DaemonSettings(
        syncs=syncs,
        listen=args.listen,
        probe_listen=probe_listen,
        http=HttpSettings(header_timeout=_duration("--header-timeout", args.header_timeout)),
        receiver=_receiver(args, config),
        ui=_ui(args),
        kubeconfig=args.kubeconfig,
        context=args.context,
        client=client_settings(args, daemon=True),
        impersonate=overrides(args),
        lease=lease,
        shards=_shards(args, lease),
        alerts=_alerts(args, config),
        workers=workers,
        apply=ApplySettings(hook_timeout=_duration("--hook-timeout", getattr(args, "hook_timeout", None) or "10m")),
    )


def run(args) -> int:
    from kubesync.daemon.runner import Daemon

    return Daemon(settings_from(args)).run()
