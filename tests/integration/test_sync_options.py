"""The annotations Argo CD and Flux users already wrote, against the real control plane: one test per
annotation (Prune=false, Flux's prune: disabled, PruneLast, sync waves forward and reversed for prunes,
IfNotPresent, Ignore, Replace=true, Delete=false, Force/force: Enabled, Prune=confirm,
SkipDryRunOnMissingResource, Validate=false, IgnoreExtraneous) and a warning for what kubesync does not do."""

from __future__ import annotations

import pytest

from kubesync import errors
from kubesync.apply import ApplySettings
from kubesync.model import CONFIGMAPS, CRDS, ActionType, PatchType, ResourceType
from kubesync.sync import raise_for_failures
from tests.support.events import DEPLOYMENTS, ServerEvents
from tests.support.harness import SyncHarness
from tests.support.manifests import configmap, crd, custom, deployment, write
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

ARGO = "argocd.argoproj.io/sync-options"
WAVE = "argocd.argoproj.io/sync-wave"


def cm(name: str, data: dict | None = None, **annotations) -> dict:
    return configmap(name, data if data is not None else {"v": "1"}, annotations=annotations or None)


def harness(client, tmp_path, namespace, files: dict, **options) -> SyncHarness:
    return SyncHarness(client, write(tmp_path / "src", files), f"o-{namespace[-6:]}", namespace, **options)


def apply(h: SyncHarness, **plan_opts):
    planned = h.plan(**plan_opts)
    report = h.pipeline.apply(planned, ApplySettings())
    raise_for_failures(report)
    return planned


def data(client, namespace, name):
    return (client.get(CONFIGMAPS, namespace, name) or {}).get("data")


def test_prune_false_and_flux_prune_disabled_survive_a_prune(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"keep.yaml": cm("keep"), "argo.yaml": cm("argo", **{ARGO: "Prune=false"}),
                                              "flux.yaml": cm("flux", **{"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
                                              "plain.yaml": cm("plain")})
    apply(h)
    for name in ("argo", "flux", "plain"):
        (h.folder / f"{name}.yaml").unlink()
    planned = apply(h, prune=True)
    assert [str(a.ref) for a in planned.plan.changes] == [f"v1 ConfigMap {namespace}/plain"]
    assert f"v1 ConfigMap {namespace}/argo: gone from the source; not pruned ({ARGO}: Prune=false)" in planned.plan.warnings
    assert (f"v1 ConfigMap {namespace}/flux: gone from the source; not pruned (kustomize.toolkit.fluxcd.io/prune: disabled)"
            in planned.plan.warnings)
    assert data(client, namespace, "argo") and data(client, namespace, "flux") and data(client, namespace, "plain") is None


def test_prunes_run_their_waves_in_reverse_and_prune_last_after_them(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {
        "keep.yaml": cm("keep"), "w0.yaml": cm("w0"), "w1.yaml": cm("w1", **{WAVE: "1"}), "w2.yaml": cm("w2", **{WAVE: "2"}),
        "last.yaml": cm("last", **{WAVE: "2", ARGO: "PruneLast=true"}), "early.yaml": cm("early", **{WAVE: "-1"})})
    apply(h)
    for name in ("w0", "w1", "w2", "last", "early"):
        (h.folder / f"{name}.yaml").unlink()
    events = ServerEvents(client, namespace, CONFIGMAPS)
    apply(h, prune=True, max_prune=1.0)
    deleted = [e.name for e in sorted((e for e in events.of("ConfigMap") if e.type == "DELETED"), key=lambda e: e.revision)]
    assert deleted == ["w2", "w1", "w0", "early", "last"], deleted


def test_sync_waves_order_the_apply_before_the_kinds(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"late.yaml": cm("late", **{WAVE: "1"}), "plain.yaml": cm("plain"),
                                              "web.yaml": deployment("web", annotations={WAVE: "-1"})})
    events = ServerEvents(client, namespace, CONFIGMAPS, DEPLOYMENTS)
    planned = apply(h)
    added = [e.name for e in sorted((e for e in events.events if e.type == "ADDED"), key=lambda e: e.revision)
             if not e.name.startswith("kubesync-")]
    assert added == ["web", "plain", "late"], added  # without waves a Deployment comes after ConfigMaps
    assert [(a.ref.name, a.sync_wave) for a in planned.plan.changes] == [("web", -1), ("plain", 0), ("late", 1)]


