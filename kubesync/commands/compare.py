"""`kubesync compare --repo R --base main --head feature`: review a merge without a cluster."""

from __future__ import annotations

from kubesync.commands.common import gate_exit, use_color, write_out


def run(args) -> int:
    from kubesync.compare import compare_states
    from kubesync.render import render
    from kubesync.sources import SourceSpec, load

    base_spec = SourceSpec(repo=args.repo, ref=args.base, subpath=args.subpath)
    head_spec = SourceSpec(repo=args.repo, ref=args.head, subpath=args.subpath)
    base = load(base_spec)
    head = load(head_spec, fetch=False)  # one fetch serves both refs
    plan = compare_states(base, head, sync=head_spec.default_name(), namespace=args.namespace or "default")
    write_out(render(plan, args.output, color=use_color(args)))
    return gate_exit(plan, args)
