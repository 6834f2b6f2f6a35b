"""Wiring shared by the subcommands: flags -> source, sync settings, cluster connection, colour."""

from __future__ import annotations

import os
import sys

from kubesync.errors import UsageError
from kubesync.model import Risk


def source_spec(args):
    from kubesync.commands.sourceflags import helm_flags, jsonnet_flags
    from kubesync.errors import SourceError
    from kubesync.sources import SourceSpec

    path = getattr(args, "source", None)
    filename = getattr(args, "filename", None)
    if path and filename and path != filename:
        raise UsageError(f"give the source once: PATH {path!r} or -f {filename!r}, not both")
    path = path or filename
    repo = getattr(args, "repo", None)
    helm, jsonnet = helm_flags(args), jsonnet_flags(args)
    if helm is not None and helm.remote:
        if path or repo:
            raise UsageError("give either --chart or a PATH/--repo source, not both")
        spec = SourceSpec(helm=helm, jsonnet=jsonnet)
        try:
            spec.check()
        except SourceError as e:
            raise UsageError(str(e)) from None
        return spec
    if path and repo:
        raise UsageError("give either a PATH or --repo, not both")
    if not path and not repo:
        raise UsageError("no source: give a PATH, --repo URL [--ref REF] [--path SUBDIR], or --chart")
    if getattr(args, "ref", None) and not repo:
        raise UsageError("--ref goes with --repo")
    return SourceSpec(path=path, repo=repo, ref=getattr(args, "ref", None), subpath=getattr(args, "subpath", None),
                      helm=helm, jsonnet=jsonnet)


def flags(args, **given):
    """The sync flags of any subcommand (those it lacks count as not given); `given` replaces some."""
    from kubesync.settings import Flags, Validation, share

    def get(key):
        return getattr(args, key, None)

    max_prune = get("max_prune")
    if max_prune is not None:
        try:
            share(max_prune)
        except ValueError as e:
            raise UsageError(f"--max-prune: {e}") from None
    selector = None
    if get("selector"):
        from kubesync.selector import parse

        selector = parse(get("selector"))
    values = dict(name=get("name"), namespace=get("namespace"), context=get("context"), max_prune=max_prune,
                  prune=bool(get("prune")), self_heal=bool(get("self_heal")), allow_empty=bool(get("allow_empty")),
                  force=bool(get("force")), adopt=bool(get("adopt")), adopt_source=bool(get("adopt_source")), selector=selector,
                  validation=Validation(get("validate")) if get("validate") else None,
                  strict_namespace=bool(get("namespace")), decryption_key_files=tuple(get("decryption_key_files") or ()))
    values.update(given)
    return Flags(**values)


def sync_settings(args, source=None, **given):
    """The sync's settings (settings.SyncConfig): its --config entry under the flags, or the flags alone."""
    from kubesync.settings import merge

    f = flags(args, source=source or source_spec(args), **given)
    entry = None
    if getattr(args, "config", None):
        from kubesync.config import load_config

        entry = load_config(args.config).sync(f.name or f.source.default_name())
        if source is None:  # a given source (a saved plan's) already carries the options it was planned with
            f = with_entry_options(args, f, entry)
    require_name(f, entry, f.prune)
    return merge(f, entry)


def with_entry_options(args, f, entry):
    """The flags' source keeps the kubesync.yaml entry's Helm and Jsonnet options; render flags add to them."""
    from dataclasses import replace

    from kubesync.commands.sourceflags import helm_flags, jsonnet_flags

    if f.source is None or f.source.remote_chart:
        return f
    source = replace(f.source, helm=helm_flags(args, entry.source.helm), jsonnet=jsonnet_flags(args, entry.source.jsonnet))
    return replace(f, source=source)


def require_name(f, entry, may_prune: bool) -> None:
    """A run that may prune needs a name given on purpose (--name or a kubesync.yaml entry): the default,
    the folder's name, is shared by two repositories' `manifests/` folders, which would prune each other."""
    if may_prune and not f.name and entry is None:
        raise UsageError(f"a run that may prune (--prune, the daemon) needs the sync's name: pass --name SYNC (or --config "
                         f"with a sync of that name); the default name {f.source.default_name()!r} is every such folder's name")


def pipeline(args):
    """The facade over the cluster named by --kubeconfig/--context."""
    from kubesync.sync import Pipeline

    return Pipeline.connect(getattr(args, "kubeconfig", None), getattr(args, "context", None), client_settings(args), overrides(args))


# The daemon's client-side limit when --kube-api-qps is not given: a thousand syncs starting at once are
# paced. A first sync costs about 8 requests per sync of 5 objects (dry run, creates, inventory): at
# Flux's 50 qps, 1,000 syncs could not converge in under 154 s however idle the server; at 100 they took
# 71 s unpaced on the 2-core bench machine, so 100 paces a thundering herd without being what limits it
# (bench/daemon.py --daemon-args compares). The burst is Flux's. One-shot commands have no limit by default
# (controller-runtime's choice since 0.21, and what the server's API Priority and Fairness is for): their
# writes are already bounded by --concurrency, and a limit would make a 1,000-object first sync no
# faster than kubectl's.
DAEMON_QPS, DAEMON_BURST = 100.0, 300


def client_settings(args, *, daemon: bool = False):
    """--request-timeout, --kube-api-qps and --kube-api-burst into the client's settings."""
    from kubesync.cluster.client import ClientSettings
    from kubesync.settings import parse_duration

    value = getattr(args, "request_timeout", None) or "30s"
    try:
        timeout = parse_duration(value)
    except ValueError as e:
        raise UsageError(f"--request-timeout: {e}") from None
    default = ClientSettings(qps=DAEMON_QPS, burst=DAEMON_BURST) if daemon else ClientSettings()
    return ClientSettings(timeout=timeout, qps=_qps(getattr(args, "kube_api_qps", None), default.qps),
                          burst=_burst(getattr(args, "kube_api_burst", None), default.burst))


