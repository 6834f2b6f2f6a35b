"""`kubesync plan`: what a sync would do, in text, JSON or Markdown; optionally saved for `apply --plan`."""

from __future__ import annotations

import os

from kubesync.commands.common import gate_exit, prepare, use_color, write_out


def render(plan, fmt: str, color: bool, deltas=None) -> str:
    from kubesync.deltas import compute_deltas
    from kubesync.render import markdown, text
    from kubesync.render import json as render_json

    deltas = deltas if deltas is not None else compute_deltas(plan)
    if fmt == "json":
        return render_json.render_json(plan, deltas=deltas)
    if fmt == "markdown":
        return markdown.render_markdown(plan, deltas=deltas)
    return text.render_plan(plan, color=color, deltas=None if deltas.empty else deltas)


def with_quota_warnings(plan, deltas, cluster):
    """Warn when the plan's CPU/memory would push a namespace past its ResourceQuota."""
    from dataclasses import replace

    from kubesync.deltas import quota_warnings

    quotas = []
    for ns in sorted(n.namespace for n in deltas.namespaces if n.namespace):
        quotas.extend(cluster.get(f"/api/v1/namespaces/{ns}/resourcequotas").get("items") or [])
    warnings = quota_warnings(deltas, quotas) if quotas else []
    return replace(plan, warnings=plan.warnings + tuple(warnings)) if warnings else plan


def save(plan, path: str, source_spec=None, namespace: str = "") -> None:
    """The saved plan keeps Secret values (apply needs them), so it is written owner-only.
    It also names its source, so `apply --plan` can tell whether the source moved since."""
    import dataclasses
    import json
    import time

    from kubesync.render.json import plan_to_dict

    data = plan_to_dict(plan, mask=False, generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if source_spec is not None:
        from kubesync.sources import redact

        raw = {k: v for k, v in dataclasses.asdict(source_spec).items() if v is not None}
        if "repo" in raw:  # credentials belong in git's config, never in a file handed around for review
            raw["repo"] = redact(raw["repo"])
        data["source_spec"] = raw
    data["namespace"] = namespace
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def run(args) -> int:
    from kubesync.deltas import compute_deltas

    cluster, discovery, desired, spec, planned = prepare(args)
    plan = planned.plan
    deltas = compute_deltas(plan)
    if not deltas.empty:
        plan = with_quota_warnings(plan, deltas, cluster)
    write_out(render(plan, args.output, use_color(args), deltas))
    if args.out:
        from kubesync.commands.common import source_spec

        save(plan, args.out, source_spec(args), spec.namespace)
    return gate_exit(plan, args)
