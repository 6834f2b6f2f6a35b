"""`kubesync compare --repo R --base main --head feature`: review a merge without a cluster."""

from __future__ import annotations

from kubesync.commands.common import gate_exit, use_color, write_out


def run(args) -> int:
    from kubesync.render import render
    from kubesync.sync import compare_refs

    plan = compare_refs(args.repo, args.base, args.head, args.subpath, args.namespace or "default")
    write_out(render(plan, args.output, color=use_color(args)))
    return gate_exit(plan, args)
