"""Where the programs kubesync runs beside Python are: helm, kustomize, sops, kwok, an OCI registry, and
age-keygen (the age keys SOPS files are encrypted to: the tests make theirs with it).

The machines kubesync is developed and tested on reach no download site, and a prebuilt binary of
unknown origin has no place in a sync engine, so each tool is built pinned from the Go module proxy
by a recipe shipped in the package (`kubesync/recipes/build-<tool>`), into
`<cache>/tools/<tool>-<version>/bin/<tool>` beside a RECIPE stamp. `find(tool)` answers, in order:

1. the program an environment variable names (`KUBESYNC_HELM`, `KUBESYNC_KUSTOMIZE`, `KUBESYNC_SOPS`,
   `KUBESYNC_KWOK`, `KUBESYNC_REGISTRY`): a person's own build, or the copy baked into an image;
2. the cached binary, when its stamp equals the packaged recipe's (an install made by an older
   recipe counts as missing, so bumping a recipe rebuilds it);
3. else one ToolMissing naming the tool, its version and the command that builds it.

The version and stamp are read from the recipe itself (its `VERSION=` and `RECIPE=` lines), so the
script stays the one place a pin is written. Nothing here runs a tool: each feature runs its own
subprocess, with its own timeout and output bounds.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubesync.errors import ToolMissing, printable

TOOLS = ("kwok", "helm", "registry", "kustomize", "sops", "age-keygen")
RECIPES = Path(__file__).resolve().parent / "recipes"

# A top-level shell assignment the recipes use: NAME=word or NAME="text with $VARIABLES".
_ASSIGNMENT = re.compile(r'^([A-Z_][A-Z0-9_]*)=("[^"\\`]*"|[^\s"\'`\\()$]*)\s*$')
_VARIABLE = re.compile(r"\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))")


@dataclass(frozen=True)
class Pin:
    """What a packaged recipe builds: the tool, its version and the stamp an install of it carries."""

    tool: str
    version: str
    stamp: str


def cache_root() -> Path:
    """$KUBESYNC_CACHE_DIR, else $XDG_CACHE_HOME/kubesync, else ~/.cache/kubesync (as the recipes compute it)."""
    base = os.environ.get("KUBESYNC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubesync"
    )
    return Path(base)


def tools_root() -> Path:
    """The folder of `<tool>-<version>/` installs; KUBESYNC_TOOLS_ROOT pins it (tests set it before moving HOME)."""
    return Path(os.environ.get("KUBESYNC_TOOLS_ROOT") or cache_root() / "tools")


def recipe_path(name: str) -> Path:
    """The packaged script `build-<name>` (a tool, or `k8s-1.37` / `k8s-1.20` for a control plane)."""
    return RECIPES / f"build-{name}"


def shell_assignments(path: Path) -> dict[str, str]:
    """The top-level `NAME=value` lines of a recipe, each value expanded with the ones before it.

    Only the plain forms the recipes use are read (a bare word, or double quotes around text and
    `$NAME`); the unit tests check the result against the script's own `--stamp` output.
    """
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _ASSIGNMENT.match(line)
        if not m:
            continue
        raw = m.group(2)
        if raw.startswith('"'):
            raw = _VARIABLE.sub(lambda v: values.get(v.group(1) or v.group(2), ""), raw[1:-1])
        values[m.group(1)] = raw
    return values


@functools.lru_cache(maxsize=None)
def pin(tool: str) -> Pin:
    """The version and stamp the packaged recipe of `tool` builds (recipes ship with the package: read once)."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}; kubesync builds {', '.join(TOOLS)}")
    values = shell_assignments(recipe_path(tool))
    return Pin(tool, values["VERSION"], values["RECIPE"])


@functools.lru_cache(maxsize=None)
def go_minimum() -> str:
    """The oldest Go the recipes accept (lib.sh's GO_MIN), for error messages."""
    return shell_assignments(RECIPES / "lib.sh")["GO_MIN"]


def binary_path(tool: str) -> Path:
    """Where the packaged recipe installs `tool` (whether or not it is there)."""
    return tools_root() / f"{tool}-{pin(tool).version}" / "bin" / tool


def env_var(tool: str) -> str:
    """The environment variable that overrides `tool`: KUBESYNC_HELM, KUBESYNC_KWOK, ..."""
    return "KUBESYNC_" + tool.upper().replace("-", "_")


def build_command(tools: list[str] | tuple[str, ...]) -> str:
    """The command a person runs to build `tools`."""
    return f"kubesync cluster build --tools {','.join(tools)}"


def is_built(tool: str) -> bool:
    """The cached binary is there and was made by the packaged recipe."""
    path = binary_path(tool)
    return os.access(path, os.X_OK) and _stamp(path) == pin(tool).stamp


def find(tool: str) -> Path:
    """The program to run for `tool`: the env override, else the cached pinned build, else ToolMissing."""
    p = pin(tool)
    var = env_var(tool)
    given = os.environ.get(var)
    if given:
        found = shutil.which(os.path.expanduser(given))
        if not found:
            raise ToolMissing(
                f"{var}={printable(given)} is not an executable program; point it at a {tool} binary, or unset it "
                f"to use the pinned {tool} {p.version} (`{build_command([tool])}` builds it)",
                tool=tool, version=p.version, command=build_command([tool]), override=var,
            )
        return Path(found)
    path = binary_path(tool)
    if is_built(tool):
        return path
    state = "was built by an older recipe" if os.access(path, os.X_OK) else "is not built"
    raise ToolMissing(
        f"{tool} {p.version} {state} (looked for {path}); build it with `{build_command([tool])}` "
        f"(needs Go >= {go_minimum()} and the Go module proxy), or set {var} to a {tool} program",
        tool=tool, version=p.version, command=build_command([tool]),
    )


def _stamp(binary: Path) -> str | None:
    try:
        return (binary.parent / "RECIPE").read_text(encoding="utf-8").rstrip("\n")
    except OSError:
        return None
