"""`kubesync compare --repo R --base main --head feature`: review a merge without a cluster; with
`--config kubesync.yaml`, every sync of the file that reads the repository, each with its own path,
namespace and prune policy, in one report. Helm charts and Jsonnet apps render on both refs with the
same values, release and Kubernetes version."""

from __future__ import annotations

import json

from kubesync.commands.common import gate_exit, use_color, write_out
from kubesync.errors import UsageError

DAEMON_APPLIES = "the daemon applies it when merged"


def run(args) -> int:
    from kubesync.render import render
    from kubesync.sync import compare_refs

    if getattr(args, "config", None):
        return run_config(args)
    from kubesync.commands.sourceflags import helm_flags, jsonnet_flags
    from kubesync.sources import SourceSpec, Target

    source = SourceSpec(repo=args.repo, subpath=args.subpath, helm=helm_flags(args), jsonnet=jsonnet_flags(args))
    namespace = args.namespace or "default"
    name = args.name or source.default_name()
    kube_version, api_versions = args.kube_version or "", source.helm.api_versions if source.helm else ()
    if args.capabilities_from:  # the cluster a saved plan was made against
        from kubesync import planfile

        saved = planfile.read(args.capabilities_from)
        if saved.capabilities is None:
            raise UsageError(f"--capabilities-from {args.capabilities_from}: the plan rendered no chart, so it records no versions")
        kube_version, api_versions = kube_version or saved.capabilities[0], api_versions or saved.capabilities[1]
    target = Target(release=name, namespace=namespace, kube_version=kube_version, api_versions=api_versions)  # both refs alike
    plan = compare_refs(args.repo, args.base, args.head, args.subpath, namespace, source=source, target=target,
                        key_files=tuple(args.decryption_key_files or ()))
    write_out(render(plan, args.output, color=use_color(args)))
    return gate_exit(plan, args)


def run_config(args) -> int:
    from kubesync.config import load_config
    from kubesync.model import Review
    from kubesync.render import render
    from kubesync.sync import compare_config

    config = load_config(args.config)
    plans = compare_config(args.repo, args.base, args.head, config, tuple(args.decryption_key_files or ()))
    review = Review(apply_with=DAEMON_APPLIES)
    if args.output in ("json", "yaml"):
        doc = {"syncs": [json.loads(render(plan, "json", review=review)) for _, plan in plans]}
        if args.output == "json":
            write_out(json.dumps(doc, indent=2, sort_keys=True))
        else:
            import yaml

            write_out(yaml.safe_dump(doc, sort_keys=True, allow_unicode=True))
    else:
        sep = "\n---\n\n" if args.output == "markdown" else "\n"
        parts = [render(plan, args.output, color=use_color(args), review=review) for _, plan in plans]
        if args.output == "text":
            parts = [f"== sync {sync.name} ({'prune' if sync.prune else 'no prune'}) ==\n{text}" for (sync, _), text in zip(plans, parts)]
        write_out(sep.join(parts))
    codes = [gate_exit(plan, args) for _, plan in plans]
    return 1 if 1 in codes else max(codes)
