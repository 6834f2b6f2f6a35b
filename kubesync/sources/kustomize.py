"""Render a kustomization folder with the pinned `kustomize build`, or `kubectl kustomize` when ours is not built.

The pinned kustomize (kubesync.tools: `KUBESYNC_KUSTOMIZE`, else the cached build) renders the same
on every machine; kubectl's embedded copy is whatever version kubectl happens to be, so it is only a
fallback, and the log says so once.

kustomize is an external program, so its failures are translated here into SourceErrors that name
the folder (as the person knows it, not a temp dir) and carry kustomize's own stderr, cut short.
`render_inside` first checks the kustomization graph against the source root (kustomize_refs) and
bounds the rendered output by the source's size limit.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kubesync import tools
from kubesync.errors import ManifestError, SourceError, ToolMissing, cut
from kubesync.manifests import SourceFile
from kubesync.sources import bounded, ciphertext, kustomize_refs, sops
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES

log = logging.getLogger(__name__)

KUSTOMIZATION_FILES = kustomize_refs.KUSTOMIZATION_FILES
ROOT_ONLY = "--load-restrictor=LoadRestrictionsRootOnly"  # kustomize's default, said out loud
TIMEOUT = 120.0  # seconds; remote bases can be slow, a hung build must not hang a sync
MAX_MEMORY = 1024 * bounded.MiB  # kustomize and the helm it runs, together


def find_kustomization(names: Iterable[str]) -> str | None:
    """The kustomization file among a folder's entry names, in kustomize's own order of preference."""
    present = set(names)
    return next((n for n in KUSTOMIZATION_FILES if n in present), None)


def command(folder: str, display: str) -> list[str]:
    """The argv that renders `folder`: the pinned kustomize, else kubectl's embedded copy."""
    try:
        return [str(tools.find("kustomize")), "build", folder, ROOT_ONLY]
    except ToolMissing as e:
        if e.override:  # a person named a program: using another one instead would hide their mistake
            raise SourceError(f"{display}: {e}") from e
        missing = e
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise SourceError(f"{display}: holds a kustomization, but {missing}; kubectl, whose embedded kustomize would do, is not on PATH either")
    _fallback_said(str(missing))
    return [kubectl, "kustomize", folder, ROOT_ONLY]


@functools.lru_cache(maxsize=1)
def _fallback_said(missing: str) -> None:
    """Says once per process (per reason) that kubectl's kustomize renders instead of ours."""
    log.warning("%s; rendering kustomizations with kubectl's embedded kustomize meanwhile", missing)


@dataclass(frozen=True)
class Rendering:
    """A kustomization's rendering and what it read besides its own folder's text."""

    data: bytes
    """The rendered multi-document YAML (SOPS ciphertext of encrypted inputs still in it)."""
    remote: tuple[str, ...] = ()
    """Remote resources used (allowRemoteResources: true), for the plan's warnings."""
    encrypted: tuple[SourceFile, ...] = ()
    """The SOPS-encrypted files the graph reads (their ciphertext), which open the rendering's ciphertext
    (sources/ciphertext.py); kustomize itself never sees a plaintext."""


def render_inside(
    folder: Path, boundary: Path, display: str, *, allow_remote: bool = False, max_bytes: int | None = None,
    rename: Iterable[tuple[str, str]] = (), boundary_display: str | None = None,
) -> Rendering:
    """The rendering of the kustomization in `folder`, kept inside `boundary`.

    Every problem of the graph is raised at once (a ManifestError); `display` names `folder`,
    `boundary_display` the boundary in messages.
    """
    walk = kustomize_refs.check(folder, boundary, boundary_display or display, allow_remote=allow_remote)
    if walk.problems:
        raise ManifestError(walk.problems)
    data = render(folder, display, rename=rename, max_bytes=max_bytes, helm=walk.helm, network=allow_remote)
    encrypted = ciphertext.encrypted_inputs(walk.files.items(), sops.MAX_OUTPUT)
    return Rendering(data, tuple(walk.remote), encrypted)


def render(
    folder: Path, display: str, *, rename: Iterable[tuple[str, str]] = (), timeout: float = TIMEOUT, max_bytes: int | None = None,
    helm: bool = False, network: bool = True,
) -> bytes:
    """Run kustomize on `folder` and return the rendered multi-document YAML (at most `max_bytes`).

    `rename` maps local paths (a temp checkout) to names people know, for kustomize's messages.
    `helm`: the kustomization has helmCharts, rendered with our helm (`--enable-helm --helm-command`)
    in private Helm folders; `network` is off unless the sync allows remote resources. Bounded like
    every renderer (sources/bounded.py): time, memory, output.
    """
    argv = command(str(folder), display)
    if helm:
        from kubesync.sources.helm import helm_command

        argv += ["--enable-helm", "--helm-command", helm_command()]
    limits = bounded.Limits(timeout=timeout, max_output=max_bytes or DEFAULT_MAX_SOURCE_BYTES, max_memory=MAX_MEMORY)
    log.debug("rendering %s with %s", display, argv[0])
    with tempfile.TemporaryDirectory(prefix="kubesync-kustomize-") as home:
        try:
            result = bounded.run(argv, f"{display}: kustomize build", limits, env=_env(Path(home), network))
        except bounded.Bounded as e:
            raise SourceError(str(e) if e.kind != "output" else
                              f"{display}: kustomize rendered more than allowed, over the source's size limit of {limits.max_output} bytes") from None
    if result.returncode != 0:
        stderr = result.stderr
        for local, known in [(str(folder), display), *rename]:
            stderr = stderr.replace(local, known)
        stderr = stderr.strip()
        raise SourceError(f"{display}: kustomize build failed: {cut(stderr) or f'exit code {result.returncode}'}")
    return result.stdout


def _env(home: Path, network: bool) -> dict[str, str]:
    """kustomize's environment: a private HOME and Helm folders; the caller's proxy settings only when remote
    resources are allowed (a local kustomization needs no network)."""
    homes = {"HELM_CACHE_HOME": str(home / "helm-cache"), "HELM_CONFIG_HOME": str(home / "helm-config"),
             "HELM_DATA_HOME": str(home / "helm-data")}
    env = bounded.clean_env(home, network=network, extra=homes)
    if network:  # git (remote bases) may need the person's credential helpers and ssh agent
        env.update({k: v for k, v in os.environ.items() if k.startswith(("GIT_", "SSH_")) or k == "HOME"})
    return env
