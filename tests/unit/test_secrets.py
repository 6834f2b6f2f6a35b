"""Redaction keeps what says where and what: a Secret value that is also part of a file or object name
stays visible in that name, and is scrubbed everywhere it stands on its own (issue 33)."""

from __future__ import annotations

import io
import logging

import pytest

from kubesync import cli
from kubesync.errors import ManifestError
from kubesync.logs import RedactFilter
from kubesync.secrets import PLACEHOLDER, REDACTOR, redact, remember, remember_names
from kubesync.sources import SourceSpec, load

# Kubernetes' own cluster/addons/storage: a Secret whose password is the first word of its own name.
QUOBYTE = """\
apiVersion: v1
kind: Secret
metadata:
  name: quobyte-admin-secret
  namespace: kube-system
type: "kubernetes.io/quobyte"
stringData:
  user: admin
  password: quobyte
type: Opaque
"""
SERVER_SAYS = 'admission webhook "policy.example" denied the request: password "quobyte" is a dictionary word'


@pytest.fixture
def addon(tmp_path):
    (tmp_path / "quobyte-admin-secret.yaml").write_text(QUOBYTE)
    return tmp_path


def test_an_error_names_the_file_and_object_in_full_when_a_value_is_part_of_them(addon):
    with pytest.raises(ManifestError) as caught:
        load(SourceSpec(path=str(addon)))
    shown = redact(str(caught.value))
    assert "quobyte-admin-secret.yaml:10: v1 Secret kube-system/quobyte-admin-secret: duplicate key 'type'" in shown
    assert PLACEHOLDER not in shown


def test_the_value_on_its_own_is_scrubbed_from_a_server_message_beside_the_names(addon):
    with pytest.raises(ManifestError):
        load(SourceSpec(path=str(addon)))  # the loader remembers the value and the names
    where = "quobyte-admin-secret.yaml:1: v1 Secret kube-system/quobyte-admin-secret"
    shown = redact(f"{where}: {SERVER_SAYS}")
    head, _, server_part = shown.partition(": admission webhook")
    assert head == where
    assert "quobyte" not in server_part and 'password "***" is a dictionary word' in server_part
    # base64 forms and the value glued to other words are still scrubbed
    assert redact("echo cXVvYnl0ZQ== | base64 -d") == "echo *** | base64 -d"
    assert redact("xquobytex") == "x***x"


def test_the_cli_prints_the_file_and_object_and_never_the_value_in_free_text(addon, capsys):
    assert cli.main(["plan", str(addon), "--name", "addons"]) == 1
    err = capsys.readouterr().err
    assert "quobyte-admin-secret.yaml:10: v1 Secret kube-system/quobyte-admin-secret: duplicate key 'type'" in err
    assert err.replace("quobyte-admin-secret", "") .count("quobyte") == 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_records_keep_names_and_scrub_the_value(fmt):
    remember([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "quobyte-admin-secret", "namespace": "kube-system"},
               "stringData": {"password": "quobyte"}}])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    log = logging.getLogger(f"kubesync.test.secrets.{fmt}")
    log.addHandler(handler)
    try:
        log.warning("v1 Secret kube-system/quobyte-admin-secret: %s", SERVER_SAYS)
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    assert line.startswith("v1 Secret kube-system/quobyte-admin-secret: ")
    assert line.count("quobyte") == 1 and 'password "***"' in line


def test_a_value_equal_to_a_whole_name_is_scrubbed_where_it_stands_alone():
    """Only a *longer* name protects a value: a value that is a whole word of its own is always scrubbed."""
    remember([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hunter2-creds"}, "stringData": {"pw": "hunter2"}}])
    remember_names(["hunter2"])  # too short to hold a longer value: never protects itself
    assert redact("hunter2-creds: value hunter2 refused") == "hunter2-creds: value *** refused"
    assert redact("hunter2") == PLACEHOLDER


def test_names_are_forgotten_with_the_values():
    remember([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3cr3tvalue-x"}, "stringData": {"k": "s3cr3tvalue"}}])
    assert redact("s3cr3tvalue-x") == "s3cr3tvalue-x"
    REDACTOR.forget()
    remember([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other"}, "stringData": {"k": "s3cr3tvalue"}}])
    assert redact("s3cr3tvalue-x") == "***-x"
