"""Pure: shell completion scripts (bash, zsh, fish) generated from the argument parser, so a new
flag or subcommand is completed without editing this module."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    takes_value: bool
    choices: tuple[str, ...]
    help: str


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    choices: tuple[str, ...] = ()  # of a positional (completion bash|zsh|fish, cluster up|down|env)


def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    out = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        takes = action.nargs != 0
        out.append(Option(tuple(action.option_strings), takes, tuple(action.choices or ()), action.help or ""))
    return tuple(out)


def describe(parser: argparse.ArgumentParser) -> tuple[tuple[Option, ...], tuple[Command, ...]]:
    """The top-level options and every subcommand with its options."""
    commands = []
    top = _options(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                positional = next((a for a in sub._actions if not a.option_strings and a.choices), None)
                own = _options(sub)
                flags = {f for o in own for f in o.flags}
                merged = own + tuple(o for o in top if not flags & set(o.flags))  # the global flags are listed once
                commands.append(Command(name, helps.get(name, ""), merged, tuple(positional.choices) if positional else ()))
    return top, tuple(commands)


def _words(options) -> str:
    return " ".join(f for o in options for f in o.flags)


def bash(parser: argparse.ArgumentParser, prog: str = "kubesync") -> str:
    top, commands = describe(parser)
    fn = f"_{prog}_complete"
    lines = [
        f"# bash completion for {prog}: source <({prog} completion bash)",
        f"{fn}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i words=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        f'        case "${{COMP_WORDS[i]}}" in {"|".join(c.name for c in commands)}) cmd="${{COMP_WORDS[i]}}"; break ;; esac',
        "    done",
        '    case "$cmd:$prev" in',
    ]
    for c in commands:
        for o in c.options:
            if o.choices:
                pattern = "|".join(f"{c.name}:{f}" for f in o.flags)
                lines.append(f'        {pattern}) COMPREPLY=($(compgen -W "{" ".join(o.choices)}" -- "$cur")); return ;;')
    lines += ["    esac", '    case "$cmd" in']
    lines.append(f'        "") words="{" ".join(c.name for c in commands)} {_words(top)}" ;;')
    for c in commands:
        lines.append(f'        {c.name}) words="{" ".join(c.choices)} {_words(c.options)}" ;;')
    lines += [
        "    esac",
        '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        '    if [[ -n "$cmd" && "$cur" != -* && ${#COMPREPLY[@]} -eq 0 ]]; then COMPREPLY=($(compgen -f -- "$cur")); fi',
        "}",
        f"complete -o default -F {fn} {prog}",
    ]
    return "\n".join(lines) + "\n"


def zsh(parser: argparse.ArgumentParser, prog: str = "kubesync") -> str:
    """zsh runs the bash function through bashcompinit (one script to keep right, not two)."""
    return (f"#compdef {prog}\n# zsh completion for {prog}: source <({prog} completion zsh)\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash(parser, prog))


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(parser: argparse.ArgumentParser, prog: str = "kubesync") -> str:
    top, commands = describe(parser)
    names = " ".join(c.name for c in commands)
    lines = [f"# fish completion for {prog}: {prog} completion fish | source", f"complete -c {prog} -f"]
    for c in commands:
        lines.append(f"complete -c {prog} -n 'not __fish_seen_subcommand_from {names}' -a {c.name} -d {_fish_quote(c.help)}")
        if c.choices:
            lines.append(f"complete -c {prog} -n '__fish_seen_subcommand_from {c.name}' -a {_fish_quote(' '.join(c.choices))}")
        for o in c.options:
            lines.append(_fish_option(prog, f"__fish_seen_subcommand_from {c.name}", o))
    for o in top:
        lines.append(_fish_option(prog, f"not __fish_seen_subcommand_from {names}", o))
    return "\n".join(lines) + "\n"


def _fish_option(prog: str, condition: str, o: Option) -> str:
    parts = [f"complete -c {prog} -n '{condition}'"]
    for flag in o.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if o.takes_value:
        parts.append("-r" + (f" -a {_fish_quote(' '.join(o.choices))}" if o.choices else " -F"))
    parts.append(f"-d {_fish_quote(o.help.split(';')[0][:80])}")
    return " ".join(parts)


SHELLS = {"bash": bash, "zsh": zsh, "fish": fish}
