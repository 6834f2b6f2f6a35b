"""`kubesync plan`: what a sync would do, in text, JSON or Markdown; optionally saved for `apply --plan`."""

from __future__ import annotations

from kubesync.commands.common import gate_exit, prepare, source_spec, use_color, write_out


def run(args) -> int:
    from kubesync import planfile
    from kubesync.render import render

    pipe, config, planned = prepare(args, deltas=True)
    write_out(render(planned.plan, args.output, color=use_color(args), deltas=planned.deltas))
    if args.out:
        planfile.write(args.out, planfile.SavedPlan(planned.plan, source_spec(args), config.namespace, pipe.identity()))
    return gate_exit(planned.plan, args)
