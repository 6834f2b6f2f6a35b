"""Planning rules: waves, ownership, scale detection, prune safety, risk flags."""

from __future__ import annotations

import copy
import json

import pytest

from kubesync.errors import PlanRefused
from kubesync.model import ActionType, Manifest, ObjectRef, Origin, ResourceType, Risk
from kubesync.plan import InventoryEntry, PlanSettings, build_plan, order, owned_object, plan_object, wave_of, waves
from kubesync.resolve import Resolved

DEPLOY_T = ResourceType("apps", "v1", "Deployment", "deployments", True, has_scale=True)
CM_T = ResourceType("", "v1", "ConfigMap", "configmaps", True)
NS_T = ResourceType("", "v1", "Namespace", "namespaces", False)
ROLE_T = ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True)


def resolved(obj, rtype, path="app.yaml", line=1) -> Resolved:
    ref = ObjectRef.of(obj)
    return Resolved(Manifest(ref, obj, Origin(path, line)), rtype, obj)


def deployment(name="web", replicas=2, image="nginx:1.25", ns="shop"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "web", "image": image}]}},
        },
    }


def configmap(name="cfg", ns="shop", data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data or {"k": "v"}}


def as_live(obj, sync="shop", uid="uid-1", rv="100", defaults=True):
    """What the server would hold after kubesync created obj (with some server defaults)."""
    live = owned_object(obj, sync)
    live["metadata"].update({"uid": uid, "resourceVersion": rv, "creationTimestamp": "2026-11-25T10:00:00Z"})
    if defaults and obj["kind"] == "Deployment":
        spec = live["spec"]
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        spec["revisionHistoryLimit"] = 10
        c = spec["template"]["spec"]["containers"][0]
        c.update({"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"})
        live["status"] = {"replicas": obj["spec"]["replicas"]}
    return live


S = PlanSettings(sync="shop")


def test_create_when_missing_carries_ownership_labels_and_fieldset():
    action, conflict = plan_object(resolved(configmap(), CM_T), None, S)
    assert conflict is None and action.type is ActionType.CREATE
    labels = action.desired["metadata"]["labels"]
    assert labels == {"app.kubernetes.io/managed-by": "kubesync", "kubesync.io/sync": "shop"}
    assert "kubesync.io/last-applied-fields" in action.desired["metadata"]["annotations"]
    assert action.origin == Origin("app.yaml", 1)


def test_noop_when_live_only_differs_by_server_defaults():
    d = deployment()
    action, _ = plan_object(resolved(d, DEPLOY_T), as_live(d), S)
    assert action.type is ActionType.NOOP
    assert action.uid == "uid-1" and action.resource_version == "100"


def test_scale_when_only_replicas_differ():
    live = as_live(deployment(replicas=2))
    action, _ = plan_object(resolved(deployment(replicas=5), DEPLOY_T), live, S)
    assert action.type is ActionType.SCALE
    assert action.replicas == (2, 5)
    assert action.patch == ({"op": "replace", "path": "/spec/replicas", "value": 5},)


def test_scale_to_zero_is_flagged():
    action, _ = plan_object(resolved(deployment(replicas=0), DEPLOY_T), as_live(deployment(replicas=3)), S)
    assert action.type is ActionType.SCALE
    assert Risk.SCALE_TO_ZERO in action.risks


def test_image_change_is_an_update_flagged_image():
    action, _ = plan_object(resolved(deployment(image="nginx:1.26"), DEPLOY_T), as_live(deployment()), S)
    assert action.type is ActionType.UPDATE
    assert action.patch == ({"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.26"},)
    assert Risk.IMAGE in action.risks


