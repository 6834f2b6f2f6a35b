"""`kubesync compare --repo R --base main --head feature`: review a merge without a cluster."""

from __future__ import annotations

from kubesync.commands.common import gate_exit, use_color, write_out


def run(args) -> int:
    from kubesync.commands.plan import render
    from kubesync.compare import compare_states
    from kubesync.sources import SourceSpec, load

    base_spec = SourceSpec(repo=args.repo, ref=args.base, subpath=args.subpath)
    head_spec = SourceSpec(repo=args.repo, ref=args.head, subpath=args.subpath)
    base, head = load(base_spec), load(head_spec)
    plan = compare_states(base, head, sync=head_spec.default_name(), namespace=args.namespace or "default")
    write_out(render(plan, args.output, use_color(args)))
    return gate_exit(plan, args)
