"""The inventory ConfigMap's codec (pure; the reads and writes are kubesync.cluster.inventory)."""

from __future__ import annotations

import pytest

from kubesync import errors, inventory
from kubesync.model import ObjectRef
from kubesync.plan import InventoryEntry

ENTRIES = [
    InventoryEntry(ObjectRef("apps", "v1", "Deployment", "shop", "web"), "uid-2"),
    InventoryEntry(ObjectRef("", "v1", "ConfigMap", "shop", "conf"), "uid-1"),
]


def test_entries_round_trip_sorted_through_the_configmap():
    cm = inventory.to_configmap("shop", ENTRIES, "kubesync-system")
    assert cm["metadata"]["name"] == "kubesync-inventory-shop" and cm["metadata"]["namespace"] == "kubesync-system"
    assert cm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubesync", "kubesync.io/inventory-for": "shop"}
    assert cm["data"]["format"] == "kubesync.io/inventory/v1"
    assert inventory.from_configmap(cm, "shop") == sorted(ENTRIES, key=lambda e: (e.ref.group, e.ref.kind))


def test_a_missing_inventory_is_empty_and_a_corrupt_one_is_an_error():
    assert inventory.from_configmap(None, "shop") == []
    assert inventory.from_configmap({"data": {}}, "shop") == []
    with pytest.raises(errors.InventoryCorrupt, match="kubesync-system/kubesync-inventory-shop is corrupt"):
        inventory.from_configmap({"data": {"objects": "not base64 zlib"}}, "shop", "kubesync-system")
