"""YAML/JSON text -> plain JSON values with their lines, bounded so hostile input cannot exhaust memory.

A repository is untrusted input. Three bounds hold while parsing, before any later copy could
expand a value (``json.dumps``, ``deepcopy``):

- nodes: a document may expand to at most ``max_nodes`` nodes, counting every YAML alias as the
  whole value it repeats (a 500-byte "billion laughs" file otherwise becomes billions of nodes),
  and aliases may add at most ``max_alias_nodes`` nodes across one load (many small bombs);
- depth: values nest at most ``max_depth`` levels, so no later recursion can overflow the stack;
- a whole source: all its documents together expand to at most ``max_total_nodes`` nodes, derived
  from the process's memory limit (cgroup) so that the largest source accepted fits with room to
  spare (26 MB of plain YAML is 13M nodes and about 570 MB once parsed);
- (sizes of files and of a whole source are bounded by the sources, before reading.)

Problems are strings ``path:line: what`` appended to a list; nothing here raises for bad input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubesync.memory import DEFAULT_MAX_TOTAL_NODES, memory_limit, total_nodes_for
from kubesync.vocab import CachedResolver

DEFAULT_MAX_NODES = 1_000_000
DEFAULT_MAX_DEPTH = 100
@dataclass(frozen=True)
class ParseLimits:
    """Bounds on what one document may expand to (see the module docstring)."""

    max_nodes: int = DEFAULT_MAX_NODES
    """Nodes (maps, lists, scalars) one document may expand to, aliases counted in full."""
    max_alias_nodes: int = DEFAULT_MAX_NODES
    """Nodes YAML aliases may add across one load of a source, all documents together."""
    max_depth: int = DEFAULT_MAX_DEPTH
    """Levels of nesting; Kubernetes objects, CRD schemas included, stay far below 100."""
    max_total_nodes: int = DEFAULT_MAX_TOTAL_NODES
    """Nodes all documents of one source may expand to together (`for_process` derives it from the memory limit)."""

    @classmethod
    def for_process(cls, max_total_nodes: int | None = None) -> "ParseLimits":
        """The limits this process can hold: the whole-source node budget from its memory limit, unless given."""
        return cls(max_total_nodes=max_total_nodes or total_nodes_for(memory_limit()))


class Budget:
    """What aliases and documents have added so far in one load (shared by every document of a source)."""

    def __init__(self, limits: ParseLimits | None = None):
        self.limits = limits or ParseLimits.for_process()
        self.alias_nodes = 0
        self.total_nodes = 0

    def add(self, nodes: int, line: int) -> None:
        """Count a finished document's nodes (it starts at `line`) toward the whole source's budget."""
        self.total_nodes += nodes
        if self.total_nodes > self.limits.max_total_nodes:
            raise LimitExceeded(line, f"the source expands to more than {self.limits.max_total_nodes} nodes in all, more "
                                   "than this process can hold (set maxSourceNodes, or give the daemon more memory)")


class LimitExceeded(Exception):
    """A bound was passed at a 1-based line; the parse of the file stops there.

    An alias shares its anchor's node (and mark), so a bound passed through an alias is raised
    with line 0 and given the line of the key or list that uses the alias on its way out."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


# --- YAML loading with lines, duplicate keys and JSON-only values ----------------------------

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Kubernetes reads YAML as JSON: a date stays a string, and `=` is just a string.
_DROPPED_RESOLVERS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
_YAML = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _YAML + "str", _YAML + "map", _YAML + "seq", _YAML + "merge"
# Tags that have no JSON value; PyYAML would build bytes, sets, dates or tuples from them.
_REFUSED_TAGS = {_YAML + t for t in ("timestamp", "binary", "set", "omap", "pairs")}
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float")}


