"""`kubesync completion bash|zsh|fish`: print the shell's completion script."""

from __future__ import annotations

from kubesync.commands.common import write_out


def run(args) -> int:
    from kubesync.cli import build_parser
    from kubesync.completion import SHELLS

    write_out(SHELLS[args.shell](build_parser()))
    return 0
