"""`.kubesyncignore`: the common gitignore subset, compiled to regexes over source-relative paths."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubesync.errors import SourceError


@dataclass(frozen=True)
class IgnorePattern:
    """One line of .kubesyncignore, compiled to a regex over the path relative to the source root."""

    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    text: str


def _char_class(pattern: str, i: int) -> tuple[str, int] | None:
    """Translate `[...]` starting at i; None when unclosed (then '[' is literal, as in git)."""
    j = i + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    if j >= len(pattern):
        return None
    body = pattern[i + 1 : j]
    negate = body[:1] in ("!", "^")
    body = body[1:] if negate else body
    body = "".join("\\" + c if c in "\\[]&~|^" else c for c in body)
    return ("[^/" + body + "]" if negate else "[" + body + "]"), j + 1


def _glob_to_regex(pattern: str) -> str:
    """gitignore glob -> regex: `*` and `?` stay inside one path segment, `**` spans segments."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i) and (i == 0 or pattern[i - 1] == "/") and (i + 2 == n or pattern[i + 2] == "/"):
            if i + 2 == n:
                out.append(".*")  # trailing `/**`: everything inside
                i += 2
            else:
                out.append("(?:.*/)?")  # `**/`: zero or more folders
                i += 3
        elif c == "*":
            out.append("[^/]*")
            while i < n and pattern[i] == "*":
                i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and (cls := _char_class(pattern, i)):
            out.append(cls[0])
            i = cls[1]
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _parse_pattern(line: str) -> IgnorePattern | None:
    """One .kubesyncignore line -> a pattern (None for blanks and comments)."""
    text = re.sub(r"(?<!\\) +$", "", line.rstrip("\r\n"))
    if not text or text.startswith("#"):
        return None
    negate = text.startswith("!")
    body = text[1:] if negate else text
    if body.startswith(("\\#", "\\!")):
        body = body[1:]
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        return None
    anchored = "/" in body  # a slash anywhere but the end ties the pattern to the root
    body = body.lstrip("/")
    regex = ("" if anchored else "(?:.*/)?") + _glob_to_regex(body)
    return IgnorePattern(re.compile(regex, re.DOTALL), negate, dir_only, text)


class IgnoreRules:
    """Gitignore-style rules; the last matching pattern decides, `!` re-includes.

    As in git, a file inside an ignored folder cannot be re-included: `collect` never enters
    an ignored folder.
    """

    def __init__(self, patterns: Iterable[IgnorePattern] = ()):
        self.patterns = tuple(patterns)

    @classmethod
    def parse(cls, text: str) -> "IgnoreRules":
        return cls(p for p in map(_parse_pattern, text.splitlines()) if p is not None)

    def ignored(self, rel: str, is_dir: bool) -> bool:
        result = False
        for p in self.patterns:
            if (is_dir or not p.dir_only) and p.regex.fullmatch(rel):
                result = not p.negate
        return result

    def __bool__(self) -> bool:
        return bool(self.patterns)


def parse_ignore_file(data: bytes, where: str) -> IgnoreRules:
    """The rules of a .kubesyncignore file's bytes; a file that is not text is refused."""
    try:
        return IgnoreRules.parse(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise SourceError(f"{where}: not valid UTF-8; save it as UTF-8") from e
