"""NETCONF telemetry: `<get>` with a subtree filter on `device-state`, to every device in parallel.

One `DeviceSession` (southbound's ncclient wrapper: host-key checking, reconnect with backoff,
immediate send instead of ncclient's 0.1 s tick) stays open per device, separate from the
configuration sessions. A device that fails or answers with a malformed reply is reported in
`CollectionResult.errors` (one line naming the device), never raised: one bad router must not
stop the round.

Subscriptions (RFC 8639/8641 YANG-push) are not used: ncclient 0.7 only speaks RFC 5277
`create-subscription`, and the simulated routers implement no `establish-subscription`; see
docs/BENCHMARKS.md for the polling figures that would be the baseline of that comparison.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from controller.errors import NetpilotError
from controller.southbound.inventory import Inventory
from controller.southbound.session import DeviceSession, SessionOptions
from telemetry.collectors import CollectionResult
from telemetry.state import DeviceState


class NetconfCollector:
    def __init__(
        self,
        inventory: Inventory,
        *,
        options: SessionOptions | None = None,
        max_workers: int = 32,
        clock: Callable[[], float] = time.perf_counter,
        logger: logging.Logger | None = None,
    ) -> None:
        self.log = logger or logging.getLogger("netpilot.telemetry")
        self.clock = clock
        self.sessions = {
            d.name: DeviceSession(
                d, options=options, known_hosts=inventory.known_hosts, logger=self.log
            )
            for d in inventory.devices
        }
        workers = max(1, min(max_workers, len(self.sessions)))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="telemetry")

    def _get(self, session: DeviceSession) -> DeviceState | str:
        try:
            return session.get_state()
        except NetpilotError as error:
            return str(error)
        except (ValueError, TypeError) as error:
            return f"device {session.name!r}: malformed device-state in the <get> reply ({error})"

    def collect(self) -> CollectionResult:
        start = self.clock()
        result = CollectionResult()
        names = list(self.sessions)
        for name, got in zip(names, self.pool.map(self._get, self.sessions.values()), strict=True):
            if isinstance(got, DeviceState):
                result.states.append(got)
            else:
                result.errors[name] = got
                self.log.warning("telemetry: %s", got)
        result.duration_s = self.clock() - start
        return result

    def close(self) -> None:
        list(self.pool.map(lambda s: s.close(), list(self.sessions.values())))
        self.pool.shutdown(wait=True)
