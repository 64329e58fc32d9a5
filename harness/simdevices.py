"""The simulator behind real NETCONF routers: a fleet of simulated routers (southbound's
asyncssh servers) whose operational state comes from the simulator, and whose running configs
(SR policies installed by the controller over NETCONF) flow back into the simulator.

    with SimDevices(sim, tmp_dir) as devices:
        collector = devices.collector()          # NETCONF <get> polling over SSH
        runtime = SimRuntime(sim, collector=collector)
        devices.sync_configs()                   # running configs -> simulator
        devices.set_reachable("r1", False)       # r1's NETCONF server stops answering
"""

from __future__ import annotations

from pathlib import Path

from controller.desired import DeviceConfig
from controller.southbound.inventory import Inventory, load_inventory
from controller.southbound.session import SessionOptions
from harness.fleet import Fleet, FleetThread
from harness.netsim import NetworkSimulator
from telemetry.netconf_collector import NetconfCollector


class SimDevices:
    """One router per simulated node, keys in `directory`; the inventory goes to `inventory`
    (default `directory/inventory.yaml`), written once every router listens."""

    def __init__(
        self, sim: NetworkSimulator, directory: Path, inventory: Path | None = None
    ) -> None:
        self.sim = sim
        self.directory = Path(directory)
        self.inventory_path = inventory or self.directory / "inventory.yaml"
        self.runner = FleetThread(lambda: Fleet(sim.devices(), self.directory, provider=sim))
        self._applied: dict[str, DeviceConfig] = {}
        self.inventory: Inventory | None = None

    def __enter__(self) -> SimDevices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Inventory:
        fleet = self.runner.start()
        path = fleet.write_inventory(self.inventory_path)
        self.inventory = load_inventory(path)
        return self.inventory

    def stop(self) -> None:
        self.runner.stop()

    def collector(self, rpc_timeout_s: float = 10.0, max_workers: int = 32) -> NetconfCollector:
        assert self.inventory is not None, "start() the devices first"
        return NetconfCollector(
            self.inventory,
            options=SessionOptions(rpc_timeout_s=rpc_timeout_s, connect_attempts=2),
            max_workers=max_workers,
        )

    def sync_configs(self) -> list[str]:
        """Copy changed running configs from the routers into the simulator; names changed."""
        running = self.runner.call(
            lambda: {n: r.running_config() for n, r in self.runner.fleet.routers.items()}
        )
        changed = [n for n, cfg in running.items() if self._applied.get(n, DeviceConfig(n)) != cfg]
        for name in changed:
            self.sim.apply_config(name, running[name])
            self._applied[name] = running[name]
        return changed

    def set_reachable(self, name: str, reachable: bool) -> None:
        """Make router `name` stop answering NETCONF (or answer again); it keeps forwarding."""
        router = self.runner.fleet.routers[name]
        self.runner.call(lambda: router.set_reachable(reachable))