def test_selector_change_is_flagged_immutable_with_a_note():
    d = deployment()
    d["spec"]["selector"]["matchLabels"]["tier"] = "front"
    d["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    action, _ = plan_object(resolved(d, DEPLOY_T), as_live(deployment()), S)
    assert Risk.IMMUTABLE in action.risks
    assert "/spec/selector/matchLabels/tier" in action.note and "re-create" in action.note


def test_rbac_changes_are_flagged():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    action, _ = plan_object(resolved(role, ROLE_T), None, S)
    assert action.risks == (Risk.RBAC,)


@pytest.mark.parametrize(
    "labels, message",
    [
        ({"app.kubernetes.io/managed-by": "Helm"}, "managed by 'Helm'"),
        ({"app.kubernetes.io/managed-by": "kubesync", "kubesync.io/sync": "other"}, "managed by kubesync sync 'other'"),
        ({}, "exists and is not managed by kubesync (use --adopt to take it over)"),
    ],
)
def test_objects_owned_by_others_are_conflicts_left_alone(labels, message):
    live = {**configmap(data={"k": "theirs"}), "metadata": {"name": "cfg", "namespace": "shop", "labels": labels, "uid": "u"}}
    action, conflict = plan_object(resolved(configmap(), CM_T), live, S)
    assert action is None
    assert conflict == f"app.yaml:1: v1 ConfigMap shop/cfg: {message}; left alone"


def test_objects_marked_adoptable_are_taken_over_without_adopt():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubesync-system", "uid": "u", "resourceVersion": "1",
                                                                "labels": {"kubesync.io/adoptable": "true"}}}
    desired = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubesync-system"}}
    nst = ResourceType("", "v1", "Namespace", "namespaces", False)
    action, conflict = plan_object(resolved(desired, nst), ns, S)
    assert conflict is None and action.type is ActionType.UPDATE


