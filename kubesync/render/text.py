"""Plans and diffs for a terminal: a summary, a table of actions, unified YAML diffs like `kubectl diff`.

Pure: a Plan in, a string out. Every object shown passes through `mask` first.
"""

from __future__ import annotations

import difflib
import io
import json
from typing import Any, Iterable

import yaml

from kubesync.capacity import Capacity, capacity_summary, share_cell, verdict
from kubesync.hooks import plan_lines as hook_lines
from kubesync.hooks import plan_title as hooks_title
from kubesync.ordering import wave_label
from kubesync.deltas import RESOURCES, Deltas, NamespaceDelta, action_states, format_amount
from kubesync.model import LAST_APPLIED_ANNOTATION, Action, ActionType, KubeObject, ObjectRef, Plan, Review, json_copy
from kubesync.render.mask import mask_pair, mask_patch, plan_secret_values
from kubesync.secrets import redact
from kubesync.vocab import HIDDEN_METADATA, CachedResolver

# Fields the server owns: shown in neither side of a diff.
DROP_METADATA = HIDDEN_METADATA
DROP_TOP = ("status",)

RESET, BOLD, RED, GREEN, YELLOW, CYAN = "\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m"
ACTION_COLOR = {
    ActionType.CREATE: GREEN,
    ActionType.UPDATE: YELLOW,
    ActionType.SCALE: CYAN,
    ActionType.REPLACE: RED,
    ActionType.DELETE: RED,
    ActionType.NOOP: "",
}
SUMMARY_ORDER = (ActionType.CREATE, ActionType.UPDATE, ActionType.SCALE, ActionType.DELETE)


def paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color and code and text else text


# ---------------------------------------------------------------- objects as YAML


