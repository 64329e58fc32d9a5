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
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from controller.devicestate import DeviceState
from controller.errors import NetpilotError
from controller.southbound.inventory import Inventory
from controller.southbound.session import DeviceSession, SessionOptions
from telemetry.collectors import CollectionResult


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
        self.options = options
        self.sessions = {
            d.name: DeviceSession(
                d, options=options, known_hosts=inventory.known_hosts, logger=self.log
            )
            for d in inventory.devices
        }
        workers = max(1, min(max_workers, len(self.sessions)))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="telemetry")
        self._inflight: dict[str, Future[DeviceState | str]] = {}

    def _get(self, session: DeviceSession) -> DeviceState | str:
        try:
            return session.get_state()
        except NetpilotError as error:
            return str(error)
        except (ValueError, TypeError, SyntaxError) as error:
            return f"device {session.name!r}: malformed device-state in the <get> reply ({error})"
        except Exception as error:  # a device must never end the round; the cause is kept
            self.log.debug("telemetry: %s", session.name, exc_info=True)
            return f"device {session.name!r}: {type(error).__name__}: {error}"

    def collect(self, deadline_s: float | None = None) -> CollectionResult:
        """One round over every device. With `deadline_s`, a device that has not answered by
        then is reported as stale for this round and not waited for; its request goes on in
        the background, and the device is skipped until it has answered."""
        start = self.clock()
        result = CollectionResult()
        futures: dict[str, Future[DeviceState | str]] = {}
        for name, session in self.sessions.items():
            pending = self._inflight.get(name)
            if pending is not None and not pending.done():
                result.errors[name] = f"device {name!r}: still answering an earlier round (stale)"
                continue
            futures[name] = self._inflight[name] = self.pool.submit(self._get, session)
        wait(list(futures.values()), timeout=deadline_s)
        for name, future in futures.items():
            if not future.done():
                result.errors[name] = f"device {name!r}: no answer within {deadline_s:g}s (stale)"
                continue
            got = future.result()
            if isinstance(got, DeviceState):
                result.states.append(got)
            else:
                result.errors[name] = got
        for name in sorted(result.errors):
            self.log.warning("telemetry: %s", result.errors[name])
        result.duration_s = self.clock() - start
        return result

    def add(self, inventory: Inventory, names: Iterable[str]) -> list[str]:
        """Poll these devices of a re-read inventory too, from the next round on (the inventory
        watch, controller/runtime/inventory.py); the names added. A round in progress keeps
        the sessions it started with."""
        new = {
            n: DeviceSession(
                inventory.get(n), options=self.options, known_hosts=inventory.known_hosts,
                logger=self.log,
            )
            for n in names
            if n not in self.sessions
        }  # fmt: skip
        self.sessions = {**self.sessions, **new}
        return sorted(new)

    def close(self) -> None:
        for future in self._inflight.values():
            future.cancel()
        list(self.pool.map(lambda s: s.close(), list(self.sessions.values())))
        self.pool.shutdown(wait=True)
