"""The saved plan (`plan --out PLAN.json`, `apply --plan PLAN.json`): one format, read and written here.

The file is the JSON plan (schema kubesync.io/plan/v1) unmasked, since apply needs Secret values, so
it is written owner-only. Values decrypted from SOPS-encrypted files are the exception: they were
committed encrypted so that no file would hold them, so the saved plan keeps only a marker for each
(`reopen_sops`), and `apply --plan` decrypts them again from the plan's source, or refuses. It also keeps plus what `apply --plan` needs to tell whether it went stale: the source
it was planned from (credentials stripped), the default namespace, and the cluster it was planned
against (API server URL and the kube-system namespace's uid): applied elsewhere, it is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import tempfile
import time
from dataclasses import dataclass

from kubesync import errors
from kubesync.errors import printable
from kubesync.model import SOPS_DIGEST_ANNOTATION, Action, Plan
from kubesync.render.json import SCHEMA, plan_from_dict, plan_to_dict
from kubesync.render.mask import plan_secret_values
from kubesync.secrets import PLACEHOLDER, VALUE_FIELDS, remember_values
from kubesync.vocab import is_secret
from kubesync.sources import HelmOptions, JsonnetOptions, SourceSpec, redact


@dataclass(frozen=True)
class ClusterIdentity:
    """Which cluster a plan was made against: the URL can change (a proxy, a new DNS name), the uid of
    kube-system cannot, so the uid decides when both sides know it."""

    server: str
    uid: str = ""
    """kube-system's uid ("" when our credentials may not read it)."""

    def same_as(self, other: "ClusterIdentity") -> bool:
        if self.uid and other.uid:
            return self.uid == other.uid
        return self.server == other.server

    def __str__(self) -> str:
        return self.server + (f" (kube-system uid {self.uid})" if self.uid else "")


def wrong_cluster(saved: "SavedPlan", current: ClusterIdentity) -> str | None:
    """Why the saved plan must not run on `current` (None: it may)."""
    if saved.cluster is None or saved.cluster.same_as(current):
        return None
    return (f"the saved plan was made against cluster {saved.cluster}, but the current context points at "
            f"cluster {current}; nothing was applied. Plan again against this cluster, or pass --replan")


@dataclass(frozen=True)
class SavedPlan:
    """A reviewed plan and where it came from."""

    plan: Plan
    source: SourceSpec | None = None
    """The source it was planned from: None when the file names none (then it cannot be re-planned)."""

    namespace: str = ""
    """The default namespace it was planned with."""

    cluster: ClusterIdentity | None = None
    """The cluster it was planned against (None in plans saved before this was recorded)."""

    reopen: tuple[str, ...] = ()
    """Secrets (str(ref)) whose values came from SOPS-encrypted files: saved as markers, decrypted again by apply."""

    settings: dict | None = None
    """The sync flags it was planned with (name, namespace, selector, prune, ...; `commands.common.PLAN_FLAGS`):
    `apply --plan` plans again with them and applies only if the result is the same plan."""

    capabilities: tuple[str, tuple[str, ...]] | None = None
    """(Kubernetes version, API versions) charts rendered for; `compare --capabilities-from` renders for them too."""


SOPS_MARKER = PLACEHOLDER + " (sops: decrypted again by apply)"


def decrypted(action: Action) -> bool:
    """A Secret whose desired values were decrypted from a SOPS-encrypted file."""
    annotations = ((action.desired or {}).get("metadata") or {}).get("annotations") or {}
    return is_secret(action.ref) and SOPS_DIGEST_ANNOTATION in annotations


def _without_values(obj: dict | None) -> dict | None:
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    for field in VALUE_FIELDS:
        if isinstance(out.get(field), dict):
            out[field] = {k: SOPS_MARKER for k in out[field]}
        elif field in out:
            out[field] = SOPS_MARKER
    return out


def sealed_action(action: dict) -> dict:
    """An action dict with every Secret value (desired, live, patch) replaced by a marker."""
    out = {**action, "desired": _without_values(action.get("desired")), "live": _without_values(action.get("live"))}
    out["patch"] = [{**op, "value": SOPS_MARKER} if "value" in op and str(op.get("path", "")).startswith(("/data", "/stringData"))
                    else op for op in action.get("patch") or ()]
    return out


def to_dict(saved: SavedPlan, generated_at: str | None = None) -> dict:
    stamp = generated_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = plan_to_dict(saved.plan, mask=False, generated_at=stamp)
    reopen = [str(a.ref) for a in saved.plan.actions if decrypted(a)]
    if reopen:
        data["actions"] = [sealed_action(d) if decrypted(a) else d for a, d in zip(saved.plan.actions, data["actions"])]
        data["reopen_sops"] = reopen
    if saved.source is not None:
        raw = {k: v for k, v in dataclasses.asdict(saved.source).items() if v is not None}
        if "repo" in raw:  # credentials belong in git's config, never in a file handed around for review
            raw["repo"] = redact(raw["repo"])
        data["source_spec"] = raw
    data["namespace"] = saved.namespace
    if saved.settings is not None:
        data["settings"] = saved.settings
    if saved.cluster is not None:
        data["cluster"] = {"server": saved.cluster.server, "uid": saved.cluster.uid}
    if saved.capabilities is not None:
        data["capabilities"] = {"kube_version": saved.capabilities[0], "api_versions": list(saved.capabilities[1])}
    return data


