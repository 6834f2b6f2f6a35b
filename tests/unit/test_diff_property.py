"""Properties of the diff over every live fixture and many random edits of both sides:

* the patch applies to the raw live object (parents exist, indices valid, removals hit real fields);
* diffing the patched object again, with the new last-applied set, gives an empty patch;
* the patched object contains the desired one; the patch never touches status or server metadata.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import jsonpatch
import pytest
import yaml

from kubesync.diff import contains, diff, fieldset_of, normalize_desired
from kubesync.diff.normalize import SERVER_METADATA

LIVE = Path(__file__).parent / "fixtures" / "live"
FIXTURES = sorted(p.stem for p in LIVE.glob("*.yaml"))
CASES_PER_FIXTURE = 60


def user_yaml(live_obj: dict) -> dict:
    """What a user would have written for this live object: the server's own fields stripped."""
    d = normalize_desired(live_obj)
    d.get("metadata", {}).pop("annotations", None)
    return d


def _paths(value, path=()):
    """Every (path, value) below value, parents first."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def _editable(obj):
    return [(p, v) for p, v in _paths(obj) if len(p) >= 2 and p[0] in ("spec", "data", "metadata", "type") and p[:2] not in (("metadata", "name"), ("metadata", "namespace"))]


def _parent(obj, path):
    node = obj
    for s in path[:-1]:
        node = node[s]
    return node


def _other(value, rnd):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rnd.choice((1, -1, 100))
    if isinstance(value, float):
        return value * 2
    if isinstance(value, str):
        return rnd.choice((value + "-x", "", "0", "1Gi", str(len(value))))
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    return {"k": "v"}


def mutate(obj: dict, rnd: random.Random, allow_nulls: bool) -> None:
    candidates = _editable(obj)
    if not candidates:
        return
    path, value = rnd.choice(candidates)
    parent = _parent(obj, path)
    action = rnd.choice(("change", "change", "delete", "add", "empty", "null", "append", "retype"))
    key = path[-1]
    if action == "change" and not isinstance(value, (dict, list)):
        parent[key] = _other(value, rnd)
    elif action == "delete":
        del parent[key]
    elif action == "add" and isinstance(value, dict):
        value[rnd.choice(("zz-added", "example.com/added", "tilde~key"))] = rnd.choice(("v", 1, True, {"n": 1}))
    elif action == "empty" and isinstance(value, (dict, list)):
        parent[key] = type(value)()
    elif action == "null" and allow_nulls and isinstance(parent, dict):
        parent[key] = None
    elif action == "append" and isinstance(value, list) and value:
        item = copy.deepcopy(rnd.choice(value))
        if isinstance(item, dict):
            for k in ("name", "mountPath", "ip", "port", "containerPort"):
                if k in item:
                    item[k] = item[k] + 1000 if isinstance(item[k], int) else f"{item[k]}-new"
        value.append(item)
    elif action == "retype":
        parent[key] = "retyped" if isinstance(value, (dict, list)) else {"was": value}


@pytest.mark.parametrize("name", FIXTURES)
def test_patch_applies_and_rediff_is_empty(name):
    base_live = yaml.safe_load((LIVE / f"{name}.yaml").read_text())
    base_desired = user_yaml(base_live)
    rnd = random.Random(name)
    for case in range(CASES_PER_FIXTURE):
        desired, live = copy.deepcopy(base_desired), copy.deepcopy(base_live)
        for _ in range(rnd.randint(0, 3)):
            mutate(desired, rnd, allow_nulls=True)
        for _ in range(rnd.randint(0, 3)):
            mutate(live, rnd, allow_nulls=False)
        last = fieldset_of(normalize_desired(base_desired)) if case % 4 else None
        result = diff(desired, live, last)
        where = f"{name} case {case}: patch {list(result.patch)}"
        for op in result.patch:
            assert not op["path"].startswith("/status"), where
            assert not any(op["path"].startswith(f"/metadata/{m}") for m in SERVER_METADATA), where
        patched = jsonpatch.apply_patch(live, list(result.patch))  # raises if a parent or index is wrong
        assert diff(desired, patched, fieldset_of(normalize_desired(desired))).patch == (), where
        assert contains(desired, patched), where
        assert diff(desired, patched, None).patch == (), where


@pytest.mark.parametrize("name", FIXTURES)
def test_user_yaml_of_live_has_no_changes(name):
    live = yaml.safe_load((LIVE / f"{name}.yaml").read_text())
    desired = user_yaml(live)
    assert diff(desired, live, fieldset_of(desired)).patch == ()
    assert contains(desired, live)


@pytest.mark.parametrize("name", FIXTURES)
def test_removed_fields_are_gone_after_the_patch(name):
    """Every leaf kubesync set and the user then deleted is absent from the patched object."""
    live = yaml.safe_load((LIVE / f"{name}.yaml").read_text())
    base = user_yaml(live)
    last = fieldset_of(base)
    rnd = random.Random("removed-" + name)
    leaves = [p for p, v in _editable(base) if not isinstance(v, (dict, list)) and not any(isinstance(s, int) for s in p)]
    for path in rnd.sample(leaves, min(10, len(leaves))):
        desired = copy.deepcopy(base)
        del _parent(desired, path)[path[-1]]
        patched = jsonpatch.apply_patch(live, list(diff(desired, live, last).patch))
        node = normalize_desired(patched) if name != "secret" else patched
        for s in path[:-1]:
            node = node.get(s, {}) if isinstance(node, dict) else {}
        assert path[-1] not in node, f"{name}: {path} still there"
