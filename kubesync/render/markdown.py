"""The plan as a pull-request comment (GitHub-flavoured Markdown).

Title, counts, a risk callout, the resource deltas, then one collapsed section per object with its diff:
deletions first, then risky changes, then the rest. GitHub refuses comments over 65536 characters, so
diffs that do not fit are cut (the last one partly, the rest listed by name) with a note saying so.
"""

from __future__ import annotations

import html
import re
from typing import Iterable

from kubesync.hooks import plan_lines as hook_lines
from kubesync.hooks import plan_title as hooks_title
from kubesync.capacity import Capacity, capacity_summary, share_cell, verdict
from kubesync.deltas import RESOURCES, Deltas, NamespaceDelta, format_amount
from kubesync.model import Action, ActionType, Plan, Review
from kubesync.render.mask import plan_secret_values
from kubesync.secrets import redact
from kubesync.render.text import WOULD_PRUNE_TITLE, diff_lines, summary_line
from kubesync import vocab

GITHUB_LIMIT = 65536
MAX_LIST = 50  # items of one list (risks, warnings, namespaces) shown before "and N more"
NOTE_RESERVE = 600  # room kept for the truncation note
MIN_PARTIAL = 400  # a partial diff smaller than this is not worth showing
RESOURCE_TITLES = {
    "requests.cpu": "CPU requests",
    "limits.cpu": "CPU limits",
    "requests.memory": "Memory requests",
    "limits.memory": "Memory limits",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def escape(text: str) -> str:
    """Literal text in Markdown (table cells, list items): `|`, backticks and friends escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def fence_for(body: str) -> str:
    """A backtick fence longer than any backtick run inside `body`."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)


def short_revision(revision: str) -> str:
    return vocab.short_revision(revision, 7, keep_prefix=False)


def _more(items: list[str], shown: int = MAX_LIST) -> list[str]:
    return items[:shown] + ([f"- …and {len(items) - shown} more"] if len(items) > shown else [])


def order_for_review(actions: Iterable[Action]) -> list[Action]:
    """Deletions first, then risky changes, then the rest; execution order within each group."""
    changes = [a for a in actions if a.type is not ActionType.NOOP]
    rank = lambda a: 0 if a.type is ActionType.DELETE else 1 if a.risks else 2  # noqa: E731
    return sorted(changes, key=rank)  # sorted() is stable


def _delta_cell(n: NamespaceDelta, resource: str) -> str:
    before, after, delta = n.before[resource], n.after[resource], n.delta[resource]
    return f"{format_amount(resource, before)} → {format_amount(resource, after)} ({format_amount(resource, delta, signed=True)})"


def deltas_table(deltas: Deltas) -> list[str]:
    if deltas.empty:
        return []
    out = [
        "#### Resource changes",
        "",
        "| Namespace | " + " | ".join(RESOURCE_TITLES[r] for r in RESOURCES) + " |",
        "|---|" + "---:|" * len(RESOURCES),
    ]
    rows = [f"| {escape(n.namespace or '-')} | " + " | ".join(_delta_cell(n, r) for r in RESOURCES) + " |" for n in deltas.namespaces]
    out += rows[:MAX_LIST]
    if len(rows) > MAX_LIST:
        out.append(f"| …and {len(rows) - MAX_LIST} more | | | | |")
    out.append("| **Total** | " + " | ".join(f"**{_delta_cell(deltas.total, r)}**" for r in RESOURCES) + " |")
    if deltas.notes:
        out += [""] + _more([f"- <sub>{escape(n)}</sub>" for n in deltas.notes])
    return out + [""]


def capacity_table(capacity: Capacity) -> list[str]:
    """The plan's requests against the nodes, and whether it fits (headroom) or what does not."""
    cpu, mem = ("requests.cpu", "requests.memory")
    out = ["#### Capacity", "", f"<sub>{len(capacity.nodes)} nodes: {escape(capacity_summary(capacity))}</sub>", "",
           "| Namespace | CPU requests | Memory requests |", "|---|---:|---:|"]
    cell = lambda n, r: escape(share_cell(capacity, n, r, "→"))  # noqa: E731
    rows = [f"| {escape(n.namespace or '-')} | {cell(n, cpu)} | {cell(n, mem)} |" for n in capacity.namespaces]
    out += rows[:MAX_LIST] + ([f"| …and {len(rows) - MAX_LIST} more | | |"] if len(rows) > MAX_LIST else [])
    out += [f"| **Total** | **{cell(capacity.total, cpu)}** | **{cell(capacity.total, mem)}** |", ""]
    if capacity.fits:
        return out + [f"Fits: {escape(line)}" for line in verdict(capacity)] + [""]
    return out + _more([f"- **unschedulable**: {escape(line)}" for line in verdict(capacity)]) + [""]


def _section_head(a: Action) -> str:
    summary = f"<b>{a.type.value}</b> <code>{html.escape(str(a.ref))}</code>"
    if a.origin:
        summary += f" · {html.escape(str(a.origin))}"
    if a.risks:
        summary += " · ⚠️ " + html.escape(", ".join(r.value for r in a.risks))
    return f"<details><summary>{summary}</summary>\n\n"


def _section(head: str, lines: list[str], cut: int = 0) -> str:
    body = "\n".join(lines + ([f"# … {cut} more line{'s' if cut != 1 else ''} not shown"] if cut else []))
    fence = fence_for(body)
    return f"{head}{fence}diff\n{body}\n{fence}\n\n</details>\n\n"


def _partial(head: str, lines: list[str], budget: int) -> str | None:
    """The section with as many diff lines as fit in `budget` characters, or None."""
    if budget < MIN_PARTIAL:
        return None
    lo, hi = 0, len(lines)
    while lo < hi:  # the largest k whose section fits
        k = (lo + hi + 1) // 2
        if len(_section(head, lines[:k], len(lines) - k)) <= budget:
            lo = k
        else:
            hi = k - 1
    return _section(head, lines[:lo], len(lines) - lo) if lo else None


def marker(sync: str) -> str:
    """A hidden line a bot finds to update its one comment per sync instead of adding another."""
    return f"<!-- kubesync:plan:{re.sub(r'[^a-z0-9.-]', '', sync.lower())} -->"


def _footer(plan: Plan, review: Review | None) -> str:
    if review is None or not review.apply_with:
        return ""
    how = review.apply_with
    body = f"`{how}`" if how.startswith("kubesync ") else escape(how)
    return "\n#### How to apply\n\n" + body + "\n"


def render_markdown(plan: Plan, deltas: Deltas | None = None, *, max_chars: int = GITHUB_LIMIT,
                    review: Review | None = None, capacity: Capacity | None = None) -> str:
    """A pull-request comment of at most `max_chars` characters: a hidden marker, where it applies and how."""
    secrets = plan_secret_values(plan.actions)
    ordered = order_for_review(plan.actions)
    footer = _footer(plan, review)
    max_chars -= len(footer)
    head = [marker(plan.sync)] + _head(plan, deltas, secrets, review) + (capacity_table(capacity) if capacity is not None else [])
    head += ["#### Changes", ""] if ordered else []
    text = "\n".join(head) + "\n"
    if len(text) > max_chars - NOTE_RESERVE:  # pathological: cut the head at a line boundary
        text = text[: max(0, max_chars - NOTE_RESERVE)].rsplit("\n", 1)[0] + "\n"
    text, omitted, partial = _diffs(plan, ordered, secrets, text, max_chars)
    if omitted or partial:
        text += _cut_note(ordered, omitted, partial, text, max_chars)
    return (text.rstrip("\n") + "\n")[:max_chars] + footer


def _where(plan: Plan, review: Review | None) -> str:
    """`Sync shop · context prod · cluster https://... (1a2b3c4d) · source ...`"""
    parts = [f"Sync **{escape(plan.sync)}**"]
    if review is not None and review.context:
        parts.append(f"context **{escape(review.context)}**")
    if review is not None and review.server:
        parts.append(f"cluster {escape(review.server)}" + (f" ({escape(review.cluster_id[:8])})" if review.cluster_id else ""))
    if plan.source:
        parts.append(f"source {escape(plan.source)}")
    if plan.revision:
        parts.append(f"revision {escape(short_revision(plan.revision))}")
    return " · ".join(parts)


def _head(plan: Plan, deltas: Deltas | None, secrets, review: Review | None = None) -> list[str]:
    """Title, where it applies, counts, risky changes, deltas, conflicts and warnings: everything above the diffs."""
    counts = plan.counts()
    title = f"### kubesync plan: {escape(plan.sync)}"
    if plan.revision:
        title += f" @ {escape(short_revision(plan.revision))}"
    head = [title, "", f"<sub>{_where(plan, review)}</sub>", ""]
    if not plan.has_changes:
        head += [f"**{summary_line(plan)}**", ""]
    else:
        kinds = ("create", "update", "scale") + (("replace",) if counts["replace"] else ()) + ("delete", "noop")
        head += [
            "| " + " | ".join(k.capitalize() if k != "noop" else "Unchanged" for k in kinds) + " |",
            "|" + "---:|" * len(kinds),
            "| " + " | ".join(str(counts[k]) for k in kinds) + " |",
            "",
        ]
    risky = [a for a in plan.changes if a.risks] + list(plan.would_prune)
    if risky:
        n = len(risky)
        head += ["> [!WARNING]", f"> **{n} risky change{'s' if n != 1 else ''}**, review before merging:"]
        items = [f"> - **{'delete (with prune on)' if a in plan.would_prune else a.type.value}** {escape(str(a.ref))}: "
                 f"{escape(', '.join(r.value for r in a.risks))}" for a in risky]
        head += [i if i.startswith(">") else "> " + i for i in _more(items)] + [""]
    if plan.would_prune:
        head += [f"#### {WOULD_PRUNE_TITLE}: {len(plan.would_prune)}", ""]
        head += _more([f"- {escape(str(a.ref))}" for a in plan.would_prune]) + [""]
    if deltas is not None:
        head += deltas_table(deltas)
    if plan.conflicts:
        head += ["#### Conflicts (left alone, owned by another tool)", ""]
        head += _more([f"- {escape(redact(c, secrets))}" for c in plan.conflicts]) + [""]
    if plan.warnings:
        head += ["#### Warnings", ""] + _more([f"- {escape(redact(w, secrets))}" for w in plan.warnings]) + [""]
    if plan.charts:
        head += ["#### Charts", "", "| Chart | Before | After |", "|---|---|---|"]
        head += [f"| {escape(c.name)} | {escape(c.before or '(none)')} | {escape(c.after or '(removed)')} |" for c in plan.charts]
        head += [""]
    if plan.hooks:
        head += [f"#### {escape(hooks_title(plan))}", ""]
        head += _more([f"- `{line}`" if "`" not in line else f"- {escape(line)}" for line in hook_lines(plan)]) + [""]
    return head


def _diffs(plan: Plan, ordered: list[Action], secrets, text: str, max_chars: int) -> tuple[str, list[Action], bool]:
    """Append each action's diff while it fits: (text, the actions left out, whether one was cut)."""
    omitted: list[Action] = []
    partial = False
    for a in ordered:
        sec_head = _section_head(a)
        lines = diff_lines(a, secrets=secrets, sides=plan.sides)
        if omitted:
            omitted.append(a)
            continue
        section = _section(sec_head, lines)
        if len(text) + len(section) + NOTE_RESERVE <= max_chars:
            text += section
            continue
        cut = _partial(sec_head, lines, max_chars - NOTE_RESERVE - len(text))
        if cut:
            text, partial = text + cut, True
        else:
            omitted.append(a)
    return text, omitted, partial


def _cut_note(ordered: list[Action], omitted: list[Action], partial: bool, text: str, max_chars: int) -> str:
    """Why the comment is shorter than the plan, and which diffs are missing (as many as fit)."""
    note = [
        "",
        "> [!NOTE]",
        f"> This comment was cut to fit GitHub's {max_chars}-character limit: "
        + (f"{'the last diff shown is partial; ' if partial else ''}" f"{len(omitted)} of {len(ordered)} diffs are not shown.")
        + " Run `kubesync plan` for the full plan.",
    ]
    out = "\n".join(note) + "\n"
    listed = []
    for a in omitted:
        item = f"- {a.type.value} {escape(str(a.ref))}\n"
        if len(text) + len(out) + sum(map(len, listed)) + len(item) + 40 > max_chars:
            listed.append(f"- …and {len(omitted) - len(listed)} more\n")
            break
        listed.append(item)
    return out + "".join(listed)
