"""`kubesync options`: the global flags every command accepts, listed once (as `kubectl options`)."""

from __future__ import annotations

from kubesync.commands.common import write_out


def run(args) -> int:
    from kubesync.cli import global_flags_help

    write_out(global_flags_help())
    return 0
