"""`kubesync apply`: execute a fresh plan of a source, or exactly a saved plan (refused when stale).

A saved plan is stale when an object it touches changed since it was made (uid or resourceVersion
differs, or an object to create now exists) or when its source moved to another revision. Like
Terraform's saved plans: what was reviewed is what runs, or nothing runs; `--replan` plans its
source again instead. The confirmation prompt and the progress lines live here, with the CLI.
"""

from __future__ import annotations

import sys

from kubesync import errors
from kubesync.commands.common import pipeline, replayed, sync_settings, use_color, write_out
from kubesync.model import ActionType, Cascade


def confirm_deletions(plan, args) -> None:
    """Deletions and replacements (delete, then create again) need a yes: from --yes, or typed at a terminal."""
    risky = [a for a in plan.actions if a.type in (ActionType.DELETE, ActionType.REPLACE)]
    if not risky or args.yes or args.dry_run != "none":
        return
    n_replace = sum(1 for a in risky if a.type is ActionType.REPLACE)
    what = ", ".join(part for part in (f"deletes {len(risky) - n_replace} object(s)" if len(risky) > n_replace else "",
                                       f"replaces {n_replace} object(s) (deleted, then created again)" if n_replace else "") if part)
    if not sys.stdin.isatty():
        raise errors.UsageError(f"the plan {what}; pass --yes to confirm when not on a terminal")
    print(f"\nThe plan {what}:", file=sys.stderr)
    for a in risky:
        print(f"  - {a.type.value} {a.ref}", file=sys.stderr)
    answer = input("Apply it? Only 'yes' is accepted: ").strip().lower()
    if answer != "yes":
        raise errors.Cancelled("apply cancelled; nothing was changed")


def progress_printer(color: bool, total: int = 0):
    marks = {"created": "+", "patched": "~", "scaled": "^", "replaced": "±", "deleted": "-", "unchanged": "=", "skipped": "?",
             "failed": "!"}
    colors = {"created": "32", "patched": "33", "scaled": "36", "replaced": "31", "deleted": "31", "failed": "1;31"}

    def show(outcome) -> None:
        if isinstance(outcome, HookStep):  # a hook phase's progress: one line, as it happens
            with bar.lock:
                bar.clear()
                print(f"» {outcome}", flush=True)
            return
        mark = marks.get(outcome.result, " ")
        word = f"{outcome.result:<9}"
        if color and outcome.result in colors:
            word = f"\033[{colors[outcome.result]}m{word}\033[0m"
        extra = f"  ({outcome.message})" if outcome.message and not outcome.failed else ""
        extra += f"  ({outcome.phase} hook)" if outcome.phase and not outcome.failed else ""
        line = f"{mark} {word} {outcome.action.ref}{extra}"
        if outcome.failed:
            line = f"{mark} {word} {outcome.message}"
        with bar.lock:
            bar.clear()
            print(line, flush=True)
            bar.step(f"wave {outcome.action.wave}: {outcome.action.ref}")

    from kubesync.commands.progress import ProgressLine
    from kubesync.hooks import HookStep

    bar = ProgressLine(total)
    show.finish = bar.clear  # type: ignore[attr-defined]
    return show


def summary(report) -> str:
    counts: dict[str, int] = {}
    for o in report.outcomes:
        if o.phase:
            continue  # hooks are told apart
        counts[o.result] = counts.get(o.result, 0) + 1
    parts = [f"{counts.get(k, 0)} {k}" for k in ("created", "patched", "scaled", "deleted")]
    extra = [f"{counts[k]} {k}" for k in ("replaced", "skipped", "failed") if counts.get(k)]
    hooks = sorted({o.action.ref for o in report.outcomes if o.phase})
    extra += [f"{len(hooks)} hook(s) run"] if hooks else []
    return "Apply complete: " + ", ".join(parts + extra) + "."


def settings_from(args):
    from kubesync.apply import ApplySettings
    from kubesync.settings import positive_duration

    concurrency = getattr(args, "concurrency", None) or ApplySettings.concurrency
    if concurrency < 1:
        raise errors.UsageError("--concurrency must be 1 or more")
    try:
        hook_timeout = positive_duration(getattr(args, "hook_timeout", None) or "10m")
    except ValueError as e:
        raise errors.UsageError(f"--hook-timeout: {e}") from None
    return ApplySettings(dry_run=args.dry_run == "server", propagation_policy=Cascade(args.cascade.capitalize()),
                         concurrency=concurrency, hook_timeout=hook_timeout, force_hooks=bool(getattr(args, "force_hooks", False)))


def saved_settings_from(args):
    """A saved plan's writes: --validate, strict when not given (a plan saved with --validate=warn is
    applied with --validate=warn too; its unknown fields were reviewed)."""
    from dataclasses import replace

    from kubesync.settings import Validation
    from kubesync.sync.plan import FIELD_VALIDATION

    return replace(settings_from(args), field_validation=FIELD_VALIDATION[Validation(args.validate or "strict")])


