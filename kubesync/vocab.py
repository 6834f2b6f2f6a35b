"""The small words every stage uses, written once: metadata accessors, the fields the server owns,
the Secret check, revision and JSON-pointer helpers, and the cached YAML resolver. Pure.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

import yaml

from kubesync.model import KubeObject, ObjectRef, split_api_version

# Metadata the server writes and owns: never compared, never patched.
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# ...of which these change on every write (a status update included): left out when asking
# "did anything a person sets change?" (daemon watches, server dry runs).
VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation")
# ...of which these are noise in a diff shown to people (a terminating object still says so).
HIDDEN_METADATA = tuple(f for f in SERVER_METADATA if not f.startswith("deletion"))


# --- metadata accessors ---------------------------------------------------------------------------


def metadata(obj: KubeObject | None) -> dict:
    """The object's metadata, {} when absent or not a mapping."""
    meta = (obj or {}).get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


def labels(obj: KubeObject | None) -> dict:
    value = metadata(obj).get("labels")
    return value if isinstance(value, dict) else {}


def annotations(obj: KubeObject | None) -> dict:
    value = metadata(obj).get("annotations")
    return value if isinstance(value, dict) else {}


def without_metadata(obj: KubeObject | None, fields: Iterable[str], *, drop_status: bool = False) -> KubeObject:
    """A shallow copy less these metadata fields (and status): what is compared or shown."""
    out = {k: v for k, v in (obj or {}).items() if not (drop_status and k == "status")}
    drop = set(fields)
    out["metadata"] = {k: v for k, v in metadata(obj).items() if k not in drop}
    return out


# --- Secrets --------------------------------------------------------------------------------------


def is_secret(what: KubeObject | ObjectRef | None) -> bool:
    """A core v1 Secret (a ref, or a raw object whose apiVersion has no group)."""
    if isinstance(what, ObjectRef):
        return what.group == "" and what.kind == "Secret"
    if isinstance(what, dict):
        api_version = what.get("apiVersion")
        group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
        return what.get("kind") == "Secret" and group == ""
    return False


# --- revisions ------------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-f]{8,}")


def short_revision(revision: str, width: int = 12, *, keep_prefix: bool = True) -> str:
    """A git sha or a `sha256:` content hash cut to what people compare (7 is `git log --oneline`);
    the `sha256:` prefix is kept unless `keep_prefix` is False; anything else is left as it is."""
    head, sep, tail = str(revision).rpartition(":")
    if not _HEX.fullmatch(tail):
        return revision
    return f"{head}{sep}{tail[:width]}" if keep_prefix else tail[:width]


# --- JSON pointers (RFC 6901) ---------------------------------------------------------------------


def escape(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(path: Iterable[Any]) -> str:
    return "".join("/" + escape(s) for s in path)


def parse_pointer(text: str) -> tuple[str, ...]:
    """`/metadata/annotations/a~1b` -> ('metadata', 'annotations', 'a/b'); '' is the whole object."""
    text = str(text or "")
    if not text:
        return ()
    if not text.startswith("/"):
        text = "/" + text
    return tuple(unescape(t) for t in text[1:].split("/"))


# --- YAML -----------------------------------------------------------------------------------------


class CachedResolver:
    """A PyYAML Loader/Dumper mix-in keeping the implicit-tag answer per scalar text.

    The parser (and the emitter, twice per scalar) asks which type a plain scalar would read back
    as, by regexes; the same texts recur in every object. Each class gets its own cache: a loader
    and a dumper may resolve the same text differently. Only valid without path resolvers."""

    _resolved: dict[tuple[str, Any], str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._resolved = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)  # type: ignore[misc]
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[misc]
            if len(value) <= 256 and len(self._resolved) < 65536:
                self._resolved[key] = tag
        return tag
