"""What each router says about its links, for discovery (controller/discovery.py): a streaming
device's LLDP neighbours and interfaces from its assembler, a polled device's from its last
`DeviceState`: its LLDP neighbours where its NETCONF flavour reads them (`DeviceState.neighbors`,
the iosxr flavour's LLDP oper model), else its interfaces and their oper-status only.
"""

from __future__ import annotations

from controller.devicestate import DeviceState
from controller.discovery import DeviceView, Neighbor
from telemetry.gnmi_model import DeviceAssembler


def assembler_view(asm: DeviceAssembler) -> DeviceView:
    """A copy (the assembler goes on changing on the collector's loop)."""
    interfaces = {n: bool(f["oper_up"]) for n, f in asm.interfaces.items() if "oper_up" in f}
    speeds = {n: float(f["speed_bps"]) for n, f in asm.interfaces.items() if "speed_bps" in f}
    delays = {n: float(f["delay_s"]) for n, f in asm.interfaces.items()
              if f.get("delay_s") is not None}  # fmt: skip
    neighbors = {
        iface: tuple(Neighbor(system, port) for system, port in sorted(ports.items()))
        for iface, ports in asm.neighbors.items()
        if ports
    }
    return DeviceView(asm.device, interfaces, neighbors, True, speeds, delays)


def polled_view(state: DeviceState) -> DeviceView:
    neighbors: dict[str, list[Neighbor]] = {}
    for n in state.neighbors:
        neighbors.setdefault(n.interface, []).append(Neighbor(n.system, n.port))
    return DeviceView(
        state.device,
        {i.name: i.oper_up for i in state.interfaces},
        {k: tuple(v) for k, v in neighbors.items()},
        bool(neighbors),
        {i.name: i.speed_bps for i in state.interfaces},
        {i.name: i.delay_s for i in state.interfaces if i.delay_s is not None},
    )
