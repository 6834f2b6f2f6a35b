"""One settings model: defaults < kubesync.yaml < flags, merged once; each value check written once."""

from __future__ import annotations

import pytest

from kubesync.config import IgnoreRule, SyncConfig
from kubesync.settings import Flags, merge, positive_duration, share, webhook_url
from kubesync.sources import SourceSpec

SRC = SourceSpec(path="/src/shop")
RULE = IgnoreRule(kind="Deployment", paths=("/spec/replicas",))


def test_flags_alone_take_the_defaults():
    s = merge(Flags(source=SRC))
    assert (s.name, s.namespace, s.context, s.interval, s.max_prune) == ("shop", "", None, 30.0, 0.5)  # "": the context namespace, else default
    assert not (s.prune or s.self_heal or s.allow_empty or s.force or s.adopt) and s.ignore == ()


def test_a_flag_given_beats_the_file_and_the_file_beats_process_wide_flags():
    entry = SyncConfig(name="shop", source=SourceSpec(path="/cfg"), namespace="from-file", context="file-ctx",
                       interval=45.0, max_prune=0.2, ignore=(RULE,))
    s = merge(Flags(source=SRC, namespace="from-flag", context="flag-ctx", interval=10.0, max_prune=0.9), entry)
    assert (s.source, s.namespace, s.max_prune) == (SRC, "from-flag", 0.9)  # given flags win
    assert (s.context, s.interval, s.ignore) == ("file-ctx", 45.0, (RULE,))  # the file beats process-wide flags
    assert merge(Flags(context="flag-ctx"), SyncConfig(name="x", source=SRC)).context == "flag-ctx"


def test_switches_only_turn_settings_on():
    entry = SyncConfig(name="shop", source=SRC, prune=True, self_heal=True)
    s = merge(Flags(allow_empty=True, force=True), entry)
    assert (s.prune, s.self_heal, s.allow_empty, s.force, s.adopt) == (True, True, True, True, False)


def test_the_facade_spec_carries_every_planning_setting():
    spec = merge(Flags(source=SRC, prune=True, adopt=True, max_prune=0.3), SyncConfig(name="shop", source=SRC, ignore=(RULE,)))
    assert (spec.name, spec.namespace, spec.inventory_namespace) == ("shop", "", "kubesync-system")
    p = spec.planning
    assert (p.sync, p.prune, p.max_prune, p.adopt, p.force, p.ignore) == ("shop", True, 0.3, True, False, (RULE,))


def test_a_sync_without_an_entry_needs_a_source():
    with pytest.raises(ValueError, match="needs a source"):
        merge(Flags(name="shop"))


@pytest.mark.parametrize("check, value, message", [
    (share, 1.5, "1.5 is not between 0 and 1"),
    (share, -0.1, "is not between 0 and 1"),
    (share, True, "is not between 0 and 1"),
    (positive_duration, "0s", "must be more than 0"),
    (positive_duration, "soon", "'soon' is not a duration"),
    (webhook_url, "ftp://hooks/x", "must be an http:// or https:// URL"),
    (webhook_url, "http://", "must be an http:// or https:// URL"),
])
def test_each_value_check_names_the_problem(check, value, message):
    with pytest.raises(ValueError, match=message):
        check(value)


def test_good_values_pass_the_checks():
    assert (share(0), share(1), positive_duration("1m30s"), webhook_url("https://h/x?token=t")) == (0.0, 1.0, 90.0, "https://h/x?token=t")


def test_validation_is_strict_by_default_server_is_its_old_name_and_the_flag_beats_the_file():
    from kubesync.settings import Validation

    assert merge(Flags(source=SRC)).validation is Validation.STRICT
    assert Validation("server") is Validation.STRICT and Validation.SERVER is Validation.STRICT
    with pytest.raises(ValueError):
        Validation("lenient")
    entry = SyncConfig(name="shop", source=SRC, validation=Validation.WARN)
    assert merge(Flags(source=SRC), entry).validation is Validation.WARN  # not given: the file's
    assert merge(Flags(source=SRC, validation=Validation.NONE), entry).validation is Validation.NONE
