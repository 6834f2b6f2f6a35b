"""What the diff ignores or treats as equal, so that it shows a change only where there is one.

Everything the API server adds, rewrites or drops on its own is either removed before comparing
(server-managed metadata, `status`, nulls), rewritten the way the server rewrites it (`stringData` into
base64 `data`), or compared by meaning instead of by spelling (quantities, empty maps, zero values the
server omits). Ignore rules (JSON pointers and field managers) are resolved here into one matcher.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Iterable, Protocol, Sequence

from kubesync.diff.managers import managed_paths
from kubesync.quantity import parse_quantity
from kubesync.model import split_api_version
from kubesync.vocab import SERVER_METADATA, escape, is_secret, parse_pointer, pointer, unescape

__all__ = [
    "SERVER_METADATA",
    "normalize_desired",
    "normalize_live",
    "is_builtin",
    "is_quantity_path",
    "is_free_form_map",
    "zero_is_absent",
    "server_allocated",
    "IgnoreRule",
    "IgnoreMatcher",
    "managed_paths",
    "escape",
    "unescape",
    "pointer",
    "parse_pointer",
]


# API groups served by kube-apiserver itself (Go structs with `omitempty`), as opposed to CRDs,
# whose JSON the server stores as it was sent. CRD groups always contain a dot.
BUILTIN_GROUPS = frozenset(
    {
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)

# Fields that are maps with free-form keys (not structs): an empty one is omitted by the server, and
# when one is dropped from the desired state only the keys kubesync set are removed from it, since
# other tools add keys of their own (annotations above all). By name anywhere...
FREE_FORM_MAPS = frozenset(
    {
        "labels",
        "annotations",
        "data",
        "binaryData",
        "stringData",
        "nodeSelector",
        "matchLabels",
        "selector",
        "parameters",
        "volumeAttributes",
        "allocatable",
        "overhead",
        "podFixed",
    }
)
# ... and by (parent, name): resources.limits, ResourceQuota spec.hard, PV spec.capacity, LimitRange limits[].max
_LIMIT_RANGE_FIELDS = frozenset({"default", "defaultRequest", "max", "min", "maxLimitRequestRatio"})
FREE_FORM_MAPS_IN = {
    "resources": frozenset({"limits", "requests"}),
    "spec": frozenset({"hard", "capacity"}),
    "limits": _LIMIT_RANGE_FIELDS,
}

# Below these fields, names are the user's (a CRD's schema properties), so no table here applies.
SCHEMA_FIELDS = frozenset({"openAPIV3Schema"})

# Non-pointer `omitempty` fields of built-in types: the server drops them when they hold the zero
# value, so a desired `readOnly: false` equals a live object without `readOnly`. Pointer fields
# (`automountServiceAccountToken`, `storageClassName`, `privileged`...) keep a zero and are not here.
ZERO_IS_ABSENT: dict[str, Any] = {
    # bool
    "readOnly": False,
    "hostNetwork": False,
    "hostPID": False,
    "hostIPC": False,
    "stdin": False,
    "stdinOnce": False,
    "tty": False,
    "paused": False,
    "publishNotReadyAddresses": False,
    "preserveUnknownFields": False,
    "unschedulable": False,
    "globalDefault": False,  # PriorityClass
    # int
    "initialDelaySeconds": 0,
    "minReadySeconds": 0,
    "hostPort": 0,
    # string
    "value": "",
    "subPath": "",
    "subPathExpr": "",
    "hostIP": "",
    "workingDir": "",
    "nodeName": "",
    "serviceAccountName": "",
    "serviceAccount": "",
    "hostname": "",
    "subdomain": "",
    "priorityClassName": "",
    "externalName": "",
    "loadBalancerIP": "",
    "externalTrafficPolicy": "",
    "medium": "",
    "key": "",
    "operator": "",
    "effect": "",
    "path": "",
    "host": "",
    "fsType": "",
    "name": "",
}

# Fields the server fills in when the desired value is the zero value: any live value matches.
SERVER_ALLOCATED: dict[str, Any] = {"clusterIP": "", "clusterIPs": [], "nodePort": 0, "healthCheckNodePort": 0}


# ----------------------------------------------------------------------------- normalization


def _drop_nulls(value: Any) -> Any:
    """A deep copy without null map values (`null` means absent, in YAML as in the API)."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) if isinstance(v, (dict, list)) else v for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _common(obj: dict) -> dict:
    """A copy without nulls, `status` and server metadata; what is dropped is never copied (managedFields
    is often the largest part of a live object)."""
    out: dict = {}
    for key, value in (obj if isinstance(obj, dict) else {}).items():
        if value is None or key == "status":
            continue
        if key == "metadata" and isinstance(value, dict):
            out[key] = {k: _drop_nulls(v) for k, v in value.items() if v is not None and k not in SERVER_METADATA}
        else:
            out[key] = _drop_nulls(value)
    return out


