"""gNMI over the Linux data plane: the routers' kernel counters and oper-status, streamed.

    gnmi = KernelGnmi(plane, provider, key_dir)   # provider: harness.dataplane_router.KernelState
    gnmi.start()                                   # certificates, server listening, first publish
    gnmi.publish()                                 # every router's kernel state now (ON_CHANGE
                                                   # subscribers hear a cut at once)
    gnmi.add_to_inventory(src, dst)                # as harness/gnmi_network.GnmiNetwork
    gnmi.stop()

The same server, paths and inventory section as the flow-level network's gNMI
(harness/gnmi_network.py, docs/streaming.md); only the source differs: a router's state is
`KernelState.device_state` (its veths' /proc/net/dev counters, up when the link is), its LLDP
neighbours the far ends of its links that are up. Timestamps are Unix time (the routers' clock
starts at the run's start). The run publishes every PUBLISH_S and right after a link changes.
"""

from __future__ import annotations

from pathlib import Path

from harness.dataplane import LinuxDataPlane
from harness.dataplane_router import KernelState
from harness.gnmi_network import GnmiNetwork
from harness.gnmi_server import Snapshot
from telemetry.gnmi_model import encode_containers, encode_events, neighbors_of

PUBLISH_S = 1.0


class KernelGnmi(GnmiNetwork):
    def __init__(
        self, plane: LinuxDataPlane, provider: KernelState, directory: Path,
        host: str = "127.0.0.1",
    ) -> None:  # fmt: skip
        self.plane = plane
        self.provider = provider
        self.directory = directory
        self.host = host
        self.pki = None
        self.server = None
        self.epoch = provider.started

    def snapshot(self, name: str) -> Snapshot:
        """(Unix time, every leaf, containers) of router `name` from its kernel."""
        state = self.provider.device_state(name)
        neighbors = {
            p.link_id: (p.peer, p.link_id)
            for p in self.plane.plan.ports[name]
            if p.link_id in self.plane.up and p.out is not None
        }
        leaves = encode_events(state) + neighbors_of(neighbors)
        return Snapshot(self.epoch + state.timestamp, leaves, tuple(encode_containers(state)))

    def publish(self) -> None:
        if self.server is None:
            return
        self.server.publish({name: self.snapshot(name) for name in self.plane.plan.ns})