def _qps(value, default: float) -> float:
    """--kube-api-qps: any finite number; 0 or less turns the client-side limit off."""
    import math

    text = str(default if value is None else value).strip()
    try:
        qps = float(text)
    except ValueError:
        qps = math.nan
    if not math.isfinite(qps):
        raise UsageError(f"--kube-api-qps: {text[:40]!r} is not a number of requests a second (e.g. 50 or 12.5; 0 for no limit)")
    return qps


def _burst(value, default: int) -> int:
    """--kube-api-burst: a positive whole number."""
    text = str(default if value is None else value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 9 and int(text) >= 1):
        raise UsageError(f"--kube-api-burst: {text[:40]!r} is not a positive whole number of requests (e.g. 300)")
    return int(text)


def overrides(args):
    """--context, --as, --as-group and --as-uid, applied over the kubeconfig like kubectl's flags."""
    from kubesync.cluster.kubeconfig import Overrides

    return Overrides(getattr(args, "context", None), getattr(args, "as_user", None),
                     tuple(getattr(args, "as_groups", None) or ()), getattr(args, "as_uid", None))


def use_color(args, stream=None) -> bool:
    """--color=always|never decide; auto colours a terminal unless NO_COLOR is set (no-color.org)."""
    choice = getattr(args, "color", "auto") or "auto"
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def parse_fail_on(value: str | None) -> set[Risk]:
    if not value:
        return set()
    out = set()
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.add(Risk(item))
        except ValueError:
            raise UsageError(f"--fail-on: unknown risk {item!r}; choose from {', '.join(r.value for r in Risk)}") from None
    return out


def write_out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def prepare(args, *, deltas: bool = False):
    """Load the source and plan it against the cluster: (pipeline, the sync's settings, planned). A review:
    SOPS-encrypted Secrets nobody here can decrypt are left as they are, and the plan says so."""
    config = sync_settings(args)
    pipe = pipeline(args)
    return pipe, config, pipe.plan_source(config, deltas=deltas, sealed_ok=True)


# The flags that shape a plan, recorded in a saved plan: `apply --plan` plans again with exactly them.
PLAN_FLAGS = ("name", "namespace", "selector", "prune", "max_prune", "force", "adopt", "adopt_source", "allow_empty",
              "validate", "config")


def plan_flags(args) -> dict:
    """The plan-shaping flags given (a saved plan's `settings`); kubesync.yaml by its absolute path."""
    out = {k: getattr(args, k, None) for k in PLAN_FLAGS}
    if out["config"]:
        out["config"] = os.path.abspath(out["config"])
    return {k: v for k, v in out.items() if v not in (None, False, "")}


def replayed(args, saved):
    """The sync's settings a saved plan was made with, over this command's other flags (kubeconfig, keys),
    its source pinned at the recorded revision: what `apply --plan` plans again to check the file."""
    import argparse
    from dataclasses import replace

    recorded = {k: None for k in PLAN_FLAGS} | {"prune": False, "force": False, "adopt": False, "adopt_source": False,
                                                 "allow_empty": False} | dict(saved.settings or {})
    ns = argparse.Namespace(**{**vars(args), **recorded, "source": None, "filename": None, "repo": None, "ref": None})
    source = saved.source
    if source.repo:
        source = replace(source, ref=saved.plan.revision)  # the very commit it was planned from
    return sync_settings(ns, source)


def apply_command(args, config, saved: str | None = None) -> str:
    """The exact command that applies what `plan` just showed: the saved plan, or the same source and sync."""
    import shlex

    if saved:
        return f"kubesync apply --plan {shlex.quote(saved)}"
    words = ["kubesync", "apply"]
    if getattr(args, "repo", None):
        words += ["--repo", args.repo] + (["--ref", args.ref] if args.ref else []) + (["--path", args.subpath] if args.subpath else [])
    else:
        words += [args.source or args.filename] + (["--path", args.subpath] if getattr(args, "subpath", None) else [])
    words += ["--name", config.name]
    if getattr(args, "namespace", None):
        words += ["-n", args.namespace]
    for flag, value in (("-l", getattr(args, "selector", None)), ("--config", getattr(args, "config", None)),
                        ("--context", getattr(args, "context", None))):
        if value:
            words += [flag, value]
    words += ["--prune"] if config.prune else []
    return " ".join(shlex.quote(w) for w in words)


def review(pipe, apply_with: str):
    """Where a plan applies (context, server, the cluster's id) and how: for every format of `plan`."""
    from kubesync.model import Review

    identity = pipe.identity()
    return Review(context=pipe.cluster.context or "", server=identity.server, cluster_id=identity.uid, apply_with=apply_with)


def gate_exit(plan, args) -> int:
    """--fail-on turns risk flags into exit 1; --exit-code makes changes exit 2."""
    import logging

    fail_on = parse_fail_on(getattr(args, "fail_on", None))
    # what a prune-on sync would delete counts too: a review that hides a deletion is no gate
    hits = sorted({r.value for a in (*plan.changes, *plan.would_prune) for r in a.risks if r in fail_on})
    if hits:
        logging.getLogger("kubesync").error("risky changes present (--fail-on): %s", ", ".join(hits))
        print(f"error: the plan has risky changes named by --fail-on: {', '.join(hits)}", file=sys.stderr)
        return 1
    if getattr(args, "exit_code", False) and plan.has_changes:
        return 2
    return 0
