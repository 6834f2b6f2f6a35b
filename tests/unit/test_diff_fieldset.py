"""kubesync.diff.fieldset: what kubesync set, kept small and read back tolerantly."""

from __future__ import annotations

import base64
import random
import zlib

import pytest

from kubesync.diff import FieldSet, decode, diff, encode, fieldset_of, last_applied_of, normalize_desired
from kubesync.diff.fieldset import COMPRESS_ABOVE, HashedKeys
from kubesync.model import LAST_APPLIED_ANNOTATION

ANNOTATIONS_LIMIT = 256 * 1024  # Kubernetes' limit on all annotations of one object, in bytes

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "annotations": {LAST_APPLIED_ANNOTATION: "{}"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx", "args": ["-g", "daemon off;"], "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}
                ],
                "securityContext": {},
                "volumes": [],
            }
        },
    },
    "status": {"replicas": 2},
}


def configmap(keys, value_size):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "ns"}, "data": {k: "x" * value_size for k in keys}}


def test_fieldset_is_a_trie_with_markers_for_keyed_items():
    assert fieldset_of(normalize_desired(DEPLOYMENT)).tree == {
        "metadata": {"labels": {"app": {}}},
        "spec": {
            "replicas": {},
            "template": {
                "spec": {
                    "containers": {
                        "@name": {
                            "web": {
                                "name": {},
                                "image": {},
                                "args": {},
                                "ports": {"@containerPort,protocol": {'[80,"TCP"]': {"containerPort": {}}, '[53,"UDP"]': {"containerPort": {}, "protocol": {}}}},
                            }
                        }
                    },
                    "securityContext": {},
                    "volumes": {"@name": {}},
                }
            },
        },
    }


def test_fieldset_excludes_identity_status_and_its_own_annotation():
    tree = fieldset_of(normalize_desired(DEPLOYMENT)).tree
    assert "status" not in tree and "apiVersion" not in tree and "kind" not in tree
    assert set(tree["metadata"]) == {"labels"}


def test_paths_are_readable():
    paths = fieldset_of(normalize_desired(DEPLOYMENT)).paths()
    assert "spec.template.spec.containers.@name=web.image" in paths
    assert "metadata.labels.app" in paths


def test_encode_is_compact_sorted_json_and_round_trips():
    fs = fieldset_of(normalize_desired(DEPLOYMENT))
    text = encode(fs)
    assert text.startswith("{") and " " not in text.replace("daemon off", "")
    assert decode(text) == fs
    shuffled = dict(reversed(list(DEPLOYMENT.items())))
    assert encode(fieldset_of(normalize_desired(shuffled))) == text  # key order does not change the annotation


def test_large_sets_are_compressed():
    fs = fieldset_of(configmap([f"key-{i}" for i in range(500)], 1))
    text = encode(fs)
    assert len(text) > 0 and text.startswith("z:")
    assert len('{"data":{}}') + 500 * 10 > COMPRESS_ABOVE
    assert decode(text) == fs


@pytest.mark.parametrize("style", ["file-names", "random-hex", "long-random"])
def test_one_mib_configmap_in_ten_thousand_keys_encodes_well_under_the_annotation_limit(style):
    rnd = random.Random(7)
    if style == "file-names":
        keys = [f"templates/partial-{i:05d}.html.tmpl".replace("/", "_") for i in range(10_000)]
    elif style == "random-hex":
        keys = [rnd.randbytes(16).hex() for _ in range(10_000)]
    else:
        keys = [base64.urlsafe_b64encode(rnd.randbytes(75)).decode() for _ in range(10_000)]  # 100 characters
    cm = configmap(keys, (1024 * 1024) // 10_000 - 8)
    assert sum(len(k) + len(v) for k, v in cm["data"].items()) >= 1_000_000
    text = encode(fieldset_of(normalize_desired(cm)))
    assert len(text.encode()) < ANNOTATIONS_LIMIT // 2
    # and it still does its job: a key gone from desired is removed, a foreign key is left alone
    back = decode(text)
    desired = configmap(keys[1:], 1)
    desired["data"] = {k: cm["data"][k] for k in keys[1:]}
    live = {**cm, "data": {**cm["data"], "foreign": "x"}}
    assert list(diff(desired, live, back).patch) == [{"op": "remove", "path": f"/data/{keys[0]}"}]


def test_hashed_keys_answer_membership_only():
    hk = HashedKeys.of(["a", "b"])
    assert "a" in hk and "c" not in hk and hk["a"] == {} and len(hk) == 2 and list(hk) == []
    assert decode(encode(FieldSet({"data": hk}))) == FieldSet({"data": hk})


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "not json",
        "[]",
        '{"a": 1}',
        '{"a": {"b": []}}',
        '"string"',
        "z:",
        "z:!!!not base64",
        "z:" + base64.b64encode(b"not zlib").decode(),
        "z:" + base64.b64encode(zlib.compress(b"not json")).decode(),
        "z:" + base64.b64encode(zlib.compress(b"\xff\xfe")).decode(),
        '{"data": {"#": "not-base64!"}}',
        '{"data": {"#": "YWJj"}}',  # 3 bytes: not whole hashes
        "[" * 100_000 + "]" * 100_000,
        12,
    ],
)
def test_decode_garbage_gives_none(garbage):
    assert decode(garbage) is None


def test_decode_refuses_a_zip_bomb():
    bomb = "z:" + base64.b64encode(zlib.compress(b'{"a":"' + b"x" * (17 * 1024 * 1024) + b'"}')).decode()
    assert decode(bomb) is None


def test_garbage_annotation_means_two_way_no_removals():
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    live = {**desired, "metadata": {"name": "c", "annotations": {LAST_APPLIED_ANNOTATION: "{{garbage"}}, "data": {"a": "2", "b": "3"}}
    assert last_applied_of(live) is None
    assert list(diff(desired, live, last_applied_of(live)).patch) == [{"op": "replace", "path": "/data/a", "value": "1"}]
    assert list(diff(desired, live, "{{garbage").patch) == [{"op": "replace", "path": "/data/a", "value": "1"}]


def test_last_applied_of_objects_without_it():
    assert last_applied_of({}) is None
    assert last_applied_of({"metadata": {"annotations": None}}) is None
    assert last_applied_of(None) is None


def test_duplicate_keys_record_the_list_as_atomic():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "a"}]}}
    assert fieldset_of(pod).tree == {"spec": {"containers": {}}}
