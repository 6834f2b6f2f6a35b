"""What bench/daemon.py syncs: N folders of 5 objects, one git repository holding them, a kubesync.yaml.

Every sync `<prefix>-<i>` owns a Namespace of the same name with three ConfigMaps and a Deployment (one
replica of the pause image; the benchmark's control plane has no nodes (bench/daemon.py), so its pod
stays Pending and nothing pulls it). Each run gets its own prefix (bd<N> folders, bg<N> git, bk<N> kubectl, bf<N>
failover) so no two runs share a namespace or an inventory.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

SET_LABEL = "bench.kubesync.io/set"
IMAGE = "registry.k8s.io/pause:3.9"
CONFIGMAPS = 3
OBJECTS_PER_SYNC = 1 + CONFIGMAPS + 1
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def sync_name(prefix: str, i: int) -> str:
    return f"{prefix}-{i}"


def sync_objects(prefix: str, i: int, value: str = "v1") -> list[dict]:
    """The Namespace first (kubectl applies a file's documents in order), then 3 ConfigMaps and a Deployment."""
    ns = sync_name(prefix, i)
    labels = {SET_LABEL: prefix}
    docs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}]
    for c in range(CONFIGMAPS):
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{c}", "namespace": ns, "labels": labels},
                     "data": {"value": value if c == 0 else "v1", "LOG_LEVEL": "info", "index": str(i)}})
    app = {"app": "app", SET_LABEL: prefix}
    docs.append({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            # No node ever runs the pod; a long deadline keeps the controller from flipping the Deployment
            # to ProgressDeadlineExceeded (a status write) in the middle of a steady-state window.
            "progressDeadlineSeconds": 86400,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {"metadata": {"labels": app},
                         "spec": {"containers": [{"name": "app", "image": IMAGE,
                                                  "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}},
        },
    })
    return docs


def write_sync(root: Path, prefix: str, i: int, value: str = "v1") -> Path:
    folder = root / sync_name(prefix, i)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "objects.yaml").write_text(yaml.dump_all(sync_objects(prefix, i, value), Dumper=_Dumper, sort_keys=False))
    return folder


def write_folders(root: Path, prefix: str, n: int, value: str = "v1") -> list[Path]:
    """N sync folders under `root` (one `objects.yaml` each); rewriting with a new value changes cm-0 only."""
    return [write_sync(root, prefix, i, value) for i in range(n)]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@kubesync.invalid", "-c", "init.defaultBranch=main",
                    *args], cwd=cwd, check=True, capture_output=True)


def git_repository(workdir: Path, prefix: str, n: int) -> str:
    """A bare repository with the N folders on `main` (one commit); returns its file:// URL.

    A file:// URL (not a path) makes the daemon clone and fetch it as it would a remote.
    """
    work = workdir / f"{prefix}-work"
    write_folders(work, prefix, n)
    _git(work, "init", "-q")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", f"{n} syncs")
    _git(work, "branch", "-M", "main")
    bare = workdir / f"{prefix}.git"
    _git(workdir, "clone", "-q", "--bare", str(work), str(bare))
    return f"file://{bare}"


def write_config(path: Path, prefix: str, n: int, folders_root: Path | None = None, repo: str | None = None,
                 interval: str = "30s") -> Path:
    """kubesync.yaml with N syncs: folder sources under `folders_root`, or subpaths of `repo` (ref main)."""
    syncs = []
    for i in range(n):
        name = sync_name(prefix, i)
        source = {"repo": repo, "ref": "main", "path": name} if repo else {"path": str(folders_root / name)}
        syncs.append({"name": name, "source": source, "selfHeal": True, "interval": interval})
    path.write_text(yaml.dump({"syncs": syncs}, Dumper=_Dumper, sort_keys=False))
    return path
