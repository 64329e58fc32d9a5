"""Where simulated routers get their operational state from.

`StateProvider` is the one-method interface the network simulator implements
(`device_state(name) -> DeviceState`); the simulated routers call it on every `<get>`, from
their event loop thread, so it must be quick and must not block. Interface names are link ids.
`StaticStateProvider` is the default: every interface of the topology up at its capacity,
counters at zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from controller.devicestate import DeviceState, InterfaceState, Neighbor
from controller.topology import Topology


class StateProvider(Protocol):
    def device_state(self, name: str) -> DeviceState:
        """Current operational state of router `name` (an empty SR-policy tuple lets the router
        report its configured policies as up on their highest-preference candidate path)."""
        ...


class StaticStateProvider:
    """Interfaces from a topology (all up, zero counters); none without a topology."""

    def __init__(
        self, topology: Topology | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.topology = topology
        self.clock = clock

    def device_state(self, name: str) -> DeviceState:
        interfaces: tuple[InterfaceState, ...] = ()
        neighbors: tuple[Neighbor, ...] = ()  # LLDP, on up links
        if self.topology is not None and name in self.topology.nodes:
            links = sorted(self.topology.out_links(name), key=lambda lk: lk.id)
            interfaces = tuple(
                InterfaceState(name=link.id, oper_up=link.is_up, speed_bps=link.capacity_bps)
                for link in links
            )
            neighbors = tuple(Neighbor(lk.id, lk.dst, lk.id) for lk in links if lk.is_up)
        return DeviceState(name, self.clock(), interfaces=interfaces, neighbors=neighbors)
