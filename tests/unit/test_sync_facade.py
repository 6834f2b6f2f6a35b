"""The facade's pure pieces: the inventory a run leaves behind, the status rows of a plan, the watch set."""

from __future__ import annotations

from dataclasses import replace

from kubesync import errors
from kubesync.apply import ApplyReport, Outcome
from kubesync.cluster.api import Client
from kubesync.model import Action, ActionType, Manifest, ObjectRef, Origin, Plan, ResourceType
from kubesync.model import InventoryEntry
from kubesync.render.status import rows_from_plan
from kubesync.resolve import Resolved
from kubesync.sync import Planned, fetch_live, next_inventory, selector

KEPT = ObjectRef("", "v1", "ConfigMap", "shop", "kept")
NEW = ObjectRef("", "v1", "ConfigMap", "shop", "new")
GONE = ObjectRef("", "v1", "ConfigMap", "shop", "gone")
TAKEN = ObjectRef("", "v1", "ConfigMap", "shop", "taken")
CM = ResourceType("", "v1", "ConfigMap", "configmaps", True)


def live(ref: ObjectRef, uid: str, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ref.name, "namespace": ref.namespace, "uid": uid}, **extra}


def planned(actions, inventory=(), live_objects=None, managed=None) -> Planned:
    return Planned(Plan("shop", "src", "rev", tuple(actions)), [], None, list(inventory), live_objects or {}, managed or {})


def test_the_next_inventory_records_what_was_applied_and_forgets_what_was_deleted():
    p = planned(
        [Action(ActionType.CREATE, NEW), Action(ActionType.UPDATE, KEPT, uid="uid-kept"), Action(ActionType.DELETE, GONE, uid="uid-gone")],
        inventory=[InventoryEntry(KEPT, "uid-kept"), InventoryEntry(GONE, "uid-gone")],
    )
    report = ApplyReport([
        Outcome(p.plan.actions[0], "created", live=live(NEW, "uid-new")),
        Outcome(p.plan.actions[1], "patched"),
        Outcome(p.plan.actions[2], "deleted"),
    ])
    assert next_inventory(p, report) == [InventoryEntry(KEPT, "uid-kept"), InventoryEntry(NEW, "uid-new")]


def test_an_object_another_tool_created_first_is_not_claimed():
    """A create that failed (it exists, someone else's) must not enter the inventory: prune would delete it."""
    p = planned([Action(ActionType.CREATE, TAKEN)], live_objects={TAKEN.key: live(TAKEN, "theirs")})
    report = ApplyReport([Outcome(p.plan.actions[0], "failed", "already exists")])
    assert next_inventory(p, report) == []


def test_objects_found_with_our_label_are_kept_even_when_nothing_ran():
    obj = live(KEPT, "uid-live")
    p = planned([Action(ActionType.NOOP, KEPT)], live_objects={KEPT.key: obj}, managed={KEPT.key: obj})
    assert next_inventory(p, ApplyReport()) == [InventoryEntry(KEPT, "uid-live")]


def test_status_rows_give_each_object_its_sync_state_and_health():
    extra = live(GONE, "uid-gone")
    p = planned(
        [Action(ActionType.NOOP, KEPT, origin=Origin("cm.yaml", 1), live=live(KEPT, "u1")),
         Action(ActionType.CREATE, NEW, origin=Origin("cm.yaml", 9))],
        managed={GONE.key: extra, KEPT.key: live(KEPT, "u1")},
    )
    p = replace(p, plan=Plan("shop", "src", "rev", p.plan.actions, conflicts=("v1 ConfigMap shop/taken: managed by 'helm'",)))
    rows = rows_from_plan(p)
    assert [(r["object"], r["sync"], r["health"], r["origin"]) for r in rows] == [
        ("v1 ConfigMap shop/kept", "Synced", "Healthy", "cm.yaml:1"),
        ("v1 ConfigMap shop/new", "Missing", "Missing", "cm.yaml:9"),
        ("v1 ConfigMap shop/taken: managed by 'helm'", "Conflict", "", ""),
        ("v1 ConfigMap shop/gone", "Extra", "Healthy", ""),
    ]


class Discovery:
    def resource_for(self, api_version, kind):
        return CM if kind == "ConfigMap" else None


class Reader:
    """A watch cache stand-in: records which types and namespaces were read from it."""

    def __init__(self):
        self.reads = []

    def managed(self, rtype, namespaces, selector):
        self.reads.append((rtype.kind, tuple(sorted(namespaces)), selector))
        return {}


class NoCluster:
    """A connection that holds nothing (under the real cluster.api.Client), recording the paths read."""

    def __init__(self):
        self.gets = []

    def request(self, method, path, **kwargs):
        self.gets.append(path)
        raise errors.ClusterNotFound("not found", status=404)


def test_live_state_is_read_from_the_reader_for_desired_and_owned_types_but_no_pending_crd():
    widget = ResourceType("example.com", "v1", "Widget", "widgets", True)
    desired = Manifest(NEW, live(NEW, ""), Origin("cm.yaml", 1))
    pending = Manifest(ObjectRef("example.com", "v1", "Widget", "apps", "w"), {}, Origin("w.yaml", 1))
    resolved = [Resolved(desired, CM, desired.obj), Resolved(pending, widget, {}, pending_crd=True)]
    inv = [InventoryEntry(ObjectRef("", "v1", "ConfigMap", "old", "x"), "u")]
    reader, cluster = Reader(), NoCluster()
    found, managed = fetch_live(Client(cluster), Discovery(), resolved, inv, "shop", reader)
    assert reader.reads == [("ConfigMap", ("apps", "old", "shop"), selector("shop"))]
    assert (found, managed) == ({}, {})
    assert cluster.gets == ["/api/v1/namespaces/shop/configmaps/new"]  # not labelled ours: looked up by name
