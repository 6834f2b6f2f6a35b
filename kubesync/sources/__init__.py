"""Where desired state comes from: a folder, or a ref of a git repository, optionally a sub-folder.

    SourceSpec ──load()──► directory.load  (files below a folder)      ─┐
                      ├──► git.load        (blobs of a commit's tree)  ─┼─► manifests.load_files ─► DesiredState
                      └──► pull.load       (a chart from a repository) ─┘        (hooks set apart)
    a folder may instead be a kustomization (kustomize.py), a Helm chart (helm.py), or hold
    Jsonnet programs (jsonnet.py); every renderer runs bounded (bounded.py) and cached (rendercache.py)

Both sources hand (path, bytes) files to one function, so ignore rules, size limits and parsing
behave the same for a folder and a git tree. The submodules are imported lazily: a plain folder
never pays for importing gitpython.
"""

from __future__ import annotations

from dataclasses import replace

from kubesync.model import CommitInfo, DesiredState
from kubesync.sources.spec import (  # the spec and its rules: sources/spec.py (importable from here too)
    CREDENTIAL_PARAMS,
    DEFAULT_MAX_SOURCE_BYTES,
    FALLBACK_NAME,
    SUPPORTED_SCHEMES,
    Credentials,
    HelmOptions,
    JsonnetOptions,
    SourceSpec,
    Target,
    clean_subpath,
    dns_label,
    has_query_credential,
    is_url,
    redact,
)

__all__ = ["CREDENTIAL_PARAMS", "DEFAULT_MAX_SOURCE_BYTES", "FALLBACK_NAME", "SUPPORTED_SCHEMES", "SourceSpec",
           "Credentials", "HelmOptions", "JsonnetOptions", "Target", "target_for",
           "clean_subpath", "current_revision", "describe_revision", "dns_label", "has_query_credential", "is_url", "load", "redact"]


def target_for(spec: SourceSpec, target: Target | None) -> Target:
    """Who the rendering is for: the facade's target (release = sync name, namespace, cluster versions),
    else an offline one; the chart options' own release name wins either way."""
    target = target or Target(release=spec.default_name(), namespace="default")
    release = (spec.helm.release if spec.helm else None) or target.release or spec.default_name()
    return replace(target, release=release, namespace=target.namespace or ("" if target.ask else "default"))


def load(spec: SourceSpec, *, fetch: bool = True, keys=None, sealed_ok: bool = False, target: Target | None = None) -> DesiredState:
    """Read and validate a whole source; raises SourceError (ManifestError listing every problem).

    An empty source yields zero manifests: whether that is allowed is the planner's decision.
    `fetch=False` reuses a cached clone as is (for a second ref of the same repository). `keys`
    (sources.keys.Keys) open SOPS-encrypted Secrets; without them, `sealed_ok` reads each as a sealed
    Manifest (a review without the key), else a DecryptionError names each file (sources/encrypted.py).
    `target` (the facade gathers it from the cluster) is what Helm charts render for.
    """
    from dataclasses import replace

    from kubesync.sources.identity import identify

    spec.check()
    target = target_for(spec, target)
    if spec.remote_chart:
        from kubesync.sources import pull

        state = pull.load(spec, target)
    elif spec.repo:
        from kubesync.sources import git

        state = git.load(spec, fetch=fetch, keys=keys, sealed_ok=sealed_ok, target=target)
    else:
        from kubesync.sources import directory

        state = directory.load(spec, keys, sealed_ok=sealed_ok, target=target)
    identity = identify(spec)
    return replace(state, identity=identity.primary, identity_aliases=identity.aliases)


def current_revision(spec: SourceSpec, *, fetch: bool = True) -> str:
    """The revision `load(spec)` would report, without parsing: lets a poller skip unchanged sources.

    For git this fetches and resolves the ref only; for a folder it reads (but does not parse) the files.
    """
    spec.check()
    if spec.remote_chart:
        from kubesync.sources import pull

        return pull.revision(spec)
    if spec.repo:
        from kubesync.sources import git

        return git.current_revision(spec, fetch=fetch)
    from kubesync.sources import directory

    return directory.source_revision(spec)


def describe_revision(spec: SourceSpec, revision: str) -> CommitInfo | None:
    """The commit behind a git source's revision (subject, author), read from the clone already there;
    None for a folder, whose revision is a content hash."""
    if not spec.repo or not revision:
        return None
    from kubesync.sources import git

    return git.describe_commit(spec, revision)
