"""Collectors gather `DeviceState`s from every device; `poll_round` feeds them to the processor.

`ProviderCollector` reads an in-process state provider (the simulator) directly: for the
simulator CLI and tests. The NETCONF collector (telemetry/netconf_collector.py) polls real
sessions with `<get>` and a subtree filter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from controller.devicestate import DeviceState
from controller.errors import NetpilotError


class StateProvider(Protocol):
    def device_state(self, name: str) -> DeviceState: ...


@dataclass
class CollectionResult:
    states: list[DeviceState] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0


class Collector(Protocol):
    def collect(self) -> CollectionResult: ...


@dataclass
class ProviderCollector:
    provider: StateProvider
    devices: Sequence[str]
    clock: Callable[[], float] = time.perf_counter

    def collect(self) -> CollectionResult:
        start = self.clock()
        result = CollectionResult()
        for name in self.devices:
            try:
                result.states.append(self.provider.device_state(name))
            except NetpilotError as error:
                result.errors[name] = str(error)
        result.duration_s = self.clock() - start
        return result
