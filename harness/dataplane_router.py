"""Simulated NETCONF routers whose running config drives a Linux namespace's kernel.

`KernelRouter` is a `SimRouter` whose `running` datastore is guarded: every change of it (a
commit, an edit of running, a confirmed commit's rollback) is applied to the router's namespace
first (harness/dataplane.py); when the kernel refuses, the change does not happen and the RPC
answers `operation-failed` with the kernel's words, so the controller's transaction fails on
that device like on any device error. `KernelState` reports the veths' kernel counters as the
router's interface state.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import asyncssh

from controller.devicestate import DeviceState, InterfaceState
from controller.southbound.render import parse_config
from harness.dataplane import KernelError, LinuxDataPlane
from harness.datastore import Element, RpcError
from harness.device import SimRouter
from harness.fleet import Fleet

RX_POWER_UP_DBM = -3.0
RX_POWER_DOWN_DBM = -40.0
TX_BIAS_MA = 35.0


class KernelState:
    """Interface state from the kernel: a veth's counters are the interface's, its speed the
    rate its tbf shapes it to (so utilisation is of what the veth can carry). `optics` holds
    a scenario's drift of receive power (dB) and transmit bias (mA) per (router, link)."""

    def __init__(self, plane: LinuxDataPlane) -> None:
        self.plane = plane
        self.started = time.time()
        self.boot_id = int(self.started)
        self.optics: dict[tuple[str, str], tuple[float, float]] = {}

    def device_state(self, name: str) -> DeviceState:
        interfaces = []
        for c in self.plane.counters(name):
            port = self.plane.plan.port_of_link[(name, c.link_id)]
            assert port.out is not None
            rx_drift, bias_drift = self.optics.get((name, c.link_id), (0.0, 0.0))
            rx = RX_POWER_UP_DBM + rx_drift if c.oper_up else RX_POWER_DOWN_DBM
            interfaces.append(InterfaceState(
                name=c.link_id, oper_up=c.oper_up, speed_bps=self.plane.shaped_bps(port),
                in_octets=c.rx_bytes, out_octets=c.tx_bytes, in_packets=c.rx_packets,
                out_packets=c.tx_packets, in_errors=c.rx_errors, out_errors=c.tx_errors,
                in_discards=c.rx_dropped, out_discards=c.tx_dropped, crc_errors=0,
                rx_power_dbm=rx, tx_bias_ma=TX_BIAS_MA + bias_drift, delay_s=port.out.delay_s,
            ))  # fmt: skip
        return DeviceState(name, time.time() - self.started, self.boot_id, tuple(interfaces), ())


class KernelRouter(SimRouter):
    """A SimRouter whose running config is installed in its namespace before it is accepted."""

    def __init__(self, name: str, plane: LinuxDataPlane, **kwargs: Any) -> None:
        self.plane = plane
        self._running: Element | None = None
        super().__init__(name, **kwargs)

    @property
    def running(self) -> Element:
        assert self._running is not None
        return self._running

    @running.setter
    def running(self, value: Element) -> None:
        if self._running is not None:
            before = parse_config(self.name, self._running)
            after = parse_config(self.name, value)
            if before != after:
                try:
                    self.plane.apply_config(self.name, after)
                except KernelError as error:
                    raise RpcError(
                        "operation-failed",
                        f"{self.name}: the kernel refused the config: {error}",
                    ) from None
        self._running = value


def kernel_fleet(plane: LinuxDataPlane, directory: Path, provider: KernelState) -> Fleet:
    """A Fleet (keys, inventory) of KernelRouters, one per router of the data plane, their
    state from `provider`."""
    fleet = Fleet([], directory)
    client = asyncssh.read_private_key(str(fleet.key_file)).convert_to_public()
    schema = fleet.schema
    for name in sorted(plane.topology.nodes, key=lambda n: plane.topology.nodes[n].index):
        fleet.routers[name] = KernelRouter(
            name, plane, host_key=asyncssh.generate_private_key("ssh-ed25519"),
            authorized_keys=[client], username=fleet.username, host=fleet.host,
            schema=schema, provider=provider,
        )  # fmt: skip
    return fleet
