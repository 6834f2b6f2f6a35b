"""Typed reading of YAML nodes that records every problem as `file:line: field: message`.

kubesync.yaml is read from nodes rather than plain values so every problem names its file, line and
field, and all problems are reported at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


def _kind_of(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    return {"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean", "null": "null"}.get(tag, tag)


class NodeReader:
    """Typed access to YAML nodes that records problems as `file:line: field: message`."""

    def __init__(self, path: str, loader: yaml.SafeLoader):
        self.path = path
        self.loader = loader
        self._found: list[tuple[int, str]] = []

    def fail(self, node: Node, where: str, message: str) -> None:
        line = node.start_mark.line + 1
        self._found.append((line, f"{self.path}:{line}: {where}: {message}"))

    @property
    def problems(self) -> list[str]:
        """In file order, as a person reads the file top to bottom."""
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]

    def mapping(self, node: Node, where: str, known: Sequence[str]) -> dict[str, Node] | None:
        """A mapping's key -> value node; unknown and repeated keys are problems."""
        if not isinstance(node, MappingNode):
            self.fail(node, where, f"must be a mapping, not {_kind_of(node)}")
            return None
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            if key in out:
                self.fail(key_node, f"{where}.{key}", "is given twice; keep one")
            elif key not in known:
                self.fail(key_node, where, _unknown_key(key, known))
            else:
                out[key] = value
        return out

    def value(self, node: Node, where: str, types: tuple[type, ...], expected: str) -> Any:
        if not isinstance(node, ScalarNode):
            self.fail(node, where, f"must be {expected}, not {_kind_of(node)}")
            return None
        try:
            value = self.loader.construct_object(node)
        except yaml.YAMLError:  # an unknown !tag
            self.fail(node, where, f"must be {expected}, not {node.tag}")
            return None
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            self.fail(node, where, f"must be {expected}, not {_kind_of(node)}")
            return None
        return value

    def string(self, node: Node, where: str) -> str | None:
        value = self.value(node, where, (str,), "a string")
        if value == "":
            self.fail(node, where, "is empty")
            return None
        return value

    def boolean(self, node: Node, where: str) -> bool | None:
        return self.value(node, where, (bool,), "true or false")

    def strings(self, node: Node, where: str) -> tuple[str, ...]:
        if not isinstance(node, SequenceNode):
            self.fail(node, where, f"must be a list of strings, not {_kind_of(node)}")
            return ()
        items = (self.string(item, f"{where}[{i}]") for i, item in enumerate(node.value))
        return tuple(s for s in items if s is not None)

    def items(self, node: Node, where: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, where, f"must be a list, not {_kind_of(node)}")
            return []
        return list(node.value)


def _unknown_key(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower().replace("_", "")]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {hint}known keys: {', '.join(known)}"


class FieldLines:
    """Lines of fields in source files, found only when an error needs one (unknown fields of the plan).

    `texts`: file path -> the text the source read (kubesync.model.DesiredState.texts). Each file is
    composed into nodes once, on the first question about it; a file that no longer composes answers None.
    """

    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def __init__(self, texts):
        self.texts = texts or {}
        self._roots: dict[str, list[Node]] = {}

    def line(self, path: str, doc_line: int, field: Sequence[str | int]) -> int | None:
        """The 1-based line of `field` (keys and list indices) in the object starting at `doc_line` of `path`
        (a document, or an item of a `kind: List`): of its deepest part found; None when none is."""
        node = self._object(path, doc_line)
        found = None
        for part in field if node is not None else ():
            if isinstance(node, MappingNode) and isinstance(part, str):
                pair = next(((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == part), None)
                if pair is None:
                    break
                found, node = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                found = node.start_mark.line + 1
            else:
                break
        return found

    def _object(self, path: str, doc_line: int) -> Node | None:
        if path not in self._roots:
            try:
                self._roots[path] = list(yaml.compose_all(self.texts[path], Loader=self._Loader)) if path in self.texts else []
            except (yaml.YAMLError, RecursionError):
                self._roots[path] = []
        for root in self._roots[path]:
            if root.start_mark.line + 1 == doc_line:
                return root
            items = next((v for k, v in root.value if isinstance(k, ScalarNode) and k.value == "items"), None) \
                if isinstance(root, MappingNode) else None
            for item in items.value if isinstance(items, SequenceNode) else ():
                if item.start_mark.line + 1 == doc_line:
                    return item
        return None