def test_if_not_present_is_created_but_never_updated(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"once.yaml": cm("once", {"v": "1"}, **{"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"})})
    apply(h)
    assert data(client, namespace, "once") == {"v": "1"}
    write(h.folder, {"once.yaml": cm("once", {"v": "2"}, **{"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"})})
    planned = apply(h)
    (action,) = planned.plan.actions
    assert action.type is ActionType.NOOP and "IfNotPresent" in action.note
    assert data(client, namespace, "once") == {"v": "1"}


def test_ssa_ignore_is_never_created_nor_updated(client, namespace, tmp_path):
    annotations = {"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}
    h = harness(client, tmp_path, namespace, {"theirs.yaml": cm("theirs", {"v": "source"}, **annotations), "mine.yaml": cm("mine")})
    planned = apply(h)
    assert data(client, namespace, "theirs") is None
    assert any(w.endswith(f"v1 ConfigMap {namespace}/theirs: not created (kustomize.toolkit.fluxcd.io/ssa: Ignore)")
               for w in planned.plan.warnings), planned.plan.warnings
    client.create(CONFIGMAPS, configmap("theirs", {"v": "by hand"}, namespace=namespace))
    planned = apply(h)
    assert not planned.plan.has_changes and data(client, namespace, "theirs") == {"v": "by hand"}


def test_replace_true_sends_the_whole_object(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"r.yaml": cm("r", **{ARGO: "Replace=true"}), "p.yaml": cm("p")})
    apply(h)
    before = client.get(CONFIGMAPS, namespace, "r")["metadata"]["uid"]
    for name in ("r", "p"):  # another writer's label: a patch keeps it, a replace drops it
        client.patch(CONFIGMAPS, namespace, name, {"metadata": {"labels": {"team": "someone"}}}, PatchType.MERGE)
    write(h.folder, {"r.yaml": cm("r", {"v": "2"}, **{ARGO: "Replace=true"}), "p.yaml": cm("p", {"v": "2"})})
    planned = apply(h)
    assert any("Replace=true" in a.note for a in planned.plan.changes if a.ref.name == "r")
    r, p = client.get(CONFIGMAPS, namespace, "r"), client.get(CONFIGMAPS, namespace, "p")
    assert r["data"] == {"v": "2"} and "team" not in r["metadata"]["labels"] and r["metadata"]["uid"] == before
    assert p["data"] == {"v": "2"} and p["metadata"]["labels"]["team"] == "someone"


def test_delete_false_is_left_behind_when_the_sync_is_deleted(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"keep.yaml": cm("keep", **{ARGO: "Delete=false"}), "gone.yaml": cm("gone")})
    apply(h)
    (h.folder / "gone.yaml").unlink()
    (h.folder / "keep.yaml").unlink()
    planned = apply(h, prune=True, allow_empty=True)  # the sync's source emptied on purpose: the sync goes
    assert [str(a.ref) for a in planned.plan.changes] == [f"v1 ConfigMap {namespace}/gone"]
    assert f"v1 ConfigMap {namespace}/keep: gone from the source; left behind as the sync is deleted ({ARGO}: Delete=false)" \
        in planned.plan.warnings
    assert data(client, namespace, "keep") == {"v": "1"} and data(client, namespace, "gone") is None


def test_force_lets_an_unattended_run_replace_an_immutable_object(client, namespace, tmp_path):
    forced = {"kustomize.toolkit.fluxcd.io/force": "Enabled"}
    files = {"f.yaml": {**cm("f", **forced), "immutable": True}, "a.yaml": {**cm("a", **{ARGO: "Force=true"}), "immutable": True},
             "n.yaml": {**cm("n"), "immutable": True}}
    h = harness(client, tmp_path, namespace, files)
    apply(h)
    uids = {n: client.get(CONFIGMAPS, namespace, n)["metadata"]["uid"] for n in "fan"}
    write(h.folder, {name: {**body, "data": {"v": "2"}} for name, body in files.items()})
    planned = apply(h, unattended=True)  # as the daemon plans: nobody confirms a replacement
    assert sorted(a.ref.name for a in planned.plan.changes if a.type is ActionType.REPLACE) == ["a", "f"]
    assert any(w.startswith(f"n.yaml:1: v1 ConfigMap {namespace}/n: needs to be replaced") for w in planned.plan.warnings)
    for name in "fa":
        assert data(client, namespace, name) == {"v": "2"} and client.get(CONFIGMAPS, namespace, name)["metadata"]["uid"] != uids[name]
    assert data(client, namespace, "n") == {"v": "1"}


