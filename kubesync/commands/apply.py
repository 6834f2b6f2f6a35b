"""`kubesync apply`: execute a fresh plan of a source, or exactly a saved plan (refused when stale)."""

from __future__ import annotations

import sys

from kubesync import errors
from kubesync.commands.common import prepare, use_color, write_out
from kubesync.model import ActionType


def confirm_deletions(plan, args) -> None:
    """Deletions need a yes: from --yes, or typed at a terminal."""
    deletions = [a for a in plan.actions if a.type is ActionType.DELETE]
    if not deletions or args.yes or args.dry_run != "none":
        return
    if not sys.stdin.isatty():
        raise errors.UsageError(
            f"the plan deletes {len(deletions)} object(s); pass --yes to confirm when not on a terminal"
        )
    print(f"\nThe plan deletes {len(deletions)} object(s):", file=sys.stderr)
    for a in deletions:
        print(f"  - {a.ref}", file=sys.stderr)
    answer = input("Apply it? Only 'yes' is accepted: ").strip().lower()
    if answer != "yes":
        raise errors.KubesyncError("apply cancelled; nothing was changed")


def progress_printer(color: bool):
    marks = {"created": "+", "patched": "~", "scaled": "^", "deleted": "-", "unchanged": "=", "skipped": "?", "failed": "!"}
    colors = {"created": "32", "patched": "33", "scaled": "36", "deleted": "31", "failed": "1;31"}

    def show(outcome) -> None:
        mark = marks.get(outcome.result, " ")
        word = f"{outcome.result:<9}"
        if color and outcome.result in colors:
            word = f"\033[{colors[outcome.result]}m{word}\033[0m"
        extra = f"  ({outcome.message})" if outcome.message and not outcome.failed else ""
        line = f"{mark} {word} {outcome.action.ref}{extra}"
        if outcome.failed:
            line = f"{mark} {word} {outcome.message}"
        print(line, flush=True)

    return show


def summary(report) -> str:
    counts: dict[str, int] = {}
    for o in report.outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    parts = [f"{counts.get(k, 0)} {k}" for k in ("created", "patched", "scaled", "deleted")]
    extra = [f"{counts[k]} {k}" for k in ("skipped", "failed") if counts.get(k)]
    return "Apply complete: " + ", ".join(parts + extra) + "."


def settings_from(args):
    from kubesync.apply import ApplySettings

    return ApplySettings(dry_run=args.dry_run == "server", propagation_policy=args.cascade.capitalize())


def run(args) -> int:
    if args.plan_file:
        from kubesync.commands.saved_plan import apply_saved

        return apply_saved(args)
    from kubesync import engine
    from kubesync.commands.plan import render

    cluster, discovery, desired, spec, planned = prepare(args)
    plan = planned.plan
    color = use_color(args)
    if args.dry_run == "client":
        write_out(render(plan, "text", color))
        return 0
    if not plan.has_changes:
        write_out(render(plan, "text", color))
        return wait_if_asked(args, cluster, discovery, planned, None)
    write_out(render(plan, "text", color))
    confirm_deletions(plan, args)
    report = engine.apply_planned(cluster, discovery, planned, spec, settings_from(args), progress=progress_printer(color))
    write_out(summary(report) + (" (server dry run: nothing was persisted)" if args.dry_run == "server" else ""))
    engine.raise_for_failures(report)
    return wait_if_asked(args, cluster, discovery, planned, report)


def wait_if_asked(args, cluster, discovery, planned, report) -> int:
    if not args.wait or args.dry_run != "none":
        return 0
    from kubesync.commands.wait import wait_healthy

    return wait_healthy(args, cluster, discovery, planned)
