"""`kubesync cluster up|down|env|build`: the embedded local control plane, run in the background,
and the build of what it and the sources run (the recipes shipped in kubesync/recipes/)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kubesync import localcluster, localsupervisor, tools
from kubesync.errors import ToolMissing, UsageError
from kubesync.localnodes import NodeShape

# What `cluster up` runs beside the control plane (kwok plays the nodes' kubelet): built with it.
CLUSTER_UP_TOOLS = ("kwok",)


def run(args) -> int:
    if args.action == "build":
        return build(args)
    versions = args.kubernetes_version or []
    if len(versions) > 1:
        raise UsageError("`cluster up` starts one control plane: give --kubernetes-version once")
    workdir = Path(args.dir) if args.dir else localsupervisor.default_state_dir()
    if args.action == "up":
        shape = NodeShape(args.nodes, args.node_cpu, args.node_memory, args.node_pods)
        kubeconfig = localsupervisor.up(workdir, versions[0] if versions else None, shape)
        version = localsupervisor.running_version(workdir) or "?"
        nodes = f"{shape.count} node(s) Ready, {shape.cpu} CPU and {shape.memory} each" if shape.count else "no nodes"
        print(f"local control plane running (Kubernetes {version}, {nodes}); logs in {workdir / 'logs'}")
        print(f"export KUBECONFIG={kubeconfig}")
        return 0
    if args.action == "down":
        stopped = localsupervisor.down(workdir)
        print("local control plane stopped" if stopped else "no local control plane was running")
        return 0
    kubeconfig = workdir / "kubeconfig"
    if not localsupervisor.supervisor_pid(workdir):
        raise UsageError(f"no local control plane is running in {workdir}; run `kubesync cluster up`")
    print(f"export KUBECONFIG={kubeconfig}")
    return 0


def build_plan(versions: list[str] | None, tool_list: str | None, all_tools: bool) -> list[tuple[str, str]]:
    """(recipe name, what it builds) in build order: control planes (newest first as given), then tools.

    No choice at all builds what `cluster up` needs: the newest control plane and CLUSTER_UP_TOOLS.
    A control plane always comes with the tools `cluster up` runs beside it.
    """
    if tool_list and all_tools:
        raise UsageError("give --tools or --all, not both")
    names = list(tools.TOOLS) if all_tools else [t.strip() for t in (tool_list or "").split(",") if t.strip()]
    unknown = [t for t in names if t not in tools.TOOLS]
    if unknown:
        raise UsageError(f"unknown tool(s) {', '.join(unknown)}; kubesync builds {', '.join(tools.TOOLS)}")
    if not versions and not names:
        versions = [localcluster.NEWEST]
    plan = [(f"k8s-{v}", f"Kubernetes {localcluster.VERSIONS[v].full}") for v in dict.fromkeys(versions or [])]
    if versions:
        names = [*names, *CLUSTER_UP_TOOLS]
    plan += [(t, f"{t} {tools.pin(t).version}") for t in dict.fromkeys(names)]
    return plan


def build(args) -> int:
    """Run each recipe in turn, its progress on stderr; one line per result on stdout; stop at the first failure."""
    for recipe, what in build_plan(args.kubernetes_version, args.tools, args.all_tools):
        start = time.monotonic()
        cached, error = run_recipe(recipe)
        if error is not None:
            name, _, version = what.rpartition(" ")
            command = "kubesync cluster build " + (f"--kubernetes-version {recipe[4:]}" if recipe.startswith("k8s-") else f"--tools {recipe}")
            raise ToolMissing(f"{what} could not be built: {error}", tool=name, version=version, command=command)
        print(f"{what}: {'cached' if cached else f'built in {time.monotonic() - start:.0f} s'}", flush=True)
    return 0


def run_recipe(recipe: str) -> tuple[bool, str | None]:
    """(cached, None) when `build-<recipe>` succeeded, else (False, the reason it gave).

    Every line the recipe prints goes to stderr as it comes (builds take minutes: people watch
    them); its last `error:` line is the reason, so the failure names what is missing (Go, the
    module proxy, root for apt-get) rather than "exit status 1".
    """
    path = tools.recipe_path(recipe)
    cached, reason, marker = False, None, f"{path.name}: error: "
    with subprocess.Popen(["bash", str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
        for line in proc.stdout:
            sys.stderr.write(line)
            sys.stderr.flush()
            cached = cached or line.rstrip().endswith("(nothing to do)")
            if line.startswith(marker):
                reason = line[len(marker):].strip()
    if proc.returncode != 0:
        return False, reason or f"{path.name} exited with status {proc.returncode} (its output is above)"
    return cached, None
