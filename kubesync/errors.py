"""One exception tree for kubesync. Every error carries what a person needs to act on it.

    KubesyncError
     ├── UsageError            bad flags or arguments on the command line
     ├── ConfigError           kubesync.yaml is invalid
     ├── SourceError           the desired state cannot be read (file, git, kustomize)
     │    ├── ManifestError    one or more documents are invalid (all problems listed)
     │    └── DecryptionError  a SOPS-encrypted file cannot be decrypted (no key, a wrong key, a tampered file)
     ├── ResolveError          a kind the cluster does not know, a namespace on a cluster-scoped kind
     ├── KubeconfigError       the kubeconfig cannot be used as it is (missing entry, insecure with a CA, ...)
     │    └── CredentialError  no credentials (a failing exec plugin, an unreadable token file); nothing was sent
     ├── ClusterError          the Kubernetes API answered with an error (status picks the subclass)
     │    ├── ClusterUnreachable   connection refused/reset, timeouts
     │    ├── ClusterTransient     5xx, 429: worth retrying
     │    ├── ClusterUnauthorized  401, 403
     │    ├── ClusterNotFound      404
     │    ├── ClusterConflict      409, or a failed resourceVersion precondition
     │    ├── WatchExpired         410 in a watch: the resourceVersion is gone; LIST again
     │    └── ClusterInvalid       422 with field causes: the object itself is wrong
     ├── OwnershipConflict     an object exists that another tool owns
     ├── InventoryCorrupt      a sync's inventory ConfigMap cannot be decoded (pruning is impossible)
     ├── PlanRefused           prune safety: empty source, too many deletions
     ├── PlanInvalid           the server's dry run (or the schema) rejects objects of the plan (each listed)
     ├── StalePlan             a saved plan no longer matches the cluster or source
     ├── Timeout               something did not happen in time (a CRD Established, a deletion finished)
     │    └── WaitTimeout      `apply --wait`: objects not Healthy in time (each listed with its reason)
     ├── Cancelled             the person answered no at the confirmation prompt
 ├── ToolMissing           a pinned program (helm, kustomize, sops, kwok, registry) is not built; names the build command
     └── ApplyFailed           some actions failed (each listed with its origin)

Messages say what, where and how to fix it:
``manifests/web.yaml:12: apps/v1 Deployment shop/web: spec.replicas must be an integer``.
"""

from __future__ import annotations

import re

MAX_BODY = 400  # long server bodies are cut before they reach a log or a terminal


def cut(text: str, limit: int = MAX_BODY) -> str:
    """Shorten a long message (server bodies can be many KiB)."""
    text = str(text)
    if len(text) <= limit:
        return text
    suffix = f"... ({len(text)} chars)"
    return text[: max(0, limit - len(suffix))] + suffix


# Control characters, line and paragraph separators, and bidi overrides: a file name holding one
# could forge an extra line of output or hide text in a terminal or a review comment.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): for names that came from outside."""
    return _UNPRINTABLE.sub(_escape, str(text))


class KubesyncError(Exception):
    """Base of every error kubesync raises on purpose."""

    exit_code = 1


class UsageError(KubesyncError):
    pass


class ConfigError(KubesyncError):
    pass


class SourceError(KubesyncError):
    pass


class ManifestError(SourceError):
    """Loading is all-or-nothing: this holds every problem found, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = [printable(p) for p in problems]
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the desired state; nothing was applied"
        super().__init__(head + ":\n" + "\n".join("  " + p for p in self.problems))


class DecryptionError(SourceError):
    """A SOPS-encrypted file cannot be decrypted: `files` names each one (the daemon's /readyz lists them)."""

    def __init__(self, message: str, files: tuple[str, ...] = ()):
        self.files = files
        super().__init__(message)


class ResolveError(KubesyncError):
    pass


class ClusterError(KubesyncError):
    """An error answered by (or on the way to) the Kubernetes API."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "", body: dict | None = None):
        super().__init__(cut(message))
        self.status = status
        self.reason = reason
        self.body = body or {}

    @property
    def causes(self) -> list[dict]:
        return list((self.body.get("details") or {}).get("causes") or [])


class ClusterUnreachable(ClusterError):
    pass


class ClusterTransient(ClusterError):
    pass


class ClusterUnauthorized(ClusterError):
    pass


class ClusterNotFound(ClusterError):
    pass


class ClusterConflict(ClusterError):
    pass


class WatchExpired(ClusterError):
    """A watch's resourceVersion is older than the server keeps (410 Gone): LIST again."""


class ClusterInvalid(ClusterError):
    pass


class OwnershipConflict(KubesyncError):
    pass


class InventoryCorrupt(KubesyncError):
    """A sync's inventory ConfigMap cannot be decoded: fix or delete it before anything is pruned."""


class PlanRefused(KubesyncError):
    pass


class PlanInvalid(KubesyncError):
    """The server would reject objects of the plan: nothing is applied. Each problem names file:line and object."""

    def __init__(self, problems: list[str], head: str = ""):
        self.problems = list(problems)
        head = head or f"the server rejects {len(self.problems)} object(s) of the plan (server-side dry run)"
        super().__init__(f"{head}; nothing was applied:\n" + "\n".join("  " + p for p in self.problems))


class StalePlan(KubesyncError):
    def __init__(self, stale: list[str]):
        self.stale = list(stale)
        super().__init__(
            "the saved plan is stale; nothing was applied. Changed since it was made:\n"
            + "\n".join("  " + s for s in self.stale)
            + "\nRun `kubesync plan` again (or `apply --plan ... --replan`)."
        )


class Timeout(KubesyncError):
    """Something the run waits for did not happen in time."""


class Cancelled(KubesyncError):
    """The person declined at the confirmation prompt; nothing was changed."""


class WaitTimeout(Timeout):
    """Objects did not become Healthy before the deadline."""


class ApplyFailed(KubesyncError):
    def __init__(self, failures: list[str], not_started: int = 0, failed: int | None = None):
        self.failures = list(failures)
        self.not_started = not_started
        text = f"{failed or len(self.failures)} action(s) failed:\n" + "\n".join("  " + f for f in self.failures)
        if not_started:
            text += f"\n  {not_started} action(s) in later waves were not started"
        super().__init__(text)


class ToolMissing(KubesyncError):
    """A program kubesync runs beside Python is not built (or was built by an older recipe).

    Carries the tool, its pinned version and the command that builds it, so callers that have a
    fallback (kustomize: kubectl's copy) can say which tool they fell back from.
    """

    def __init__(self, message: str, *, tool: str, version: str, command: str, override: str | None = None):
        super().__init__(message)
        self.tool = tool
        self.version = version
        self.command = command
        self.override = override
        """The environment variable that pointed at an unusable program, when that was the cause."""


class KubeconfigError(KubesyncError):
    """The kubeconfig cannot be used as it is; the message names the file or entry and the fix."""


class CredentialError(KubeconfigError):
    """Credentials could not be obtained (exec plugin, token file); no request was sent."""
