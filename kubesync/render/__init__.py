"""Everything a person or CI reads about a plan. Pure: a Plan in, a string out.

Every format routes Secrets through `mask` (values shown as ``*** (changed)``, no hash); only
``plan_to_dict(plan, mask=False)``, for the saved plan file, keeps them.
"""

from __future__ import annotations

from kubesync.capacity import Capacity
from kubesync.deltas import Deltas, compute_deltas
from kubesync.model import Plan, Review
from kubesync.render.json import plan_from_dict, plan_to_dict, render_json
from kubesync.render.markdown import render_markdown
from kubesync.render.mask import mask_patch, mask_secret
from kubesync.render.text import render_diff, render_plan

FORMATS = ("text", "json", "yaml", "markdown")


def render(plan: Plan, output: str = "text", *, color: bool = False, deltas: Deltas | None = None, generated_at: str | None = None,
           review: Review | None = None, capacity: Capacity | None = None) -> str:
    """`-o text|json|yaml|markdown` in one call (the JSON printed here is masked). Deltas are computed when
    not given; `review` says where the plan applies and how (shown in every format); capacity (the
    nodes' side) only when the caller listed the nodes."""
    deltas = deltas if deltas is not None else compute_deltas(plan)
    if output == "text":
        return render_plan(plan, color, deltas=deltas, review=review, capacity=capacity)
    if output == "json":
        return render_json(plan, deltas, generated_at=generated_at, review=review, capacity=capacity)
    if output == "yaml":  # the JSON document, for people who read YAML (same schema, same masking)
        import json

        import yaml

        doc = json.loads(render_json(plan, deltas, generated_at=generated_at, review=review, capacity=capacity))
        return yaml.safe_dump(doc, sort_keys=True, allow_unicode=True)
    if output == "markdown":
        return render_markdown(plan, deltas, review=review, capacity=capacity)
    raise ValueError(f"unknown output format {output!r}; expected one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "mask_patch",
    "mask_secret",
    "plan_from_dict",
    "plan_to_dict",
    "render",
    "render_diff",
    "render_json",
    "render_markdown",
    "render_plan",
]
