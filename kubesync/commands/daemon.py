"""`kubesync daemon`: flags and kubesync.yaml -> DaemonSettings -> a running Daemon (exit 0 on SIGTERM)."""

from __future__ import annotations

from kubesync.errors import UsageError


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
        f = flags(args, source=source_spec(args), interval=interval)
        name = f.name or f.source.default_name()
        entry = next((cfg for cfg in config.syncs if cfg.name == name), None) if config is not None else None
        require_name(f, entry, may_prune=True)  # a daemon keeps the sync's inventory: never a guessed name
        return (merge(f, entry),)
    if config is None:
        raise UsageError("no source: give a PATH, --repo URL, or --config kubesync.yaml")
    f = flags(args, interval=interval, namespace=None)  # -n names SOURCE's namespace, never a config entry's
    entries = (config.sync(args.name),) if args.name else config.syncs
    return tuple(merge(f, cfg) for cfg in entries)


def settings_from(args):
    from kubesync.daemon.settings import AlertSettings, DaemonSettings, LeaseSettings

    config = None
    if args.config:
        from kubesync.config import load_config

        config = load_config(args.config)
    interval = _duration("--interval", args.interval)
    syncs = syncs_from(args, config, interval)
    alerts = None
    if args.webhook:
        from kubesync.settings import webhook_url

        try:
            webhook_url(args.webhook)
        except ValueError as e:
            raise UsageError(f"--webhook: {e}") from None
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