def test_adopt_takes_over_unmanaged_objects_only():
    live = {**configmap(data={"k": "theirs"}), "metadata": {"name": "cfg", "namespace": "shop", "uid": "u", "resourceVersion": "7"}}
    action, conflict = plan_object(resolved(configmap(), CM_T), live, PlanSettings(sync="shop", adopt=True))
    assert conflict is None and action.type is ActionType.UPDATE
    paths = [op["path"] for op in action.patch]
    assert "/data/k" in paths and "/metadata/labels" in paths
    helm = copy.deepcopy(live)
    helm["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
    action, conflict = plan_object(resolved(configmap(), CM_T), helm, PlanSettings(sync="shop", adopt=True))
    assert action is None and "Helm" in conflict


def test_wave_table_and_annotation_override():
    assert wave_of(ObjectRef("", "v1", "Namespace", "", "a"), {}) == 0
    assert wave_of(ObjectRef("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "", "a"), {}) == 0
    assert wave_of(ObjectRef("", "v1", "ServiceAccount", "n", "a"), {}) == 1
    assert wave_of(ObjectRef("rbac.authorization.k8s.io", "v1", "Role", "n", "a"), {}) == 1
    assert wave_of(ObjectRef("rbac.authorization.k8s.io", "v1", "RoleBinding", "n", "a"), {}) == 2
    assert wave_of(ObjectRef("", "v1", "Secret", "n", "a"), {}) == 3
    assert wave_of(ObjectRef("", "v1", "Service", "n", "a"), {}) == 4
    assert wave_of(ObjectRef("apps", "v1", "Deployment", "n", "a"), {}) == 5
    assert wave_of(ObjectRef("networking.k8s.io", "v1", "Ingress", "n", "a"), {}) == 6
    assert wave_of(ObjectRef("example.com", "v1", "Widget", "n", "a"), {}) == 6
    override = {"metadata": {"annotations": {"kubesync.io/wave": "-1"}}}
    assert wave_of(ObjectRef("apps", "v1", "Deployment", "n", "a"), override) == -1


def _plan(desired, live_objs, inventory=(), settings=S):
    live = {}
    for obj in live_objs:
        live[ObjectRef.of(obj).key] = obj
    return build_plan(desired, live, live, inventory, settings)


def test_plan_orders_creates_by_wave_then_deletions_in_reverse():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    old_cm = as_live(configmap("old"), uid="u-old")
    old_deploy = as_live(deployment("old"), uid="u-olddep")
    desired = [resolved(deployment(), DEPLOY_T), resolved(configmap(), CM_T), resolved(ns, NS_T)]
    inv = [InventoryEntry(ObjectRef.of(old_cm), "u-old"), InventoryEntry(ObjectRef.of(old_deploy), "u-olddep")]
    plan = _plan(desired, [old_cm, old_deploy], inv, PlanSettings(sync="shop", prune=True, max_prune=1.0))
    kinds = [(a.type.value, a.ref.kind, a.ref.name) for a in plan.actions]
    assert kinds == [
        ("create", "Namespace", "shop"),
        ("create", "ConfigMap", "cfg"),
        ("create", "Deployment", "web"),
        ("delete", "Deployment", "old"),
        ("delete", "ConfigMap", "old"),
    ]
    assert [[a.ref.name for a in step] for step in waves(plan)] == [["shop"], ["cfg"], ["web"], ["old"], ["old"]]


def test_prune_only_deletes_inventory_objects_with_the_recorded_uid():
    keep = as_live(configmap("a"), uid="u-a")
    recreated = as_live(configmap("b"), uid="u-b-new")
    stray = as_live(configmap("c"), uid="u-c")
    desired = [resolved(configmap("x"), CM_T)]
    inv = [InventoryEntry(ObjectRef.of(keep), "u-a"), InventoryEntry(ObjectRef.of(recreated), "u-b-old")]
    plan = _plan(desired, [keep, recreated, stray], inv, PlanSettings(sync="shop", prune=True, max_prune=1.0))
    deletes = [a.ref.name for a in plan.actions if a.type is ActionType.DELETE]
    assert deletes == ["a"]
    assert plan.warnings == (
        "v1 ConfigMap shop/b: uid differs from the inventory (re-created by someone else?); not pruned",
        "v1 ConfigMap shop/c: carries this sync's label but is not in its inventory; not pruned",
    )


def test_prune_is_off_by_default():
    old = as_live(configmap("old"), uid="u")
    plan = _plan([resolved(configmap(), CM_T)], [old], [InventoryEntry(ObjectRef.of(old), "u")])
    assert [a.type for a in plan.actions] == [ActionType.CREATE]


def test_empty_source_never_prunes_without_allow_empty():
    old = as_live(configmap("old"), uid="u")
    inv = [InventoryEntry(ObjectRef.of(old), "u")]
    with pytest.raises(PlanRefused, match="the desired state is empty and pruning would delete all 1 object.*--allow-empty"):
        _plan([], [old], inv, PlanSettings(sync="shop", prune=True))
    with pytest.raises(PlanRefused, match="the desired state is empty"):  # --force lifts only the max-prune guard
        _plan([], [old], inv, PlanSettings(sync="shop", prune=True, force=True))
    plan = _plan([], [old], inv, PlanSettings(sync="shop", prune=True, allow_empty=True))
    assert [a.type for a in plan.actions] == [ActionType.DELETE]


def test_a_plan_without_prune_lists_what_a_prune_would_delete():
    old = as_live(configmap("old"), uid="u")
    kept = as_live(configmap("kept"), uid="k")
    inv = [InventoryEntry(ObjectRef.of(old), "u"), InventoryEntry(ObjectRef.of(kept), "k")]
    plan = _plan([resolved(configmap("kept"), CM_T)], [old, kept], inv, PlanSettings(sync="shop"))
    assert [a.type for a in plan.actions] == [ActionType.NOOP] and not plan.has_changes
    assert [(a.type, a.ref.name, a.uid, a.risks) for a in plan.would_prune] == [(ActionType.DELETE, "old", "u", (Risk.DELETE,))]
    pruned = _plan([resolved(configmap("kept"), CM_T)], [old, kept], inv, PlanSettings(sync="shop", prune=True))
    assert [a.ref.name for a in pruned.changes] == ["old"] and pruned.would_prune == ()


def test_losing_most_objects_is_refused_beyond_max_prune():
    objs = [as_live(configmap(f"c{i}"), uid=f"u{i}") for i in range(4)]
    inv = [InventoryEntry(ObjectRef.of(o), f"u{i}") for i, o in enumerate(objs)]
    desired = [resolved(configmap("c0"), CM_T)]
    with pytest.raises(PlanRefused, match=r"delete 3 of 4 object\(s\) .* \(75%, more than the allowed 50%\)"):
        _plan(desired, objs, inv, PlanSettings(sync="shop", prune=True))


def test_namespace_deletion_is_flagged():
    ns = as_live({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}, uid="u-ns")
    plan = _plan([resolved(configmap(), CM_T)], [ns], [InventoryEntry(ObjectRef.of(ns), "u-ns")],
                 PlanSettings(sync="shop", prune=True, max_prune=1.0))
    delete = [a for a in plan.actions if a.type is ActionType.DELETE][0]
    assert delete.risks == (Risk.DELETE, Risk.NAMESPACE_DELETE)


def test_order_is_stable():
    a = resolved(configmap("b"), CM_T)
    b = resolved(configmap("a"), CM_T)
    acts = [plan_object(a, None, S)[0], plan_object(b, None, S)[0]]
    assert [x.ref.name for x in order(acts)] == ["a", "b"]


def test_changing_an_immutable_configmap_is_flagged():
    live = as_live(configmap(data={"k": "old"}))
    live["immutable"] = True
    desired = configmap(data={"k": "new"})
    desired["immutable"] = True
    action, _ = plan_object(resolved(desired, CM_T), live, S)
    assert Risk.IMMUTABLE in action.risks
    assert "immutable: true" in action.note


def test_admission_webhook_configurations_go_in_a_wave_after_everything_they_could_intercept():
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": "policy"}, "webhooks": []}
    late_cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop",
                                                                              "annotations": {"kubesync.io/wave": "9"}}}
    wh_t = ResourceType("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False)
    widget_t = ResourceType("example.com", "v1", "Widget", "widgets", True)
    plan = _plan([resolved(webhook, wh_t), resolved(late_cr, widget_t), resolved(configmap("c"), CM_T)], [], [], S)
    assert [(a.ref.kind, a.wave) for a in plan.actions] == [("ConfigMap", 3), ("Widget", 9), ("ValidatingWebhookConfiguration", 10)]
    assert [[a.ref.kind for a in step] for step in waves(plan)] == [["ConfigMap"], ["Widget"], ["ValidatingWebhookConfiguration"]]
    pinned = {**webhook, "metadata": {"name": "policy", "annotations": {"kubesync.io/wave": "2"}}}
    assert [a.wave for a in _plan([resolved(pinned, wh_t)], [], [], S).actions] == [2]  # its own annotation wins


def test_a_pending_entry_owns_the_object_only_when_kubesync_wrote_it():
    """Pending: recorded before the create's answer (an interrupted apply); prunable once the live object shows
    kubesync's own write, never an object someone else made under that name and label."""
    ours = as_live(configmap("ours"), uid="u1")
    ours["metadata"]["managedFields"] = [{"manager": "kubesync", "operation": "Update"}]
    theirs = as_live(configmap("theirs"), uid="u2")
    theirs["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update"}]
    inv = [InventoryEntry(ObjectRef.of(ours), ""), InventoryEntry(ObjectRef.of(theirs), "")]
    plan = _plan([resolved(configmap("kept"), CM_T)], [ours, theirs], inv, PlanSettings(sync="shop", prune=True, max_prune=1.0))
    assert [(a.ref.name, a.uid) for a in plan.actions if a.type is ActionType.DELETE] == [("ours", "u1")]
    assert any("theirs: uid differs from the inventory" in w for w in plan.warnings)


def test_an_object_labelled_as_ours_but_not_in_the_inventory_is_not_adopted_without_asking():
    """A label is no claim (issue 31): an attacker's pre-created object with the sync's labels, an extra
    container and an ownerReference is a conflict; --adopt or the source's annotation takes it over, and
    the plan says what adoption keeps."""
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}
    squat = as_live(json.loads(json.dumps(desired)), uid="evil")
    squat["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "kubesync", "kubesync.io/sync": "shop"}
    squat["metadata"]["ownerReferences"] = [{"kind": "ConfigMap", "name": "attacker", "uid": "x", "apiVersion": "v1"}]
    squat["spec"]["template"]["spec"]["containers"].append({"name": "miner", "image": "evil:1"})
    deploy_t = ResourceType("apps", "v1", "Deployment", "deployments", True)
    action, conflict = plan_object(resolved(desired, deploy_t), squat, S, recorded=set())
    assert action is None and "carries this sync's labels but is not in its inventory" in conflict
    assert plan_object(resolved(desired, deploy_t), squat, S, recorded={ObjectRef.of(squat).key})[1] is None  # ours
    for settings, obj in ((PlanSettings(sync="shop", adopt=True), desired),
                          (S, {**desired, "metadata": {**desired["metadata"], "annotations": {"kubesync.io/adopt": "true"}}})):
        action, conflict = plan_object(resolved(obj, deploy_t), squat, settings, recorded=set())
        assert conflict is None
        assert "adopting keeps what the source does not set: containers miner; ownerReferences ConfigMap/attacker" in action.note
