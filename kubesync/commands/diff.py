"""`kubesync diff`: a coloured unified diff per changed object, like `kubectl diff`."""

from __future__ import annotations

from kubesync.commands.common import gate_exit, prepare, use_color, write_out


def run(args) -> int:
    from kubesync.render.text import render_diff

    _, _, planned = prepare(args)
    write_out(render_diff(planned.plan, color=use_color(args)))
    return gate_exit(planned.plan, args)