def run(args) -> int:
    from kubesync.planfile import is_saved_plan

    given = args.source or args.filename
    if given and not args.plan_file and not args.repo and is_saved_plan(given):
        args.plan_file, args.source, args.filename = given, None, None  # `apply PLAN.json`, as `terraform apply PLAN`
    if args.plan_file:
        if args.source or args.filename or args.repo:
            raise errors.UsageError("give either a source or --plan PLAN.json, not both")
        return apply_saved(args)
    return apply_fresh(args, pipeline(args), sync_settings(args))


def as_json(args) -> bool:
    return getattr(args, "output", "text") == "json"


def result(args, plan, report) -> None:
    """`-o json`: the result document is the only thing on stdout."""
    import json

    from kubesync.render.result import result_to_dict

    applied = report is not None and args.dry_run != "client"
    write_out(json.dumps(result_to_dict(plan, report, dry_run=args.dry_run, applied=applied), indent=2, sort_keys=True))


def apply_fresh(args, pipe, config) -> int:
    from kubesync.render import render
    from kubesync.render.text import render_brief
    from kubesync.sync import raise_for_failures

    planned = pipe.plan_source(config)
    plan = planned.plan
    color = use_color(args)
    if not as_json(args):  # the whole plan only when asked (or for a client dry run: then it is all there is)
        full = getattr(args, "diff", False) or args.dry_run == "client"
        write_out(render(plan, "text", color=color) if full else render_brief(plan, color))
    forced = getattr(args, "force_hooks", False) and any(h.phases for h in plan.hooks)
    if args.dry_run == "client" or not (plan.has_changes or forced):
        if as_json(args):
            result(args, plan, None)
        return 0 if args.dry_run == "client" else wait_if_asked(args, pipe, planned)
    confirm_deletions(plan, args)
    progress = (lambda outcome: None) if as_json(args) else progress_printer(color, len(plan.changes))
    try:
        report = pipe.apply(planned, settings_from(args), progress=progress)
    finally:
        getattr(progress, "finish", lambda: None)()
    if as_json(args):
        result(args, plan, report)
    else:
        write_out(summary(report) + (" (server dry run: nothing was persisted)" if args.dry_run == "server" else ""))
    raise_for_failures(report)
    return wait_if_asked(args, pipe, planned)


def apply_saved(args) -> int:
    from kubesync import planfile
    from kubesync.sync import raise_for_failures

    saved = planfile.read(args.plan_file, planfile.read_key(args.sign_key) if getattr(args, "sign_key", None) else None)
    pipe = pipeline(args)
    missing = pipe.unverifiable(saved)
    if missing:  # fail closed: a plan that cannot be checked against its source and cluster is never applied
        raise errors.StalePlan(missing + ["(a saved plan is applied only after a fresh plan of its source gives the same actions)"])
    elsewhere = planfile.wrong_cluster(saved, pipe.identity())
    stale = [elsewhere] if elsewhere else pipe.stale(saved) or pipe.forged(saved, replayed(args, saved))
    if elsewhere and not args.replan:
        raise errors.KubesyncError(elsewhere)
    if stale:
        if not args.replan:
            raise errors.StalePlan(stale)
        if saved.source is None:
            raise errors.UsageError("--replan needs the plan's source, but the saved plan does not name one")
        if not as_json(args):
            write_out("The saved plan is stale; planning again from its source.")
        return apply_fresh(args, pipe, sync_settings(args, saved.source, name=saved.plan.sync, namespace=saved.namespace or None))
    saved = reopen_encrypted(args, saved)
    confirm_deletions(saved.plan, args)
    progress = (lambda outcome: None) if as_json(args) else progress_printer(use_color(args), len(saved.plan.changes))
    try:
        report = pipe.apply_saved(saved, saved_settings_from(args), progress=progress)
    finally:
        getattr(progress, "finish", lambda: None)()
    if as_json(args):
        result(args, saved.plan, report)
    else:
        write_out(summary(report))
    raise_for_failures(report)
    return 0


def reopen_encrypted(args, saved):
    """A saved plan keeps markers for values decrypted from SOPS-encrypted files: decrypt them again (or refuse)."""
    from kubesync.sources import keys as age
    from kubesync.sync import reopen_saved

    return reopen_saved(saved, age.local(tuple(getattr(args, "decryption_key_files", None) or ())) if saved.reopen else None)


def wait_if_asked(args, pipe, planned) -> int:
    from kubesync.commands.progress import ProgressLine
    from kubesync.settings import parse_duration

    if not args.wait or args.dry_run != "none":
        return 0
    if as_json(args):  # the result is the only thing on stdout: wait quietly
        pipe.wait(planned, parse_duration(args.timeout), label=args.timeout)
        return 0

    bar = ProgressLine(len(planned.resolved))

    def show(waiting) -> None:
        bar.clear()
        print(f"Waiting for {len(waiting)} object(s):", flush=True)
        for ref, h in waiting:
            print(f"  {ref}: {h}", flush=True)
        bar.done = bar.total - len(waiting)
        bar.show(f"healthy; waiting for {waiting[0][0]}")

    try:
        healthy = pipe.wait(planned, parse_duration(args.timeout), label=args.timeout, on_waiting=show)
    finally:
        bar.clear()
    print(f"All {healthy} object(s) are Healthy.", flush=True)
    return 0
