"""Resolve manifests against the cluster's API: kind -> resource type, namespace defaulting.

Pure given a lookup function (the discovery cache provides one), so it is unit-tested without a server.
All problems are collected and raised together, as in manifest loading: nothing is half-resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from kubesync.annotations import Option, options
from kubesync.errors import ResolveError
from kubesync.model import KubeObject, Manifest, ObjectRef, ResourceType

Lookup = Callable[[str, str], "ResourceType | None"]  # (apiVersion, kind) -> type or None

CRD_GROUP = "apiextensions.k8s.io"

# For offline work (compare two git refs, no cluster): built-in kinds that are cluster-scoped and
# built-in kinds with a scale subresource. Anything else is assumed namespaced and not scalable.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "ComponentStatus",
        "ClusterRole.rbac.authorization.k8s.io", "ClusterRoleBinding.rbac.authorization.k8s.io",
        "CustomResourceDefinition.apiextensions.k8s.io", "APIService.apiregistration.k8s.io",
        "StorageClass.storage.k8s.io", "CSIDriver.storage.k8s.io", "CSINode.storage.k8s.io", "VolumeAttachment.storage.k8s.io",
        "PriorityClass.scheduling.k8s.io", "IngressClass.networking.k8s.io", "RuntimeClass.node.k8s.io",
        "PodSecurityPolicy.policy", "CertificateSigningRequest.certificates.k8s.io",
        "ValidatingWebhookConfiguration.admissionregistration.k8s.io",
        "MutatingWebhookConfiguration.admissionregistration.k8s.io",
        "FlowSchema.flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io",
    }
)
SCALABLE = frozenset({"Deployment.apps", "StatefulSet.apps", "ReplicaSet.apps", "ReplicationController"})


def offline_lookup(api_version: str, kind: str) -> ResourceType:
    """A best guess of the resource type without a cluster (for `compare`)."""
    from kubesync.model import split_api_version

    group, version = split_api_version(api_version)
    group_kind = f"{kind}.{group}" if group else kind
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=kind.lower() + "s",
        namespaced=group_kind not in CLUSTER_SCOPED,
        has_scale=group_kind in SCALABLE,
    )


@dataclass(frozen=True)
class Resolved:
    """A desired object ready for planning: namespace defaulted, its resource type known."""

    manifest: Manifest
    rtype: ResourceType
    obj: KubeObject = field(compare=False, hash=False, repr=False)  # metadata.namespace filled in
    warning: str = field(default="", compare=False)  # accepted, but the person should know (plan warnings)
    pending_crd: bool = False
    """The kind is served by a CRD of this same desired state that the cluster lacks yet: no live copy
    can exist, and apply waits for the CRD to be Established before creating it."""
    schema: Any = field(default=None, compare=False, repr=False)  # diff.schema.KindSchema from the server, if known

    @property
    def ref(self) -> ObjectRef:
        return self.manifest.ref


def types_from_crds(manifests: tuple[Manifest, ...] | list[Manifest]) -> dict[tuple[str, str], ResourceType]:
    """(apiVersion, kind) -> type for each version served by a CRD in the desired state."""
    out: dict[tuple[str, str], ResourceType] = {}
    for m in manifests:
        if m.ref.group != CRD_GROUP or m.ref.kind != "CustomResourceDefinition":
            continue
        spec = m.obj.get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not (group and kind and plural):
            continue
        for v in spec.get("versions") or ([{"name": spec["version"]}] if spec.get("version") else []):
            if v.get("served", True) is False:
                continue
            has_scale = "scale" in (v.get("subresources") or spec.get("subresources") or {})
            out[(f"{group}/{v['name']}", kind)] = ResourceType(
                group=group,
                version=v["name"],
                kind=kind,
                plural=plural,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                verbs=("create", "get", "list", "patch", "delete"),
                has_scale=has_scale,
            )
    return out


def with_schemas(resolved: list[Resolved], schemas: Mapping[tuple[str, str], Any]) -> list[Resolved]:
    """Each object with its kind's schema (diff.schema.KindSchema): a CRD of the desired state speaks
    for its custom resources (it is what the server will hold once applied), the server for the rest."""
    from kubesync.diff.schema import from_crd

    own: dict[tuple[str, str], Any] = {}
    for r in resolved:
        if r.ref.group == CRD_GROUP and r.ref.kind == "CustomResourceDefinition":
            own.update(from_crd(r.obj))
    out = []
    for r in resolved:
        key = (r.ref.api_version, r.ref.kind)
        schema = own.get(key) or schemas.get(key)
        out.append(replace(r, schema=schema) if schema is not None else r)
    return out


# Kinds added, after Kubernetes 1.20 (the oldest server kubesync supports), to a group-version 1.20 already
# served: on an older server they are missing kinds of a served API, not typos.
LATER_BUILTIN_KINDS = {
    "batch/v1": frozenset({"CronJob"}),  # 1.21
    "storage.k8s.io/v1": frozenset({"CSIStorageCapacity", "VolumeAttributesClass"}),  # 1.24, 1.34
    "admissionregistration.k8s.io/v1": frozenset({"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                                                  "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}),  # 1.30, 1.36
    "networking.k8s.io/v1": frozenset({"IPAddress", "ServiceCIDR"}),  # 1.33
}


def not_served(api_version: str, kind: str, served: list[str] | None = None) -> str:
    """Why a kind is unknown, worded for its kind of API: a misspelled kind of a group-version the
    cluster serves (`served`: its kinds; with the closest one suggested), a CRD not installed, or a
    built-in API that this server's Kubernetes version does not serve (too old, too new, or turned off)."""
    import difflib

    from kubesync.diff.normalize import is_builtin

    head = f"the cluster does not serve kind {kind!r} in {api_version!r}"
    builtin = is_builtin(api_version) or api_version.split("/")[0].endswith(".k8s.io")
    if served and kind in LATER_BUILTIN_KINDS.get(api_version, ()):
        return (f"{head}: {kind} was added to {api_version} by a later Kubernetes version than this server's; "
                f"use an apiVersion the server lists in `kubectl api-resources`, or upgrade the cluster")
    if served:
        close = difflib.get_close_matches(kind, served, n=1, cutoff=0.6) or [
            k for k in served if k.lower() == kind.lower()]
        hint = f"did you mean {close[0]!r}?" if close else f"it serves {', '.join(served[:12])}" + (", ..." if len(served) > 12 else "")
        return f"{api_version} has no kind {kind!r} (a typo of the kind?); {hint}"
    if builtin:
        return (f"{head}: {api_version} is a built-in Kubernetes API that this server's version does not serve "
                "(removed, not yet added, or turned off); use an apiVersion the server lists in `kubectl api-versions`")
    return f"{head}; is its CustomResourceDefinition installed (or misspelled apiVersion/kind)?"


