"""Render a kustomization folder with `kustomize build`, or `kubectl kustomize` when only kubectl exists.

kustomize is an external program, so its failures are translated here into SourceErrors that name
the folder (as the person knows it, not a temp dir) and carry kustomize's own stderr, cut short.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from kubesync.errors import SourceError, cut

log = logging.getLogger(__name__)

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
TIMEOUT = 120.0  # seconds; remote bases can be slow, a hung build must not hang a sync


def find_kustomization(names: Iterable[str]) -> str | None:
    """The kustomization file among a folder's entry names, in kustomize's own order of preference."""
    present = set(names)
    return next((n for n in KUSTOMIZATION_FILES if n in present), None)


def command(folder: str, display: str) -> list[str]:
    """The argv that renders `folder`: kustomize itself when present (newer), else kubectl's copy."""
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build", folder]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize", folder]
    raise SourceError(
        f"{display}: holds a kustomization, but neither `kustomize` nor `kubectl` is on PATH; install one of them"
    )


def render(folder: Path, display: str, *, rename: Iterable[tuple[str, str]] = (), timeout: float = TIMEOUT) -> bytes:
    """Run kustomize on `folder` and return the rendered multi-document YAML.

    `rename` maps local paths (a temp checkout) to names people know, for kustomize's messages.
    """
    argv = command(str(folder), display)
    log.debug("rendering %s with %s", display, argv[0])
    try:
        proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise SourceError(f"{display}: kustomize build did not finish within {timeout:g}s") from e
    except OSError as e:
        raise SourceError(f"{display}: cannot run {argv[0]}: {e.strerror or e}") from e
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        for local, known in [(str(folder), display), *rename]:
            stderr = stderr.replace(local, known)
        stderr = stderr.strip()
        raise SourceError(f"{display}: kustomize build failed: {cut(stderr) or f'exit code {proc.returncode}'}")
    return proc.stdout