class _Loader(CachedResolver, _BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's parser and composer (when present) with Kubernetes' view of implicit types."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_RESOLVERS]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    # The composer resolves every scalar's tag (CachedResolver keeps the answers): with no path
    # resolvers a tag depends on the text alone.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None  # no path resolvers

    def ascend_resolver(self) -> None:
        return None


assert not _Loader.yaml_path_resolvers, "the resolve cache assumes no path resolvers"


def _construct_error(problem: str, node: Node) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Builder:
    """Nodes -> plain JSON values, noting duplicate keys; several times faster than PyYAML's constructor.

    PyYAML's generic constructor dominates the cost of a big source and silently keeps the last
    of two equal keys; building from the composed nodes directly fixes both. Aliases share one
    value, as in PyYAML, but count in full against the limits.
    """

    def __init__(self, loader: _Loader, budget: Budget):
        self.loader = loader
        self.budget, self.limits = budget, budget.limits
        self.memo: dict[int, Any] = {}
        self.measured: dict[int, tuple[int, int]] = {}  # aliased node -> (expanded nodes, levels)
        self.building: set[int] = set()
        self.nodes = 0
        self.duplicates: list[tuple[int, str, int]] = []  # (line, key, first line)

    def build(self, node: Node, depth: int = 1) -> Any:
        """The value of ``node``, a collection found ``depth`` levels deep (the document is level 1)."""
        self.nodes += 1
        if isinstance(node, ScalarNode):
            if node.tag == _STR:
                return node.value
            return self.scalar(node)
        key = id(node)
        if key in self.memo:
            if key in self.building:
                raise _construct_error("recursive alias: a node contains itself", node)
            self.alias(node, depth)
            return self.memo[key]
        if depth > self.limits.max_depth:
            raise LimitExceeded(_line(node), f"nested deeper than {self.limits.max_depth} levels")
        self.building.add(key)
        value = self.sequence(node, key, depth) if isinstance(node, SequenceNode) else self.mapping(node, key, depth)
        self.building.discard(key)
        if self.nodes > self.limits.max_nodes:
            raise LimitExceeded(_line(node), f"expands to more than {self.limits.max_nodes} nodes")
        return value

    def alias(self, node: Node, depth: int) -> None:
        """A repeated collection: its whole expansion counts, for this document and for the source."""
        size, height = self.measure(node)
        self.nodes += size - 1
        self.budget.alias_nodes += size
        limits = self.limits
        if depth + height - 1 > limits.max_depth:
            raise LimitExceeded(0, f"nested deeper than {limits.max_depth} levels (through a YAML alias)")
        if self.nodes > limits.max_nodes:
            raise LimitExceeded(0, f"expands to more than {limits.max_nodes} nodes")
        if self.budget.alias_nodes > limits.max_alias_nodes:
            raise LimitExceeded(0, f"YAML aliases in this source expand to more than {limits.max_alias_nodes} nodes in total")

    def measure(self, node: Node) -> tuple[int, int]:
        """(nodes, levels) of a built node's full expansion; computed only for aliased nodes.

        The recursion is bounded: the node was built, so it passed the depth check."""
        if isinstance(node, ScalarNode):
            return 1, 0
        key = id(node)
        if key not in self.measured:
            children = node.value if isinstance(node, SequenceNode) else [n for pair in node.value for n in pair]
            found = [self.measure(child) for child in children]
            self.measured[key] = (1 + sum(n for n, _ in found), 1 + max((h for _, h in found), default=0))
        return self.measured[key]

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag in _SCALAR_TAGS:
            return self.loader.yaml_constructors[node.tag](self.loader, node)
        raise self.unsupported(node)

    def sequence(self, node: SequenceNode, key: int, depth: int) -> list:
        if node.tag != _SEQ:
            raise self.unsupported(node)
        out: list = []
        self.memo[key] = out
        try:
            out.extend(self.build(item, depth + 1) for item in node.value)
        except LimitExceeded as e:
            e.line = e.line or _line(node)
            raise
        return out

    def mapping(self, node: MappingNode, key: int, depth: int) -> dict:
        if node.tag != _MAP:
            raise self.unsupported(node)
        out: dict = {}
        self.memo[key] = out
        lines: dict[Any, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            k = self._key(self.build(key_node, depth + 1), key_node)
            try:
                first = lines.setdefault(k, _line(key_node))
            except TypeError:
                raise _construct_error("found an unhashable key (a list or mapping used as a key)", key_node) from None
            if k in out:
                self.duplicates.append((_line(key_node), str(k), first))
            try:
                out[k] = self.build(value_node, depth + 1)
            except LimitExceeded as e:
                e.line = e.line or _line(key_node)
                raise
        if merges:
            self.merge(out, merges, depth)
        return out

    @staticmethod
    def _key(k: Any, key_node: Node) -> Any:
        """JSON has only string keys. An integer key becomes its decimal string, as kubectl does
        (`9000:` in an ingress-nginx tcp-services ConfigMap); a key YAML reads as a boolean, null or
        float (`on:`, `no:`, `~:`, `1.0:`) is refused, since kubectl would silently store "true"."""
        if isinstance(k, str) or not isinstance(key_node, ScalarNode):
            return k
        if isinstance(k, int) and not isinstance(k, bool):
            return str(k)
        kind = "null" if k is None else type(k).__name__.replace("bool", "a boolean").replace("float", "a number")
        raise _construct_error(
            f"the key {key_node.value!r} is read as {kind} by YAML, not as a string; "
            f"quote it ('{key_node.value}':) to keep it as written",
            key_node,
        )

    def merge(self, out: dict, merges: list[Node], depth: int) -> None:
        """`<<: *base` keys fill in what the mapping does not set; earlier merges win."""
        sources: list[Node] = []
        for m in merges:
            sources += m.value if isinstance(m, SequenceNode) else [m]
        merged: dict = {}
        for src in reversed(sources):
            try:
                value = self.build(src, depth)
            except LimitExceeded as e:
                e.line = e.line or _line(src)
                raise
            if not isinstance(value, dict):
                raise _construct_error("a merge key (<<) needs a mapping or a list of mappings", src)
            merged.update(value)
        merged.update(out)
        out.clear()
        out.update(merged)

    def unsupported(self, node: Node) -> yaml.constructor.ConstructorError:
        if node.tag in _REFUSED_TAGS:
            return _construct_error(
                f"unsupported tag {node.tag.replace(_YAML, '!!')}: "
                "Kubernetes objects hold only maps, lists, strings, numbers, booleans and null",
                node,
            )
        # The tag is not repeated: an unquoted value starting with '!' (a password, say) is read as one.
        return _construct_error("unknown YAML tag (a value starting with '!' must be quoted)", node)


@dataclass(frozen=True)
class Document:
    """One parsed document: the value, its 1-based line, and the duplicate keys seen inside it."""

    value: Any
    line: int
    node: Node | None = None
    duplicates: tuple[tuple[int, str, int], ...] = ()


def yaml_documents(path: str, text: str, problems: list[str], budget: Budget) -> Iterator[Document]:
    """Yield each non-empty YAML document; a syntax error or a passed bound ends the file with one problem."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            builder = _Builder(loader, budget)
            value = builder.build(node)
            budget.add(builder.nodes, _line(node))
            if value is None:
                continue  # empty or comment-only document
            yield Document(value, _line(node), node, tuple(builder.duplicates))
    except LimitExceeded as e:
        problems.append(f"{path}:{e.line}: {e.message}")
    except RecursionError:  # the pure-Python composer (no libyaml) recurses per level
        problems.append(f"{path}: nested deeper than {budget.limits.max_depth} levels")
    except yaml.MarkedYAMLError as e:
        problems.append(describe_yaml_error(path, e))
    except yaml.YAMLError as e:  # unmarked: rare (reader errors are caught before parsing)
        problems.append(f"{path}: invalid YAML: {e}")
    finally:
        loader.dispose()


def describe_yaml_error(path: str, e: yaml.MarkedYAMLError) -> str:
    """`path:line: invalid YAML at column N: what`; never the offending text (it may be a Secret value)."""
    mark = e.problem_mark or e.context_mark
    where = f"{path}:{mark.line + 1}" if mark else path
    column = f" at column {mark.column + 1}" if mark else ""
    what = e.problem or "syntax error"
    if e.context:
        what += f" ({e.context}"
        what += f" at line {e.context_mark.line + 1})" if e.context_mark and e.context_mark is not mark else ")"
    return f"{where}: invalid YAML{column}: {what}"


# --- JSON -------------------------------------------------------------------------------------


def json_documents(path: str, text: str, problems: list[str], budget: Budget) -> Iterator[Document]:
    """Yield each JSON value of a file (one object, or several concatenated like `kubectl` accepts)."""
    decoder = json.JSONDecoder(object_pairs_hook=_JsonObject)
    limits = budget.limits
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return
        line = text.count("\n", 0, pos) + 1
        start = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            problems.append(f"{path}:{e.lineno}: invalid JSON at column {e.colno}: {e.msg}")
            return
        except RecursionError:
            problems.append(f"{path}:{_deep_line(text, start, limits.max_depth)}: nested deeper than {limits.max_depth} levels")
            return
        wrong = _json_bounds(value, limits)
        if wrong == "depth":
            problems.append(f"{path}:{_deep_line(text, start, limits.max_depth)}: nested deeper than {limits.max_depth} levels")
            return
        if wrong == "nodes":
            problems.append(f"{path}:{line}: expands to more than {limits.max_nodes} nodes")
            return
        try:
            budget.add(_json_count(value), line)
        except LimitExceeded as e:
            problems.append(f"{path}:{line}: {e.message}")
            return
        dups = tuple((line, key, line) for key in _json_duplicates(value))
        yield Document(_plain(value), line, None, dups)


def _json_bounds(value: Any, limits: ParseLimits) -> str:
    """'depth' or 'nodes' when a decoded JSON value passes a bound, else ''; iterative (no recursion)."""
    stack = [(value, 1)]
    nodes = 0
    while stack:
        v, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            return "nodes"
        if isinstance(v, (dict, list)):
            if depth > limits.max_depth:
                return "depth"
            stack.extend((child, depth + 1) for child in (v.values() if isinstance(v, dict) else v))
    return ""


def _json_count(value: Any) -> int:
    stack, nodes = [value], 0
    while stack:
        v = stack.pop()
        nodes += 1
        if isinstance(v, (dict, list)):
            stack.extend(v.values() if isinstance(v, dict) else v)
    return nodes


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _deep_line(text: str, start: int, max_depth: int) -> int:
    """The line where a JSON value starting at ``start`` first nests deeper than ``max_depth``."""
    depth = 0
    for m in _JSON_TOKEN.finditer(text, start):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return text.count("\n", 0, m.start()) + 1
        elif token in "]}":
            depth -= 1
            if depth <= 0:
                break
    return text.count("\n", 0, start) + 1


class _JsonObject(dict):
    """A JSON object that remembers keys given more than once (json keeps only the last)."""

    def __init__(self, pairs: list[tuple[str, Any]]):
        super().__init__(pairs)
        self.duplicates: list[str] = []
        if len(self) < len(pairs):
            seen: set[str] = set()
            self.duplicates = [k for k, _ in pairs if k in seen or seen.add(k)]


def _json_duplicates(value: Any) -> Iterator[str]:
    if isinstance(value, _JsonObject):
        yield from value.duplicates
        for v in value.values():
            yield from _json_duplicates(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_duplicates(v)


def _plain(value: Any) -> Any:
    """Turn _JsonObject back into dict, so manifests hold plain JSON values only."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
