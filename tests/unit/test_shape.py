"""The package's shape, enforced: no import cycles, small modules and functions, and requests to the
Kubernetes API (or anywhere) sent only from the few places meant to do it. See docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kubesync"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

# Libraries that send requests over the network.
NETWORK_LIBRARIES = ("kubernetes", "urllib3", "urllib.request", "http.client", "requests")
# Outside kubesync/cluster/ (the Kubernetes API), only these may import one, each for one job:
NETWORK_ALLOWED = {
    "localcluster.py": "polls the embedded control plane's /readyz while starting it (tests and the demo)",
    "daemon/notify.py": "POSTs alerts to the configured webhook URL",
}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def imported_names(path: Path) -> set[str]:
    """Every module an import statement names, at any depth (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from pkg import submodule`
    return names


def internal_imports(name: str) -> set[str]:
    """The package's modules that `name` imports: `from pkg import sub` counts as pkg.sub when that is
    a module (the package's __init__ runs, but that is not an import of it), else as pkg."""
    out = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom) and node.module in MODULES and not node.level:
            for a in node.names:
                out.add(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module)
    out.discard(name)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles_in_the_package():
    graph = {name: internal_imports(name) for name in MODULES}
    assert graph["kubesync.sync.plan"] >= {"kubesync.cluster.dryrun", "kubesync.plan"}  # the walk sees real edges
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_over_the_line_limit():
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES.values() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"


def test_no_function_over_the_line_limit():
    long = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def sends_requests(path: Path) -> set[str]:
    return {n for n in imported_names(path) if n in NETWORK_LIBRARIES or n.split(".")[0] in ("kubernetes", "urllib3", "requests")}


def test_only_cluster_and_the_sanctioned_edges_import_a_network_library():
    offenders = {}
    for path in MODULES.values():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("cluster/") or rel in NETWORK_ALLOWED:
            continue
        found = sends_requests(path)
        if found:
            offenders[rel] = sorted(found)
    assert not offenders, f"network libraries outside kubesync/cluster/ (route the call through cluster/): {offenders}"


@pytest.mark.parametrize("rel", sorted(NETWORK_ALLOWED))
def test_each_allowed_edge_still_needs_its_exception(rel):
    """A stale entry would let a later change slip through: keep the list minimal."""
    assert sends_requests(PACKAGE / rel), f"{rel} no longer imports a network library; remove it from NETWORK_ALLOWED"


def test_the_cluster_package_really_is_where_requests_go():
    assert sends_requests(PACKAGE / "cluster" / "client.py")


# --- the map of docs/architecture.md, enforced ------------------------------------------------------------

# Layers, lowest first: (name, the modules in it (a package stands for all its modules), the layers it may
# import). A layer may always import itself. docs/architecture.md shows this same table (checked below).
LAYERS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("ground", ("kubesync", "model", "errors", "vocab", "secrets", "logs", "tools", "quantity", "charts", "memory",
                "annotations", "hooks"), ()),
    ("loading", ("documents", "manifests", "sources"), ("ground",)),
    ("settings", ("settings", "config", "configsource", "yamlnodes"), ("ground", "loading")),
    ("resolve", ("resolve", "selector"), ("ground", "pure")),
    ("pure", ("diff", "plan", "ordering", "prune", "deltas", "capacity", "compare", "validate", "health", "inventory", "render"),
     ("ground", "settings", "resolve")),
    ("cluster", ("cluster",), ("ground", "pure")),
    ("apply", ("apply",), ("ground", "pure", "cluster")),
    ("sync", ("sync", "planfile"), ("ground", "loading", "settings", "resolve", "pure", "cluster", "apply")),
    ("daemon", ("daemon",), ("ground", "loading", "settings", "resolve", "pure", "cluster", "apply", "sync")),
    ("local", ("localcluster", "localprocess", "localnodes", "localsupervisor"), ("ground",)),
    ("commands", ("commands", "cli", "completion", "__main__"),
     ("ground", "loading", "settings", "resolve", "pure", "cluster", "apply", "sync", "daemon", "local")),
]
# Edges the layers allow in general but not here, each with its reason: none today.
PURE_MAY_NOT_IMPORT = ("kubesync.cluster", "kubesync.apply", "kubesync.sync", "kubesync.daemon", "kubesync.sources")


def layer_of(module: str) -> str:
    short = module.split(".")[1] if "." in module else module
    for name, members, _ in LAYERS:
        if short in members:
            return name
    raise AssertionError(f"{module} is in no layer of LAYERS: add it (and to docs/architecture.md)")


def test_every_import_follows_the_layers():
    allowed = {name: set(may) | {name} for name, _, may in LAYERS}
    wrong = []
    for name in MODULES:
        mine = layer_of(name)
        for dep in sorted(internal_imports(name)):
            if layer_of(dep) not in allowed[mine]:
                wrong.append(f"{name} ({mine}) imports {dep} ({layer_of(dep)})")
    assert not wrong, "imports across layers the map does not allow:\n" + "\n".join(wrong)


def test_pure_modules_never_reach_io():
    pure = [n for n in MODULES if layer_of(n) in ("pure", "resolve")]
    assert "kubesync.plan" in pure and "kubesync.health.workloads" in pure
    wrong = [f"{n} imports {d}" for n in pure for d in internal_imports(n) if d.startswith(PURE_MAY_NOT_IMPORT)]
    assert not wrong, wrong


def test_the_architecture_map_shows_the_enforced_layers():
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("**") and cells[0].endswith("**"):
            rows[cells[0].strip("*")] = ({m.strip("` /").removesuffix(".py") for m in cells[1].split(",")},
                                         {m.strip() for m in cells[3].split(",") if m.strip() not in ("", "nothing")})
    want = {name: (set(members), set(may)) for name, members, may in LAYERS}
    assert rows == want, f"docs/architecture.md's layer table differs from LAYERS:\n doc:  {rows}\n test: {want}"


def test_no_module_sends_requests_outside_cluster():
    """Only kubesync/cluster/ composes and sends API requests: everything else uses the typed verbs."""
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("kubesync.cluster") or path.relative_to(PACKAGE).as_posix() in NETWORK_ALLOWED:
            continue  # the sanctioned edges send to their own endpoints (an alert URL, the local control plane)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("request", "get_or_none") and isinstance(node.ctx, ast.Load):
                if isinstance(node.value, ast.Name) and node.value.id == "request":
                    continue  # starlette's request object in daemon/web, not an API call
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}(")
    assert not offenders, f"API requests outside kubesync/cluster/ (use cluster.API's verbs): {offenders}"


def test_no_private_name_is_imported_from_another_module():
    """A helper two modules share is public (health/conditions.py, not 16 `_helpers` imported across files)."""
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kubesync") and not node.level:
                wrong += [f"{name} imports {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not wrong, wrong


def test_the_records_a_run_passes_along_are_frozen():
    import dataclasses

    from kubesync.daemon import events
    from kubesync.daemon.state import SyncStatus
    from kubesync.settings import PlanSettings, SyncConfig
    from kubesync.sync.apply import SavedRun
    from kubesync.sync.plan import Planned

    for record in (Planned, SavedRun, SyncConfig, PlanSettings, SyncStatus):
        assert dataclasses.fields(record) and record.__dataclass_params__.frozen, f"{record.__name__} must be frozen"
    # What a daemon run tells its reporter: every event type, the base classes included.
    kinds = [k for k in vars(events).values() if isinstance(k, type) and issubclass(k, events.Event)]
    assert len(kinds) > 10 and events.RunFinished in kinds
    for kind in kinds:
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen, f"event {kind.__name__} must be frozen"
