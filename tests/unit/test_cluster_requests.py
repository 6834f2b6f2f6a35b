"""cluster/requests.py: every request is built from typed arguments; writes carry dryRun and the
fieldValidation kubesync asks for (kubectl's --validate), reads and deletes never carry them."""

from __future__ import annotations

import pytest

from kubesync.cluster import requests as build
from kubesync.cluster.requests import FieldValidation, Preconditions
from kubesync.model import CONFIGMAPS, NAMESPACES, PatchType

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "shop"}}


@pytest.mark.parametrize("mode, value", [(FieldValidation.STRICT, "Strict"), (FieldValidation.WARN, "Warn"),
                                         (FieldValidation.IGNORE, "Ignore"), ("Strict", "Strict")])
def test_writes_ask_for_the_field_validation_given(mode, value):
    create = build.create(CONFIGMAPS, CM, field_validation=mode)
    put = build.put(CONFIGMAPS, CM, field_validation=mode)
    patch = build.patch(CONFIGMAPS, "shop", "conf", [], PatchType.JSON, field_validation=mode)
    assert (create.method, create.path, dict(create.query)) == ("POST", "/api/v1/namespaces/shop/configmaps", {"fieldValidation": value})
    assert (put.method, put.path, dict(put.query)) == ("PUT", "/api/v1/namespaces/shop/configmaps/conf", {"fieldValidation": value})
    assert (patch.method, dict(patch.query), patch.content_type) == ("PATCH", {"fieldValidation": value}, PatchType.JSON.value)
    assert create.is_write and patch.is_write


def test_a_dry_run_carries_both_and_is_no_write():
    request = build.create(CONFIGMAPS, CM, dry_run=True, field_validation=FieldValidation.STRICT)
    assert dict(request.query) == {"dryRun": "All", "fieldValidation": "Strict"}
    assert request.dry_run and not request.is_write
    scale = build.patch(CONFIGMAPS, "shop", "conf", {}, PatchType.MERGE, subresource="scale", dry_run=True,
                        field_validation=FieldValidation.WARN)
    assert scale.path == "/api/v1/namespaces/shop/configmaps/conf/scale"
    assert dict(scale.query) == {"dryRun": "All", "fieldValidation": "Warn"}


def test_without_a_field_validation_the_servers_default_applies():
    assert dict(build.create(CONFIGMAPS, CM).query) == {}
    assert dict(build.patch(CONFIGMAPS, "shop", "conf", [], PatchType.JSON, dry_run=True).query) == {"dryRun": "All"}


def test_an_unknown_field_validation_is_refused():
    with pytest.raises(ValueError):
        build.create(CONFIGMAPS, CM, field_validation="strict")  # the API's values are capitalised


def test_deletes_and_reads_never_carry_field_validation():
    delete = build.delete(NAMESPACES, "", "shop", preconditions=Preconditions(uid="u"), dry_run=True)
    assert (delete.path, dict(delete.query)) == ("/api/v1/namespaces/shop", {"dryRun": "All"})
    assert delete.body == {"propagationPolicy": "Background", "preconditions": {"uid": "u"}}
    assert dict(build.get(CONFIGMAPS, "shop", "conf").query) == {}
