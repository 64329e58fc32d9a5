"""gNMI for a simulated network: the server, fed from the simulator after every step.

    gnmi = GnmiNetwork(sim, key_dir)
    gnmi.start()                        # certificates generated, server listening
    gnmi.publish()                      # after sim.step(): changes go out ON_CHANGE at once
    gnmi.add_to_inventory(src, dst)     # NETCONF inventory + gNMI port, target, CA, password file
    gnmi.stop()

A router's state is `harness.devstate.render_device` as its NETCONF `<get>` gives it, encoded
by `telemetry.gnmi_model`; its LLDP neighbours are the far ends of its links that are up (the
neighbour's interface for the reverse direction bears the same link id). gNMI timestamps are
Unix nanoseconds: the routers' clock is the simulated clock anchored at the network's start
(`epoch`), so rates stay right at any `--speed` as with NETCONF's simulated stamps.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import yaml

from harness.devstate import SimView, render_device
from harness.gnmi_server import GnmiServer, Snapshot
from harness.gnmi_tls import GnmiPki, make_pki
from telemetry.gnmi_model import Leaf, encode_containers, neighbors_of, oper_path, probe_leaves


def router_events(sim: SimView, name: str) -> list[Leaf]:
    """The leaves router `name` publishes ON_CHANGE: each interface's oper-status, its LLDP
    neighbours (the far end of each link that is up; a down link's neighbour is gone), and a
    branch router's newest probe window per uplink (out as soon as the window closes)."""
    idx = sim.index
    up = sim.routing().igp.up
    leaves: list[Leaf] = []
    neighbors = {}
    for i in idx.out_links[idx.node_idx[name]]:
        link = idx.links[i]
        leaves.append((oper_path(link.id), "UP" if up[i] else "DOWN"))
        if bool(up[i]):
            neighbors[link.id] = (link.dst, link.id)
    return leaves + neighbors_of(neighbors) + probe_leaves(sim.uplink_probes.at(name, sim.t))


def router_leaves(sim: SimView, name: str, epoch: float = 0.0) -> Snapshot:
    """(device clock, every leaf) of router `name`, LLDP included; the clock is `epoch` plus
    the simulated time (gNMI stamps are Unix nanoseconds)."""
    state = render_device(sim, name)
    return Snapshot(epoch + state.timestamp, router_events(sim, name),
                    tuple(encode_containers(state)))  # fmt: skip


class GnmiNetwork:
    def __init__(self, sim: SimView, directory: Path, host: str = "127.0.0.1") -> None:
        self.sim = sim
        self.directory = directory
        self.host = host
        self.pki: GnmiPki | None = None
        self.server: GnmiServer | None = None
        self.epoch = time.time() - sim.t
        """The routers' gNMI clock: Unix time at simulated time 0 (so stamps read as dates)."""

    def start(self) -> int:
        self.pki = make_pki(self.directory)
        self.server = GnmiServer(self.pki, self.host)
        port = self.server.start()
        self.publish()
        return port

    def publish(self) -> None:
        """Every router's current state to the server (ON_CHANGE updates go out at once)."""
        if self.server is None:
            return
        # what changed on each router first (cheap, no rendering), as real routers each report
        # their own change at once; then every router's full state for the SAMPLEs
        ts = self.epoch + self.sim.t
        nodes = self.sim.index.nodes
        self.server.publish_events({n: (ts, router_events(self.sim, n)) for n in nodes})
        self.server.publish({n: router_leaves(self.sim, n, self.epoch) for n in nodes})

    def set_reachable(self, name: str, reachable: bool) -> None:
        if self.server is not None:
            self.server.set_reachable(name, reachable)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def inventory_section(self) -> dict[str, Any]:
        assert self.pki is not None and self.server is not None, "start() first"
        return {
            "port": self.server.port,
            "ca_file": str(self.pki.ca_file),
            "username": self.pki.username,
            "password_file": str(self.pki.password_file),
        }

    def add_to_inventory(self, source: Path, dest: Path) -> Path:
        """Write `dest` (atomically): the NETCONF inventory at `source` plus a top-level `gnmi:`
        section and each device's `gnmi_target`; `source` is removed."""
        doc = yaml.safe_load(source.read_text())
        doc["gnmi"] = self.inventory_section()
        for entry in doc.get("devices", []):
            entry["gnmi_target"] = entry["name"]
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.gnmi.tmp")
        try:
            tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        source.unlink(missing_ok=True)
        return dest
