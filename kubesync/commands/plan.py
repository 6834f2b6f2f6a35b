"""`kubesync plan`: what a sync would do, in text, JSON or Markdown; optionally saved for `apply --plan`."""

from __future__ import annotations

import sys

from kubesync.commands.common import apply_command, gate_exit, plan_flags, prepare, review, use_color, write_out


def run(args) -> int:
    from kubesync import planfile
    from kubesync.render import render

    pipe, config, planned = prepare(args, deltas=True)
    where = review(pipe, apply_command(args, config, saved=args.out))
    write_out(render(planned.plan, args.output, color=use_color(args), deltas=planned.deltas, review=where,
                     capacity=planned.capacity))
    if args.out:
        key = planfile.read_key(args.sign_key) if getattr(args, "sign_key", None) else None
        capabilities = pipe.discovery.capabilities() if planned.plan.charts else None  # for compare --capabilities-from
        saved = planfile.SavedPlan(planned.plan, config.source, config.namespace, pipe.identity(), settings=plan_flags(args),
                                   capabilities=capabilities)  # the source with its Helm/Jsonnet options, as planned
        planfile.write(args.out, saved, sign_key=key)
        # on stderr: stdout may be the JSON or Markdown a script reads
        print(f"Saved the plan to {args.out}; apply exactly it with: {apply_command(args, config, saved=args.out)}", file=sys.stderr)
    return gate_exit(planned.plan, args)
