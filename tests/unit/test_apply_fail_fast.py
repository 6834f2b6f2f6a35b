"""Which failures are the same failure across objects, and how a shared cause is reported once."""

from __future__ import annotations

import pytest

from kubesync import errors
from kubesync.apply import ApplyReport, Outcome, Repeats, cause_of
from kubesync.model import Action, ActionType, ObjectRef

WEBHOOK = ('POST /api/v1/namespaces/shop/configmaps: Internal error occurred: failed calling webhook "deny.kubesync.test": '
           'Post "https://127.0.0.1:1/validate?timeout=5s": dial tcp 127.0.0.1:1: connect: connection refused')


def ref(name: str) -> ObjectRef:
    return ObjectRef("", "v1", "ConfigMap", "shop", name)


@pytest.mark.parametrize(
    "error, cause",
    [
        (errors.ClusterError(WEBHOOK, status=500), 'admission webhook "deny.kubesync.test" cannot be called'),
        (errors.ClusterUnauthorized('POST /x: pods "a" is forbidden: exceeded quota: compute, requested: cpu=1', status=403),
         'ResourceQuota "compute" is exhausted'),
        (errors.ClusterError("POST /x: Internal error occurred: failed to allocate a serviceIP: range is full", status=500),
         "the Service IP range is full"),
        (errors.ClusterUnauthorized('POST /x: configmaps "a" is forbidden: User "bob" cannot create resource "configmaps"', status=403),
         'configmaps "…" is forbidden: User "…" cannot create resource "…"'),
        (errors.ClusterInvalid('POST /x: ConfigMap "a" is invalid: data: bad', status=422), ""),  # each object's own fault
        (errors.ClusterConflict("POST /x: conflict", status=409), ""),
        (errors.ResolveError("the cluster does not serve v1 Gizmo"), ""),
    ],
)
def test_cause_of(error, cause):
    assert cause_of(error) == cause


def test_the_same_forbidden_for_two_objects_is_one_cause():
    a = errors.ClusterUnauthorized('POST /api/v1/namespaces/x/configmaps: configmaps "a" is forbidden: User "bob" cannot', status=403)
    b = errors.ClusterUnauthorized('POST /api/v1/namespaces/x/configmaps: configmaps "b" is forbidden: User "bob" cannot', status=403)
    assert cause_of(a) == cause_of(b) != ""


def test_repeats_trip_at_the_threshold_and_name_the_first_object():
    r = Repeats(3)
    assert r.record("webhook", ref("a")) is None
    assert r.record("webhook", ref("b")) == ref("a")
    assert not r.tripped
    r.record("other", ref("c"))
    r.record("webhook", ref("d"))
    assert r.tripped == "webhook"


def test_zero_threshold_never_trips():
    r = Repeats(0)
    for i in range(10):
        r.record("webhook", ref(str(i)))
    assert not r.tripped


def test_a_shared_cause_is_one_line_with_its_count():
    def failed(name: str, message: str, cause: str) -> Outcome:
        return Outcome(Action(ActionType.CREATE, ref(name)), "failed", message, cause=cause)

    cause = 'admission webhook "deny.kubesync.test" cannot be called'
    report = ApplyReport(stopped_by=cause, cut_short=195)
    report.outcomes = [
        failed("c1", f"c1.yaml:1: v1 ConfigMap shop/c1: {WEBHOOK}", cause),
        *(failed(n, f"v1 ConfigMap shop/{n}: same failure as v1 ConfigMap shop/c1", cause) for n in ("c2", "c3", "c4", "c5")),
        failed("bad", "v1 ConfigMap shop/bad: invalid", ""),
    ]
    lines = report.failure_lines()
    assert lines == [
        f"5 objects failed the same way; 195 more of this wave were not started: c1.yaml:1: v1 ConfigMap shop/c1: {WEBHOOK} "
        "(also v1 ConfigMap shop/c2, v1 ConfigMap shop/c3, v1 ConfigMap shop/c4 and 1 more)",
        "v1 ConfigMap shop/bad: invalid",
    ]
    assert sum(line.count("deny.kubesync.test") for line in lines) == 1