def resolve(manifests: tuple[Manifest, ...] | list[Manifest], lookup: Lookup, default_namespace: str,
            kinds: Callable[[str], "list[str] | None"] | None = None) -> list[Resolved]:
    """Every manifest with its resource type and namespace, or a ResolveError listing every problem.
    `kinds`: the kinds a group-version serves (discovery), to tell a misspelled kind from a missing API."""
    from_crds = types_from_crds(manifests)
    problems: list[str] = []
    out: list[Resolved] = []
    for m in manifests:
        api_version = m.ref.api_version
        rtype = lookup(api_version, m.ref.kind)
        pending = rtype is None and (api_version, m.ref.kind) in from_crds
        rtype = rtype or from_crds.get((api_version, m.ref.kind))
        warning = ""
        if rtype is None and Option.SKIP_DRY_RUN_ON_MISSING in options((m.obj.get("metadata") or {}).get("annotations") or {}):
            # Argo CD's SkipDryRunOnMissingResource=true: a controller creates the CRD (gatekeeper's constraints)
            rtype, pending = offline_lookup(api_version, m.ref.kind), True
            warning = (f"{m.origin}: {m.ref}: the cluster does not serve {api_version} {m.ref.kind} yet; created once it "
                       "does (SkipDryRunOnMissingResource=true), not validated by the server")
        if rtype is None:
            problems.append(f"{m.origin}: {m.ref}: {not_served(api_version, m.ref.kind, kinds(api_version) if kinds else None)}")
            continue
        obj = m.obj
        ref = m.ref
        if rtype.namespaced:
            if not ref.namespace:
                ref = ref.with_namespace(default_namespace)
                obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": default_namespace}}
        elif ref.namespace:
            # kubectl, Argo CD and Flux apply it (the server ignores the field): so do we, without it
            warning = (f"{m.origin}: {ref}: {ref.kind} is cluster-scoped; metadata.namespace "
                       f"{ref.namespace!r} is ignored (remove it from the manifest)")
            ref = ref.with_namespace("")
            obj = {**obj, "metadata": {k: v for k, v in (obj.get("metadata") or {}).items() if k != "namespace"}}
        overlap = _both_data_and_string_data(m)
        if overlap:
            warning = "; ".join(w for w in (warning, overlap) if w)
        manifest = Manifest(ref, obj, m.origin) if ref is not m.ref else m
        out.append(Resolved(manifest, rtype, obj, warning, pending))
    if problems:
        raise ResolveError(
            f"{len(problems)} object(s) cannot be resolved against the cluster; nothing was applied:\n"
            + "\n".join("  " + p for p in problems)
        )
    _check_duplicates_after_defaulting(out)
    return out


def _both_data_and_string_data(m: Manifest) -> str:
    """A Secret key set in both `data` and `stringData`: the server silently keeps stringData's value."""
    if m.ref.group or m.ref.kind != "Secret":
        return ""
    data, string_data = m.obj.get("data"), m.obj.get("stringData")
    if not (isinstance(data, dict) and isinstance(string_data, dict)):
        return ""
    both = sorted(set(data) & set(string_data))
    if not both:
        return ""
    keys = ", ".join(repr(k) for k in both)
    return (f"{m.origin}: {m.ref}: {keys} set in both data and stringData; the server keeps stringData's value "
            "and drops data's (remove one)")


def check_namespaces(resolved: list[Resolved], namespace: str) -> None:
    """With -n given, a namespaced object that names another namespace is an error (kubectl's rule), all
    listed. Decided after discovery: on a cluster-scoped kind the field means nothing, `resolve` already
    dropped it with a warning, and kubectl, Argo CD and Flux apply such objects under any -n."""
    problems = [f"{r.manifest.origin}: {r.ref}: its namespace {r.ref.namespace!r} contradicts -n {namespace!r}; "
                "remove one of them" for r in resolved if r.rtype.namespaced and r.ref.namespace != namespace]
    if problems:
        raise ResolveError(f"{len(problems)} object(s) name another namespace than -n; nothing was applied:\n"
                           + "\n".join("  " + p for p in problems))


def _check_duplicates_after_defaulting(items: list[Resolved]) -> None:
    """`name: a` without namespace and `name: a, namespace: <default>` are the same object."""
    seen: dict[tuple, Resolved] = {}
    problems = []
    for r in items:
        other = seen.get(r.ref.key)
        if other is not None:
            problems.append(f"{r.manifest.origin}: {r.ref}: defined again (first at {other.manifest.origin})")
        else:
            seen[r.ref.key] = r
    if problems:
        raise ResolveError(
            "the same object is defined twice once namespaces are defaulted; nothing was applied:\n"
            + "\n".join("  " + p for p in problems)
        )
