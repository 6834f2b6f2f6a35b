"""Wiring shared by the subcommands: flags -> source, sync settings, cluster connection, colour."""

from __future__ import annotations

import os
import sys

from kubesync.errors import UsageError
from kubesync.model import Risk


def source_spec(args):
    from kubesync.sources import SourceSpec

    path = getattr(args, "source", None)
    repo = getattr(args, "repo", None)
    if path and repo:
        raise UsageError("give either a PATH or --repo, not both")
    if not path and not repo:
        raise UsageError("no source: give a PATH or --repo URL [--ref REF] [--path SUBDIR]")
    if getattr(args, "ref", None) and not repo:
        raise UsageError("--ref goes with --repo")
    return SourceSpec(path=path, repo=repo, ref=getattr(args, "ref", None), subpath=getattr(args, "subpath", None))


def sync_config(args, name: str):
    """The sync of that name in --config, if one was given."""
    path = getattr(args, "config", None)
    if not path:
        return None
    from kubesync.config import load_config

    config = load_config(path)
    for sync in config.syncs:
        if sync.name == name:
            return sync
    raise UsageError(f"{path}: no sync named {name!r} (it has: {', '.join(s.name for s in config.syncs) or 'none'})")


def pipeline(args):
    """The facade over the cluster named by --kubeconfig/--context."""
    from kubesync.sync import Pipeline

    return Pipeline.connect(getattr(args, "kubeconfig", None), getattr(args, "context", None))


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


def plan_settings(args, name: str, sync_cfg=None):
    """PlanSettings from flags, with the sync's config (kubesync.yaml) as the base."""
    from kubesync.plan import PlanSettings

    prune = bool(getattr(args, "prune", False) or (sync_cfg is not None and sync_cfg.prune))
    max_prune = getattr(args, "max_prune", None)
    if max_prune is None:
        max_prune = sync_cfg.max_prune if sync_cfg is not None else 0.5
    if not 0 <= max_prune <= 1:
        raise UsageError("--max-prune is a share between 0 and 1 (e.g. 0.5)")
    return PlanSettings(
        sync=name,
        prune=prune,
        max_prune=max_prune,
        force=bool(getattr(args, "force", False)),
        adopt=bool(getattr(args, "adopt", False)),
        ignore=tuple(sync_cfg.ignore) if sync_cfg is not None else (),
    )


def request(args, source=None):
    """(SourceSpec, SyncSpec) from the flags, with the sync's kubesync.yaml entry as the base."""
    from kubesync.sync import SyncSpec

    src = source or source_spec(args)
    name = getattr(args, "name", None) or src.default_name()
    sync_cfg = sync_config(args, name)
    namespace = getattr(args, "namespace", None) or (sync_cfg.namespace if sync_cfg is not None else None) or "default"
    return src, SyncSpec(name=name, namespace=namespace, plan=plan_settings(args, name, sync_cfg))


def prepare(args, *, deltas: bool = False):
    """Load the source and plan it against the cluster: (pipeline, spec, planned)."""
    src, spec = request(args)
    pipe = pipeline(args)
    return pipe, spec, pipe.plan_source(src, spec, deltas=deltas)


def gate_exit(plan, args) -> int:
    """--fail-on turns risk flags into exit 1; --exit-code makes changes exit 2."""
    import logging

    fail_on = parse_fail_on(getattr(args, "fail_on", None))
    hits = sorted({r.value for a in plan.changes for r in a.risks if r in fail_on})
    if hits:
        logging.getLogger("kubesync").error("risky changes present (--fail-on): %s", ", ".join(hits))
        print(f"error: the plan has risky changes named by --fail-on: {', '.join(hits)}", file=sys.stderr)
        return 1
    if getattr(args, "exit_code", False) and plan.has_changes:
        return 2
    return 0
