"""`kubesync daemon`: flags and kubesync.yaml -> DaemonSettings -> a running Daemon (exit 0 on SIGTERM)."""

from __future__ import annotations

from kubesync.errors import UsageError


def _duration(flag: str, value: str) -> float:
    from kubesync.config import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None
    if seconds <= 0:
        raise UsageError(f"{flag}: {value!r} must be longer than 0")
    return seconds


def _from_config(cfg, args, interval: float):
    """A config sync; flags switch prune/self-heal/empty-source on for every sync, never off."""
    from dataclasses import replace

    return replace(
        cfg,
        namespace=cfg.namespace or "default",
        context=cfg.context or getattr(args, "context", None),
        prune=bool(cfg.prune or args.prune),
        self_heal=bool(cfg.self_heal or args.self_heal),
        interval=cfg.interval or interval,
        max_prune=cfg.max_prune if args.max_prune is None else args.max_prune,
        allow_empty=bool(cfg.allow_empty or args.allow_empty),
    )


def _from_flags(args, interval: float):
    from kubesync.commands.common import source_spec
    from kubesync.config import SyncConfig

    src = source_spec(args)
    return SyncConfig(
        name=args.name or src.default_name(),
        source=src,
        namespace=args.namespace or "default",
        context=args.context,
        prune=args.prune,
        self_heal=args.self_heal,
        interval=interval,
        max_prune=0.5 if args.max_prune is None else args.max_prune,
        allow_empty=args.allow_empty,
    )


def syncs_from(args, config, interval: float):
    """Every sync of --config, or the one named by SOURCE (with --config's rules for its name)."""
    from dataclasses import replace

    if args.source or args.repo:
        flags = _from_flags(args, interval)
        if config is None:
            return (flags,)
        for cfg in config.syncs:
            if cfg.name == flags.name:
                base = _from_config(cfg, args, interval)
                return (replace(base, source=flags.source, namespace=args.namespace or base.namespace),)
        return (flags,)
    if config is None:
        raise UsageError("no source: give a PATH, --repo URL, or --config kubesync.yaml")
    if args.name:
        return (_from_config(config.sync(args.name), args, interval),)
    return tuple(_from_config(cfg, args, interval) for cfg in config.syncs)


def settings_from(args):
    from kubesync.daemon.settings import AlertSettings, DaemonSettings, LeaseSettings

    config = None
    if args.config:
        from kubesync.config import load_config

        config = load_config(args.config)
    interval = _duration("--interval", args.interval)
    if args.max_prune is not None and not 0 <= args.max_prune <= 1:
        raise UsageError("--max-prune is a share between 0 and 1 (e.g. 0.5)")
    syncs = syncs_from(args, config, interval)
    alerts = None
    if args.webhook:
        if not args.webhook.startswith(("http://", "https://")):
            raise UsageError("--webhook must be an http:// or https:// URL")
        alerts = AlertSettings(url=args.webhook, format=args.webhook_format or "json")
    elif config is not None and config.webhook is not None:
        alerts = AlertSettings(url=config.webhook.url, format=args.webhook_format or config.webhook.format)
    lease = LeaseSettings(
        enabled=args.leader_elect,
        name=args.lease_name,
        namespace=args.lease_namespace,
        duration=_duration("--lease-duration", args.lease_duration),
        identity=args.identity or "",
    )
    return DaemonSettings(
        syncs=syncs,
        listen=args.listen,
        kubeconfig=args.kubeconfig,
        context=args.context,
        lease=lease,
        alerts=alerts,
    )


def run(args) -> int:
    from kubesync.daemon.runner import Daemon

    return Daemon(settings_from(args)).run()