class _Dumper(CachedResolver, getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block style for multi-line strings (readable ConfigMap diffs), no anchors, tuples as lists.

    libyaml's emitter when present: the pure-Python one took most of a 1000-object plan's time.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True



def _represent_str(dumper: Any, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(tuple, lambda d, data: d.represent_list(list(data)))


def for_display(obj: KubeObject | None) -> KubeObject | None:
    """A copy without the fields the server owns (managedFields, resourceVersion, uid, ..., status)."""
    if obj is None:
        return None
    out = json_copy(obj)  # copy.deepcopy cost a 1000-object plan more than its YAML
    for key in DROP_TOP:
        out.pop(key, None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in DROP_METADATA:
            meta.pop(key, None)
        # kubesync's own bookkeeping (the set of fields it applied) is noise to a reviewer.
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
            annotations = {k: v for k, v in annotations.items() if k != LAST_APPLIED_ANNOTATION}
            if annotations:
                meta["annotations"] = annotations
            else:
                meta.pop("annotations")
    return out


_TAG = "tag:yaml.org,2002:"


def _node(data: Any, dumper: Any) -> yaml.Node:
    """The node _Dumper's representers would build (sorted keys, block style, `|` for multi-line
    strings), without their per-value dispatch: with the C emitter, that dispatch was most of the
    time of a 1000-object plan's diffs. Types other than JSON's go through the representers."""
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_TAG + "str", data, style="|" if "\n" in data else None)
    if kind is dict:
        items = list(data.items())
        try:
            items = sorted(items)
        except TypeError:
            pass  # keys of mixed types stay in their order, as with the representers
        return yaml.MappingNode(_TAG + "map", [(_node(k, dumper), _node(v, dumper)) for k, v in items], flow_style=False)
    if kind is list or kind is tuple:
        return yaml.SequenceNode(_TAG + "seq", [_node(v, dumper) for v in data], flow_style=False)
    if kind is bool:
        return yaml.ScalarNode(_TAG + "bool", "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_TAG + "int", str(data))
    if data is None:
        return yaml.ScalarNode(_TAG + "null", "null")
    return dumper.represent_data(data)


def to_yaml(obj: KubeObject | None) -> str:
    if obj is None:
        return ""
    stream = io.StringIO()
    dumper = _Dumper(stream, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1 << 16)
    try:
        dumper.open()
        dumper.serialize(_node(obj, dumper))
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


def ref_path(ref: ObjectRef) -> str:
    """`apps.v1.Deployment.shop.web`, the file name `kubectl diff` gives an object."""
    parts = ([ref.group] if ref.group else []) + [ref.version, ref.kind] + ([ref.namespace] if ref.namespace else []) + [ref.name]
    return ".".join(parts)


# ---------------------------------------------------------------- one object's diff


def patch_lines(ref: ObjectRef, patch: Iterable[dict]) -> list[str]:
    """A JSON patch, one op a line (Secret values masked)."""
    out = []
    for op in mask_patch(ref, patch):
        line = f"{op.get('op')} {op.get('path', '')}"
        if "from" in op:
            line += f" from {op['from']}"
        if "value" in op:
            line += " " + json.dumps(op["value"], sort_keys=True, default=str, ensure_ascii=False)
        out.append(line)
    return out


LIVE_DESIRED = (("live", ""), ("desired", ""))


def _header(label: tuple[str, str], name: str, prefix: str) -> str:
    side, revision = label
    return f"{prefix} {side}/{name}" + (f"\t{revision}" if revision else "")


def diff_lines(action: Action, *, secrets: set[str] | None = None,
               sides: tuple[tuple[str, str], ...] = LIVE_DESIRED) -> list[str]:
    """One action as notes (`# ...`) followed by a unified diff that `git apply -p1` accepts against
    the live YAML: `--- live/<ref>`, `+++ desired/<ref>` (`/dev/null` for a create's old side and a
    delete's new side), hunks. Notes stay above the header: inside a diff they break `patch`."""
    name = ref_path(action.ref)
    states = action_states(action)
    notes = [f"# {redact(states.note, secrets or set())}"] if states.note else []
    if action.note:
        notes.append(f"# {redact(action.note, secrets or set())}")
    if states.before is None and action.type in (ActionType.UPDATE, ActionType.SCALE):
        patch = patch_lines(action.ref, action.patch)
        return notes + [f"# {action.ref}: the JSON patch:"] + ["#   " + line for line in patch]
    if states.before is None and states.after is None:
        return notes + [f"# {action.ref}: to {action.type.value}"]
    before, after = mask_pair(for_display(states.before), for_display(states.after))
    body = list(difflib.unified_diff(to_yaml(before).splitlines(), to_yaml(after).splitlines(), lineterm="", n=3))
    if not body:
        return notes + [f"# {action.ref}: no visible difference (the change touches only fields the server owns)"]
    old = "--- /dev/null" if before is None else _header(sides[0], name, "---")
    new = "+++ /dev/null" if after is None else _header(sides[1], name, "+++")
    return notes + [old, new] + body[2:]  # difflib's own ---/+++ lines are replaced by ours


def colorize(lines: Iterable[str], color: bool) -> list[str]:
    if not color:
        return list(lines)
    out = []
    for line in lines:
        if line.startswith(("--- ", "+++ ")):
            out.append(paint(line, BOLD, True))
        elif line.startswith("@@"):
            out.append(paint(line, CYAN, True))
        elif line.startswith("-"):
            out.append(paint(line, RED, True))
        elif line.startswith("+"):
            out.append(paint(line, GREEN, True))
        else:
            out.append(line)
    return out


# ---------------------------------------------------------------- the plan


def summary_line(plan: Plan) -> str:
    """`Plan: 2 to create, 1 to update, 1 to scale, 0 to delete (5 unchanged).` or `No changes. ...`, and how
    many objects a sync with prune on would delete when this plan does not prune."""
    counts = plan.counts()
    pruned = f" {len(plan.would_prune)} would be pruned by a sync with prune on." if plan.would_prune else ""
    if not plan.has_changes:
        n = counts[ActionType.NOOP.value]
        return f"No changes. {n} object{'' if n == 1 else 's'} in sync.{pruned}"
    order = SUMMARY_ORDER if not counts[ActionType.REPLACE.value] else SUMMARY_ORDER[:3] + (ActionType.REPLACE, ActionType.DELETE)
    parts = ", ".join(f"{counts[t.value]} to {t.value}" for t in order)
    return f"Plan: {parts} ({counts[ActionType.NOOP.value]} unchanged).{pruned}"


WOULD_PRUNE_TITLE = "Would be pruned by a sync with prune on (this plan does not delete them; --prune would)"


def would_prune_lines(plan: Plan) -> list[str]:
    """One line per owned object gone from the source that a prune-on sync would delete."""
    return [f"{a.ref}  risks: {','.join(r.value for r in a.risks)}" for a in plan.would_prune]


def render_brief(plan: Plan, color: bool = False) -> str:
    """What `apply` prints before it writes (the plan without its table and diffs: one progress line per
    object follows as each is done, kubectl-style; `apply --diff` or `plan` show the whole plan):
    the summary, then what a person must not miss: notes (why an object is replaced), would-be prunes,
    conflicts, warnings."""
    secrets = plan_secret_values(plan.actions)
    out = [paint(summary_line(plan), BOLD, color)]
    notes = [f"  {a.type.value} {a.ref}: {redact(a.note, secrets)}" for a in plan.changes if a.note]
    if notes:  # why an object is replaced, or left unchanged: read before a confirmation
        out += [paint("Notes:", BOLD, color)] + notes
    if plan.would_prune:
        out += [paint(f"{WOULD_PRUNE_TITLE}:", RED, color)] + [f"  {line}" for line in would_prune_lines(plan)]
    if plan.conflicts:
        out += [paint("Conflicts (left alone, owned by another tool):", YELLOW, color)]
        out += [f"  {redact(c, secrets)}" for c in plan.conflicts]
    if plan.warnings:
        out += [paint("Warnings:", YELLOW, color)] + [f"  {redact(w, secrets)}" for w in plan.warnings]
    return "\n".join(out) + "\n"


def render_diff(plan: Plan, color: bool = False) -> str:
    """Every change as a unified YAML diff, in execution order, then the summary line."""
    secrets = plan_secret_values(plan.actions)
    blocks = ["\n".join(colorize(diff_lines(a, secrets=secrets, sides=plan.sides), color)) for a in plan.changes]
    summary = paint(summary_line(plan), BOLD, color)
    return "\n".join(blocks + [summary]) + "\n"


def _table(rows: list[list[str]], colors: list[list[str]], color: bool) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row, codes in zip(rows, colors):
        cells = [paint(cell.ljust(w) if i < len(row) - 1 else cell, code, color) for i, (cell, w, code) in enumerate(zip(row, widths, codes))]
        out.append("  ".join(cells).rstrip())
    return out


def delta_cell(n: NamespaceDelta, resource: str) -> str:
    """`250m -> 500m (+250m)`"""
    fmt = lambda v, signed=False: format_amount(resource, v, signed)  # noqa: E731
    return f"{fmt(n.before[resource])} -> {fmt(n.after[resource])} ({fmt(n.delta[resource], True)})"


def deltas_lines(deltas: Deltas, color: bool = False) -> list[str]:
    """A table of the CPU and memory the plan changes, per namespace and in total."""
    if deltas.empty:
        return []
    rows = [["NAMESPACE", "CPU REQUESTS", "CPU LIMITS", "MEMORY REQUESTS", "MEMORY LIMITS"]]
    rows += [[n.namespace or "-"] + [delta_cell(n, r) for r in RESOURCES] for n in deltas.namespaces]
    if len(deltas.namespaces) > 1:
        rows.append(["(total)"] + [delta_cell(deltas.total, r) for r in RESOURCES])
    codes = [[BOLD] * 5] + [[""] * 5] * (len(rows) - 1)
    out = [paint("Resource changes (workloads this plan touches):", BOLD, color)] + ["  " + line for line in _table(rows, codes, color)]
    return out + [f"  note: {n}" for n in deltas.notes]


def chart_lines(plan: Plan, color: bool = False) -> list[str]:
    """The charts, version before and after, and the hooks: each run in order (phase, wave, delete policies)."""
    out = []
    if plan.charts:
        out += ["", paint("Charts:", BOLD, color)] + [f"  {c}" for c in plan.charts]
    if plan.hooks:
        out += ["", paint(f"{hooks_title(plan)}:", BOLD, color)] + [f"  {line}" for line in hook_lines(plan)]
    return out


def capacity_lines(capacity: Capacity, color: bool = False) -> list[str]:
    """The plan's requests against the nodes, then whether it fits and the headroom left."""
    cpu, mem = ("requests.cpu", "requests.memory")
    out = [paint(f"Capacity ({len(capacity.nodes)} nodes: {capacity_summary(capacity)}):", BOLD, color)]
    rows = [["NAMESPACE", "CPU REQUESTS", "MEMORY REQUESTS"]]
    rows += [[n.namespace or "-", share_cell(capacity, n, cpu), share_cell(capacity, n, mem)] for n in capacity.namespaces]
    if len(capacity.namespaces) > 1:
        rows.append(["(total)", share_cell(capacity, capacity.total, cpu), share_cell(capacity, capacity.total, mem)])
    out += ["  " + line for line in _table(rows, [[BOLD] * 3] + [[""] * 3] * (len(rows) - 1), color)]
    if capacity.fits:
        return out + [f"  fits: {line}" for line in verdict(capacity)]
    return out + [paint(f"  unschedulable: {line}", RED, color) for line in verdict(capacity)]


def render_plan(plan: Plan, color: bool = False, *, deltas: Deltas | None = None, review: Review | None = None,
                capacity: Capacity | None = None) -> str:
    """Summary counts first, then the actions in execution order, notes, resource deltas (when
    given), capacity (when the nodes were listed), conflicts, warnings, diffs."""
    secrets = plan_secret_values(plan.actions)
    out = [paint(summary_line(plan), BOLD, color)]
    changes = plan.changes
    if changes:
        rows = [["WAVE", "ACTION", "OBJECT", "ORIGIN", "RISKS"]]
        codes = [[BOLD] * 5]
        for a in changes:
            rows.append([wave_label(a), a.type.value, str(a.ref), str(a.origin) if a.origin else "-", ",".join(r.value for r in a.risks) or "-"])
            codes.append(["", ACTION_COLOR[a.type], "", "", RED if a.risks else ""])
        out += [""] + _table(rows, codes, color)
        notes = [f"  {a.ref}: {redact(a.note, secrets)}" for a in changes if a.note]
        if notes:
            out += ["", paint("Notes:", BOLD, color)] + notes
    if plan.would_prune:
        out += ["", paint(f"{WOULD_PRUNE_TITLE}:", RED, color)] + [f"  {line}" for line in would_prune_lines(plan)]
    if deltas is not None and not deltas.empty:
        out += [""] + deltas_lines(deltas, color)
    if capacity is not None:
        out += [""] + capacity_lines(capacity, color)
    if plan.conflicts:
        out += ["", paint("Conflicts (left alone, owned by another tool):", YELLOW, color)]
        out += [f"  {redact(c, secrets)}" for c in plan.conflicts]
    if plan.warnings:
        out += ["", paint("Warnings:", YELLOW, color)] + [f"  {redact(w, secrets)}" for w in plan.warnings]
    out += chart_lines(plan, color)
    for a in changes:
        out += [""] + colorize(diff_lines(a, secrets=secrets, sides=plan.sides), color)
    if review is not None and review.apply_with and plan.has_changes:
        out += ["", f"To apply it: {review.apply_with}"]
    return "\n".join(out) + "\n"
