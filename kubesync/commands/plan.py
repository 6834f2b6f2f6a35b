"""`kubesync plan`: what a sync would do, in text, JSON or Markdown; optionally saved for `apply --plan`."""

from __future__ import annotations

import sys

from kubesync.commands.common import apply_command, gate_exit, prepare, review, source_spec, use_color, write_out


def run(args) -> int:
    from kubesync import planfile
    from kubesync.render import render

    pipe, config, planned = prepare(args, deltas=True)
    where = review(pipe, apply_command(args, config, saved=args.out))
    write_out(render(planned.plan, args.output, color=use_color(args), deltas=planned.deltas, review=where))
    if args.out:
        planfile.write(args.out, planfile.SavedPlan(planned.plan, source_spec(args), config.namespace, pipe.identity()))
        # on stderr: stdout may be the JSON or Markdown a script reads
        print(f"Saved the plan to {args.out}; apply exactly it with: {apply_command(args, config, saved=args.out)}", file=sys.stderr)
    return gate_exit(planned.plan, args)
