"""What a cloud's controllers do that the embedded control plane has none of: an address for every
LoadBalancer Service, so a chart that asks for one (ingress-nginx) becomes Healthy, as on a real cluster."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from kubesync import errors
from kubesync.model import PatchType, ResourceType

SERVICES = ResourceType("", "v1", "Service", "services", True)


@contextlib.contextmanager
def load_balancers(client, namespace: str, address: str = "192.0.2.10", interval: float = 0.5) -> Iterator[None]:
    """While in the block, give each LoadBalancer Service of `namespace` an ingress address (a TEST-NET-1 IP)."""
    stop = threading.Event()

    def provide() -> None:
        while not stop.wait(interval):
            try:
                for svc in client.list(SERVICES, namespace).items:
                    status = (svc.get("status") or {}).get("loadBalancer") or {}
                    if (svc.get("spec") or {}).get("type") == "LoadBalancer" and not status.get("ingress"):
                        client.patch(SERVICES, namespace, svc["metadata"]["name"],
                                     {"status": {"loadBalancer": {"ingress": [{"ip": address}]}}}, PatchType.MERGE,
                                     subresource="status")
            except errors.ClusterError:
                continue  # the next round tries again

    thread = threading.Thread(target=provide, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
