"""deploy/'s kustomizations rendered as the cluster receives them, for tests that read the install."""

from __future__ import annotations

from pathlib import Path

import yaml

from kubesync.sources import kustomize

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Every kustomization a user may install: deploy/ itself (the namespaced mode), the base and each overlay.
INSTALLS = ("", "base", "overlays/namespaced", "overlays/cluster")


def render(folder: str | Path) -> list[dict]:
    """The documents `kubectl apply -k FOLDER` would send (kustomize, or kubectl's copy of it)."""
    path = DEPLOY / folder if not Path(folder).is_absolute() else Path(folder)
    return [d for d in yaml.safe_load_all(kustomize.render(path, str(path))) if d]


def by_kind_and_name(docs: list[dict]) -> dict[tuple[str, str, str], dict]:
    """(kind, namespace, name) -> document."""
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}
