"""The simulated network as the engine's southbound, in process: a committed revision becomes
the simulator's installed configs (SR policies and steering), so the controller's intents steer
the simulated traffic. The NETCONF path to the same simulator is `harness/simdevices.py`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from controller.desired import DeviceConfig
from controller.southbound.base import DeviceResult, TransactionResult
from harness.netsim import NetworkSimulator


@dataclass
class SimSouthbound:
    sim: NetworkSimulator
    clock: Callable[[], float] = time.perf_counter

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        start = self.clock()
        unknown = sorted(set(desired) - set(self.sim.devices()))
        if unknown:
            devices = {
                n: DeviceResult(n, True, "not a router of the simulated network", "prepare")
                for n in unknown
            }
            return TransactionResult(revision, False, devices, self.clock() - start)
        for name in set(previous) - set(desired):
            self.sim.apply_config(name, DeviceConfig(name))
        for name, config in desired.items():
            self.sim.apply_config(name, config)
        devices = {n: DeviceResult(n) for n in desired}
        return TransactionResult(revision, True, devices, self.clock() - start)

    async def running(self, device: str) -> DeviceConfig:
        return self.sim.configs.get(device, DeviceConfig(device))

    async def close(self) -> None:
        return None