def _canonical_base64(value: Any) -> Any:
    """The server decodes `data` and re-encodes it: padding and line breaks do not survive."""
    if not isinstance(value, str):
        return value
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return value  # not base64: the server will reject it; show it as it is
    return base64.b64encode(raw).decode("ascii")


def _b64(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


_DATA_KINDS = frozenset({"Secret", "ConfigMap"})


def _null_data_is_empty(obj: dict, out: dict) -> None:
    """In live, a Secret's or ConfigMap's `data`/`binaryData` value of `null` is the empty value (the
    server returns an empty Secret value as `null`). In the desired state a null keeps meaning "remove"."""
    if obj.get("kind") not in _DATA_KINDS or split_api_version(str(obj.get("apiVersion") or ""))[0]:
        return
    for name in ("data", "binaryData"):
        values = obj.get(name)
        if isinstance(values, dict) and None in values.values():
            out[name] = {k: "" if v is None else v for k, v in values.items()}


def normalize_desired(obj: dict) -> dict:
    """The desired object as the server would store it: nulls, `status` and server metadata dropped,
    a Secret's `stringData` merged into base64 `data` (stringData wins, as on the server)."""
    out = _common(obj)
    group, _ = split_api_version(str(out.get("apiVersion") or ""))
    kind = out.get("kind")
    if is_secret(out):
        data = out.get("data")
        merged = {k: _canonical_base64(v) for k, v in data.items()} if isinstance(data, dict) else {}
        string_data = out.pop("stringData", None)
        if isinstance(string_data, dict):
            merged.update({k: _b64(v) for k, v in string_data.items()})
        if isinstance(data, dict) or isinstance(string_data, dict):
            out["data"] = merged
    elif not group and kind == "ConfigMap" and isinstance(out.get("binaryData"), dict):
        out["binaryData"] = {k: _canonical_base64(v) for k, v in out["binaryData"].items()}
    return out


def normalize_live(obj: dict) -> dict:
    """The live object without what the server owns: `status`, server metadata, nulls.

    Empty maps are kept: the patch is applied to the raw live object, so a map that exists there must
    be patched key by key, never re-added whole.
    """
    out = _common(obj)
    _null_data_is_empty(obj, out)
    return out


# ----------------------------------------------------------------------------- field predicates


def is_builtin(api_version: str) -> bool:
    """True for the API groups kube-apiserver serves from Go types (not CRDs)."""
    group, _ = split_api_version(api_version or "")
    return "." not in group or group in BUILTIN_GROUPS


def fields_of(path: Sequence[Any]) -> tuple[str, ...]:
    """A path's map keys, list indices left out: the shape the tables are written in."""
    return tuple(s for s in path if isinstance(s, str))


def _in_schema(fields: Sequence[str]) -> bool:
    return any(f in SCHEMA_FIELDS for f in fields)


def is_quantity_path(fields: tuple[str, ...], kind: str = "") -> bool:
    """Is the value at these map keys a resource quantity (`cpu: 500m`)?"""
    n = len(fields)
    if n < 2 or _in_schema(fields):
        return fields == ("capacity",) or fields == ("maximumVolumeSize",)  # CSIStorageCapacity
    if n >= 3 and fields[-3] == "resources" and fields[-2] in ("limits", "requests"):
        return True  # containers, PVC spec.resources.requests.storage, volumeClaimTemplates
    if fields[-2] in ("allocatable", "overhead", "podFixed") or fields[-3:-1] == ("spec", "capacity"):
        return True  # PV spec.capacity, pod overhead, RuntimeClass overhead.podFixed
    if fields[-3:-1] == ("spec", "hard"):
        return True  # ResourceQuota
    if n >= 3 and fields[-3] == "limits" and fields[-2] in _LIMIT_RANGE_FIELDS:
        return True  # LimitRange spec.limits[].max.cpu ...
    if fields[-2:] == ("resourceFieldRef", "divisor"):
        return True  # env valueFrom and downwardAPI items: `divisor: 1` is stored as "1"
    if kind == "HorizontalPodAutoscaler" and fields[:2] == ("spec", "metrics") and (
        fields[-2:] in _HPA_TARGETS or fields[-1] in ("targetValue", "targetAverageValue")
    ):
        return True  # v2beta2 target.value/averageValue, v2beta1 targetValue/targetAverageValue
    return fields[-2:] == ("emptyDir", "sizeLimit")


# HorizontalPodAutoscaler metric targets that are quantities (`averageValue: 1000` is stored as "1k").
_HPA_TARGETS = frozenset({("target", "value"), ("target", "averageValue")})


def is_free_form_map(fields: tuple[str, ...]) -> bool:
    """Is the map at these keys one of free-form keys (labels, data, resources.limits) rather than a struct?"""
    if not fields or _in_schema(fields):
        return False
    if fields[-1] in FREE_FORM_MAPS:
        return True
    return len(fields) >= 2 and fields[-1] in FREE_FORM_MAPS_IN.get(fields[-2], ())


def zero_is_absent(value: Any, path: Sequence[Any], builtin: bool) -> bool:
    """A desired zero value the server omits (`readOnly: false`) where the live object has nothing."""
    if not builtin or not path or not isinstance(path[-1], str):
        return False
    zero = ZERO_IS_ABSENT.get(path[-1], _NOTHING)
    if zero is _NOTHING or type(value) is not type(zero) or value != zero:
        return False
    parent = fields_of(path[:-1])
    return not is_free_form_map(parent) and not _in_schema(parent)  # an annotation "" is a real value


def server_allocated(value: Any, path: Sequence[Any], builtin: bool) -> bool:
    """A desired zero value the server replaces with one it chooses (`clusterIP: ""`, `nodePort: 0`)."""
    if not builtin or not path or not isinstance(path[-1], str):
        return False
    zero = SERVER_ALLOCATED.get(path[-1], _NOTHING)
    return zero is not _NOTHING and type(value) is type(zero) and value == zero


_NOTHING = object()


def quantities_equal(a: Any, b: Any) -> bool | None:
    """True/False when both are quantities, None when either is not."""
    try:
        return parse_quantity(a) == parse_quantity(b)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- JSON pointers


# escape, unescape, pointer and parse_pointer: kubesync.vocab (imported above, exported here).


# ----------------------------------------------------------------------------- ignore rules


class IgnoreRule(Protocol):
    """What the diff needs of an ignore rule (kubesync.config's rules, or anything shaped alike)."""

    paths: Sequence[str]  # JSON pointers; a `*` segment matches any map key or list index
    managers: Sequence[str]  # field managers (fnmatch patterns) whose fields in live are left alone


_END = "\x00end"


class IgnoreMatcher:
    """Answers "is this path ignored?" for the JSON-pointer patterns and manager-owned live fields.

    A path is ignored when a pattern is a prefix of it (ignoring `/spec/template` ignores all below).
    """

    def __init__(self, rules: Iterable[Any] = (), live: dict | None = None):
        self._trie: dict = {}
        managers: list[str] = []
        for rule in rules or ():
            for text in getattr(rule, "paths", None) or ():
                self._add(parse_pointer(text))
            managers.extend(str(m) for m in (getattr(rule, "managers", None) or ()))
        if managers and isinstance(live, dict):
            for path in managed_paths(live, managers):
                self._add(tuple(str(s) for s in path))

    def _add(self, segments: tuple[str, ...]) -> None:
        node = self._trie
        for s in segments:
            node = node.setdefault(s, {})
        node[_END] = True

    def __bool__(self) -> bool:
        return bool(self._trie)

    def ignored(self, path: Sequence[Any]) -> bool:
        if not self._trie:
            return False
        return self._match(self._trie, [str(s) for s in path], 0)

    def _match(self, node: dict, segs: list[str], i: int) -> bool:
        if _END in node:
            return True
        if i == len(segs):
            return False
        for key in (segs[i], "*"):
            child = node.get(key)
            if child is not None and self._match(child, segs, i + 1):
                return True
        return False

    def below(self, path: Sequence[Any]) -> bool:
        """Is some pattern strictly inside `path` (so writing or removing it whole would touch it)?"""
        if not self._trie:
            return False
        return self._below(self._trie, [str(s) for s in path], 0)

    def _below(self, node: dict, segs: list[str], i: int) -> bool:
        if i == len(segs):
            return any(k != _END for k in node)
        for key in (segs[i], "*"):
            child = node.get(key)
            if child is not None and self._below(child, segs, i + 1):
                return True
        return False