def test_prune_confirm_is_never_pruned_by_an_unattended_run(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"keep.yaml": cm("keep"), "ask.yaml": cm("ask", **{ARGO: "Prune=confirm"})})
    apply(h)
    (h.folder / "ask.yaml").unlink()
    planned = apply(h, prune=True, unattended=True)
    assert not planned.plan.has_changes and data(client, namespace, "ask")
    assert any("Prune=confirm needs a person" in w for w in planned.plan.warnings), planned.plan.warnings
    planned = apply(h, prune=True)  # `kubesync apply --prune`: a person confirms it (or passes --yes)
    (deletion,) = planned.plan.changes
    assert deletion.type is ActionType.DELETE and "Prune=confirm" in deletion.note
    assert data(client, namespace, "ask") is None


def test_skip_dry_run_on_missing_resource_waits_for_a_crd_made_elsewhere(client, namespace, tmp_path):
    group = f"{namespace[-6:]}.skip.example.com"
    widget = custom(group, "Widget", "w1", {"size": 1})
    h = harness(client, tmp_path, namespace, {"w.yaml": widget})
    with pytest.raises(errors.ResolveError, match="is its CustomResourceDefinition installed"):
        h.plan()
    write(h.folder, {"w.yaml": {**widget, "metadata": {**widget["metadata"], "annotations": {ARGO: "SkipDryRunOnMissingResource=true"}}}})
    planned = h.plan()
    assert any("SkipDryRunOnMissingResource=true" in w for w in planned.plan.warnings), planned.plan.warnings
    definition = crd(group, "Widget", {"size": {"type": "integer"}})
    client.create(CRDS, definition)  # what a controller (gatekeeper) would do
    try:
        raise_for_failures(h.pipeline.apply(planned, ApplySettings()))
        rtype = ResourceType(group, "v1", "Widget", "widgets", True)
        assert wait_for(lambda: client.get(rtype, namespace, "w1"), 10, what="the widget")["spec"] == {"size": 1}
    finally:
        client.delete(CRDS, "", definition["metadata"]["name"])


def test_validate_false_skips_the_server_dry_run(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"v.yaml": cm("v", **{ARGO: "Validate=false"})})
    planned = apply(h)
    assert f"1 object(s) with {ARGO}: Validate=false: validated by the server only when applied" in planned.plan.warnings
    assert data(client, namespace, "v") == {"v": "1"}


def test_ignore_extraneous_is_not_shown_as_would_be_pruned(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"keep.yaml": cm("keep"), "gen.yaml": cm("gen", **{"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}),
                                              "old.yaml": cm("old")})
    apply(h)
    (h.folder / "gen.yaml").unlink()
    (h.folder / "old.yaml").unlink()
    planned = h.plan()
    assert [a.ref.name for a in planned.plan.would_prune] == ["old"]


def test_what_kubesync_does_not_do_is_a_warning_naming_the_object(client, namespace, tmp_path):
    h = harness(client, tmp_path, namespace, {"ssa.yaml": cm("ssa", **{ARGO: "ServerSideApply=true,CreateNamespace=true"})})
    planned = apply(h)
    assert (f"ssa.yaml:1: v1 ConfigMap {namespace}/ssa: {ARGO} ServerSideApply=true: server-side apply is not supported yet; "
            "applied with kubesync's own three-way merge") in planned.plan.warnings
    assert any("CreateNamespace=true: an Application's option, ignored on an object" in w for w in planned.plan.warnings)
    assert data(client, namespace, "ssa") == {"v": "1"}