def _source_spec(raw: dict) -> SourceSpec:
    """A SourceSpec from its saved form, Helm and Jsonnet options included (lists back to tuples)."""
    def options(cls, value):
        if not isinstance(value, dict):
            return None
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: _tuples(v) for k, v in value.items() if k in fields})

    return SourceSpec(**{k: raw.get(k) for k in ("path", "repo", "ref", "subpath", "max_bytes")},
                      allow_remote=bool(raw.get("allow_remote")), helm=options(HelmOptions, raw.get("helm")),
                      jsonnet=options(JsonnetOptions, raw.get("jsonnet")))


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def capabilities_of(data: dict) -> tuple[str, tuple[str, ...]] | None:
    raw = data.get("capabilities")
    if not isinstance(raw, dict):
        return None
    return str(raw.get("kube_version") or ""), tuple(str(v) for v in raw.get("api_versions") or ())


def from_dict(data: dict, path: str = "") -> SavedPlan:
    where = f"{path}: " if path else ""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise errors.UsageError(f"{where}not a kubesync plan (expected schema {SCHEMA})")
    raw = data.get("source_spec") or None
    source = None
    if raw:
        try:
            source = _source_spec(raw)
        except (AttributeError, TypeError) as e:
            raise errors.UsageError(f"{where}not a valid kubesync plan: source_spec: {e}") from e
    plan = plan_from_dict(data)
    remember_values(plan_secret_values(plan.actions))  # the file holds values: scrub them from messages
    raw_cluster = data.get("cluster")
    cluster = None
    if isinstance(raw_cluster, dict) and raw_cluster.get("server"):
        cluster = ClusterIdentity(str(raw_cluster["server"]), str(raw_cluster.get("uid") or ""))
    reopen = tuple(str(r) for r in data.get("reopen_sops") or ())
    settings = data.get("settings")
    settings = {str(k): v for k, v in settings.items() if isinstance(v, (str, bool, int, float, list))} if isinstance(settings, dict) else None
    return SavedPlan(plan, source, str(data.get("namespace") or ""), cluster, reopen, settings, capabilities_of(data))


SIGNATURE = "signature"


def sign(data: dict, key: bytes) -> str:
    """An HMAC-SHA256 over the plan's canonical JSON (its own signature left out), for pipelines that move
    plans between machines: `plan --out --sign-key F`, `apply --plan --sign-key F`."""
    body = json.dumps({k: v for k, v in data.items() if k != SIGNATURE}, sort_keys=True, separators=(",", ":"))
    return "hmac-sha256:" + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            key = f.read(4096).strip()
    except OSError as e:
        raise errors.UsageError(f"--sign-key: cannot read {printable(path)}: {e.strerror or e}") from e
    if len(key) < 16:
        raise errors.UsageError(f"--sign-key: {printable(path)} holds {len(key)} bytes; a signing key needs at least 16")
    return key


def verify(data: dict, key: bytes, path: str) -> None:
    """Refuse an unsigned or wrongly signed plan when a key is given (fail closed)."""
    given = data.get(SIGNATURE)
    if not isinstance(given, str):
        raise errors.StalePlan([f"{path}: the plan is not signed, but --sign-key was given; nothing was applied"])
    if not hmac.compare_digest(given, sign(data, key)):
        raise errors.StalePlan([f"{path}: the plan's signature does not match --sign-key (changed since it was "
                                "signed, or another key); nothing was applied"])


def write(path: str, saved: SavedPlan, sign_key: bytes | None = None) -> None:
    """Owner-only, whatever was there before (the file keeps Secret values), and atomic.

    The plan goes to a new 0600 temp file in the same folder, which is then renamed over `path`:
    an existing 0644 file is replaced, not rewritten in place with its old mode, a reader never sees
    half a plan, and a symlink at `path` is refused (a rename would not follow it either).
    """
    if os.path.islink(path):
        raise errors.UsageError(
            f"{printable(path)} is a symlink; the saved plan holds Secret values, so it is never written "
            "through a link: give the real path"
        )
    data = to_dict(saved)
    if sign_key is not None:
        data[SIGNATURE] = sign(data, sign_key)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)  # 0600, O_EXCL
    except OSError as e:
        raise errors.UsageError(f"cannot write the plan {printable(path)}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise errors.UsageError(f"cannot write the plan {printable(path)}: {e.strerror or e}") from e


def is_saved_plan(path: str) -> bool:
    """Whether a file given as the source of `apply` is a saved plan (`apply PLAN.json`)."""
    if not path.endswith(".json") or not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return b'"schema"' in head and SCHEMA.encode() in head


def read(path: str, sign_key: bytes | None = None) -> SavedPlan:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise errors.UsageError(f"cannot read the saved plan {path}: {e.strerror}") from e
    except ValueError as e:
        raise errors.UsageError(f"{path}: not a kubesync plan (invalid JSON: {e})") from e
    except RecursionError:
        raise errors.UsageError(f"{path}: not a kubesync plan (nested too deeply)") from None
    if sign_key is not None:
        verify(data, sign_key, path)
    return from_dict(data, path)
