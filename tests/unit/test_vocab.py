"""The shared vocabulary: each helper written once, with the cases its former copies covered."""

from __future__ import annotations

import pytest
import yaml

from kubesync import vocab
from kubesync.model import ObjectRef


@pytest.mark.parametrize("revision, width, keep, expected", [
    ("0123456789abcdef0123456789abcdef01234567", 7, True, "0123456"),  # git log --oneline
    ("sha256:0123456789abcdef", 12, True, "sha256:0123456789ab"),  # a folder's content hash
    ("sha256:0123456789abcdef", 7, False, "0123456"),  # markdown's headline
    ("main", 7, True, "main"),  # not a hash: as it is
    ("", 12, True, ""),
])
def test_short_revision(revision, width, keep, expected):
    assert vocab.short_revision(revision, width, keep_prefix=keep) == expected


def test_json_pointers_round_trip_with_escapes():
    path = ("metadata", "annotations", "example.com/a~b")
    assert vocab.pointer(path) == "/metadata/annotations/example.com~1a~0b"
    assert vocab.parse_pointer(vocab.pointer(path)) == path
    assert vocab.parse_pointer("") == () and vocab.parse_pointer("spec/replicas") == ("spec", "replicas")


def test_is_secret_for_refs_and_objects():
    assert vocab.is_secret(ObjectRef("", "v1", "Secret", "a", "b"))
    assert vocab.is_secret({"apiVersion": "v1", "kind": "Secret"})
    assert not vocab.is_secret({"apiVersion": "example.com/v1", "kind": "Secret"})
    assert not vocab.is_secret(ObjectRef("example.com", "v1", "Secret", "a", "b")) and not vocab.is_secret(None)


def test_metadata_views():
    obj = {"metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "labels": {"x": "y"}}, "status": {"s": 1}}
    assert vocab.labels(obj) == {"x": "y"} and vocab.annotations(obj) == {} and vocab.metadata(None) == {}
    assert vocab.without_metadata(obj, vocab.VOLATILE_METADATA, drop_status=True) == {
        "metadata": {"name": "a", "uid": "u", "labels": {"x": "y"}}}
    assert set(vocab.VOLATILE_METADATA) <= set(vocab.SERVER_METADATA) and "deletionTimestamp" not in vocab.HIDDEN_METADATA


def test_each_resolver_class_keeps_its_own_answers():
    class Loader(vocab.CachedResolver, yaml.SafeLoader):
        pass

    class Dumper(vocab.CachedResolver, yaml.SafeDumper):
        pass

    assert yaml.load("a: 2020-01-01\nb: 'x'\n", Loader=Loader) == yaml.safe_load("a: 2020-01-01\nb: 'x'\n")
    assert Loader._resolved and Loader._resolved is not Dumper._resolved and not Dumper._resolved
