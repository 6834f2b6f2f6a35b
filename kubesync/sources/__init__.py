"""Where desired state comes from: a folder, or a ref of a git repository, optionally a sub-folder.

    SourceSpec ──load()──► directory.load  (files below a folder)      ─┐
                      └──► git.load        (blobs of a commit's tree)  ─┼─► manifests.load_files ─► DesiredState
                           either may render a kustomization instead    ─┘

Both sources hand (path, bytes) files to one function, so ignore rules, size limits and parsing
behave the same for a folder and a git tree. The submodules are imported lazily: a plain folder
never pays for importing gitpython.
"""

from __future__ import annotations

from kubesync.model import DesiredState
from kubesync.sources.spec import (  # the spec and its rules: sources/spec.py (importable from here too)
    CREDENTIAL_PARAMS,
    DEFAULT_MAX_SOURCE_BYTES,
    FALLBACK_NAME,
    SUPPORTED_SCHEMES,
    SourceSpec,
    clean_subpath,
    dns_label,
    has_query_credential,
    is_url,
    redact,
)

__all__ = ["CREDENTIAL_PARAMS", "DEFAULT_MAX_SOURCE_BYTES", "FALLBACK_NAME", "SUPPORTED_SCHEMES", "SourceSpec",
           "clean_subpath", "current_revision", "dns_label", "has_query_credential", "is_url", "load", "redact"]


def load(spec: SourceSpec, *, fetch: bool = True, keys=None, sealed_ok: bool = False) -> DesiredState:
    """Read and validate a whole source; raises SourceError (ManifestError listing every problem).

    An empty source yields zero manifests: whether that is allowed is the planner's decision.
    `fetch=False` reuses a cached clone as is (for a second ref of the same repository). `keys`
    (sources.keys.Keys) open SOPS-encrypted Secrets; without them, `sealed_ok` reads each as a sealed
    Manifest (a review without the key), else a DecryptionError names each file (sources/encrypted.py).
    """
    from dataclasses import replace

    from kubesync.sources.identity import identify

    spec.check()
    if spec.repo:
        from kubesync.sources import git

        state = git.load(spec, fetch=fetch, keys=keys, sealed_ok=sealed_ok)
    else:
        from kubesync.sources import directory

        state = directory.load(spec, keys, sealed_ok=sealed_ok)
    identity = identify(spec)
    return replace(state, identity=identity.primary, identity_aliases=identity.aliases)


def current_revision(spec: SourceSpec, *, fetch: bool = True) -> str:
    """The revision `load(spec)` would report, without parsing: lets a poller skip unchanged sources.

    For git this fetches and resolves the ref only; for a folder it reads (but does not parse) the files.
    """
    spec.check()
    if spec.repo:
        from kubesync.sources import git

        return git.current_revision(spec, fetch=fetch)
    from kubesync.sources import directory

    return directory.content_revision(directory.read_source(spec).files)
