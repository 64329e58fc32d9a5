"""The streaming collector: gNMI subscriptions where the inventory offers them, NETCONF polling
for the other devices, behind the same `collect()` as the polling collector.

    collector = StreamCollector(inventory, access, sample_s=10, fallback=NetconfCollector(...))
    collector.start(on_link=sink)      # streams open on the collector's own loop (a thread)
    result = collector.collect(deadline_s)   # latest sample of each streaming device + a poll
    collector.close()

Every streaming device has its own `DeviceStream` task (telemetry/gnmi_stream.py), all on one
asyncio loop, sharing a gRPC channel per server address (HTTP/2 carries the streams side by
side; up to 100 per TCP connection).
`collect()` does not wait on the network for them: it returns each device's state once per new
sample (rates come from the devices' own timestamps, as with polling), and names a device stale
when its stream is down (the cause, one line) or has not sampled within `stale_s`. The polled
devices go through `fallback` (a `NetconfCollector` over the rest of the inventory) meanwhile.
Oper-status changes bypass rounds altogether: `on_link(device, interface, up, timestamp)` is
called on the collector's thread as each arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc

from controller.devicestate import DeviceState
from controller.discovery import DeviceView
from telemetry.collectors import CollectionResult
from telemetry.gnmi_inventory import GnmiAccess, GnmiDevice
from telemetry.gnmi_stream import DeviceStream, LinkCallback, ProbeCallback
from telemetry.stream_views import assembler_view, polled_view

log = logging.getLogger("netpilot.telemetry")
STREAMS_PER_CONNECTION = 100
"""Streams share a TCP connection (HTTP/2) up to this many; a thousand on one connection
stalled in bench/gnmi_scale.py (one connection's flow control for every initial dump)."""


class PollCollector(Protocol):
    def collect(self, deadline_s: float | None = None) -> CollectionResult: ...

    def close(self) -> None: ...


@dataclass
class StreamOptions:
    sample_s: float = 10.0
    stale_s: float | None = None
    """A device with no sample for this long is stale (default: 2.5 samples, at least 5 s)."""
    stall_s: float | None = None
    """A stream with no message for this long is restarted (default: 6 samples, at least
    60 s). The device is stale much sooner (`stale_after`); a restart only helps a dead
    stream, and restarting streams that a busy server is merely slow to feed makes it slower
    (each restart is one more full dump): 3 samples cost 700 restarts at 1,000 routers."""
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    setups: int = 32
    """Streams setting up (Subscribe to sync) at once; the others wait their turn."""

    @property
    def stale_after(self) -> float:
        return self.stale_s if self.stale_s is not None else max(2.5 * self.sample_s, 5.0)

    @property
    def stall_after(self) -> float:
        return self.stall_s if self.stall_s is not None else max(6.0 * self.sample_s, 60.0)


class StreamCollector:
    def __init__(
        self,
        access: GnmiAccess,
        options: StreamOptions | None = None,
        *,
        fallback: PollCollector | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access = access
        self.options = options or StreamOptions()
        self.fallback = fallback
        self.clock = clock
        o = self.options
        self.streams = {
            name: DeviceStream(
                dev, access, o.sample_s, stall_s=o.stall_after, backoff_s=o.backoff_s,
                max_backoff_s=o.max_backoff_s, clock=clock,
            )
            for name, dev in sorted(access.devices.items())
        }  # fmt: skip
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="gnmi")
        self._channels: dict[tuple[str, int, int], grpc.aio.Channel] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reported: dict[str, int] = {}
        self._started_at: float | None = None
        self._per_address: dict[tuple[str, int], int] = {}
        self._gate: asyncio.Semaphore | None = None
        self._added: dict[str, float] = {}
        """When each stream added after the start (`add`) began: its grace before stale."""
        self.polled: dict[str, DeviceState] = {}
        """The last state of each polled device (discovery's NETCONF fallback)."""
        self.inventory_path: Path | None = None
        """The inventory file the devices came from (`controller run` watches it)."""
        self.closers: list[Callable[[], object]] = []
        """Called first in `close` (the discovery's periodic task)."""
        self.discovery: Any = None
        """The topology discovery fed from these streams, once started (controller run)."""
        self._on_link: LinkCallback | None = None
        self._on_lldp: Callable[[str], None] | None = None
        self._on_probe: ProbeCallback | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(
        self,
        on_link: LinkCallback | None = None,
        on_lldp: Callable[[str], None] | None = None,
        on_probe: ProbeCallback | None = None,
    ) -> None:
        """Open every stream (idempotent); `on_link` hears oper-status changes at once,
        `on_lldp(device)` each change of a device's LLDP neighbours (and its first sync),
        `on_probe(device, windows)` each probe window as it closes (all on the stream thread)."""
        if self._started_at is not None:
            return
        self._started_at = self.clock()
        self._on_link, self._on_lldp, self._on_probe = on_link, on_lldp, on_probe
        for stream in self.streams.values():
            stream.on_link, stream.on_lldp, stream.on_probe = on_link, on_lldp, on_probe
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result(timeout=30)

    def add(self, devices: dict[str, GnmiDevice]) -> list[str]:
        """Stream from devices not streamed yet (a router added to the inventory), without a
        restart; returns their names. Any thread, after `start`."""
        new = {n: d for n, d in devices.items() if n not in self.streams}
        if not new or not self._thread.is_alive():
            return []

        async def launch() -> None:
            o = self.options
            for name, dev in sorted(new.items()):
                stream = DeviceStream(
                    dev, self.access, o.sample_s, stall_s=o.stall_after, backoff_s=o.backoff_s,
                    max_backoff_s=o.max_backoff_s, clock=self.clock, on_link=self._on_link,
                    on_lldp=self._on_lldp, on_probe=self._on_probe,
                )  # fmt: skip
                self.streams[name] = stream
                self._added[name] = self.clock()
                self._launch(stream)

        asyncio.run_coroutine_threadsafe(launch(), self.loop).result(timeout=30)
        return sorted(new)

    async def _open(self) -> None:
        self._gate = asyncio.Semaphore(max(1, self.options.setups))
        for stream in self.streams.values():
            self._launch(stream)

    def _launch(self, stream: DeviceStream) -> None:
        """Start one stream's task on a shared channel (on the loop)."""
        address = (stream.device.host, stream.device.port)
        n = self._per_address[address] = self._per_address.get(address, 0) + 1
        key = (*address, (n - 1) // STREAMS_PER_CONNECTION)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = grpc.aio.secure_channel(
                f"{key[0]}:{key[1]}",
                grpc.ssl_channel_credentials(self.access.ca_file.read_bytes()),
                options=[
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                    ("grpc.use_local_subchannel_pool", 1),  # its own TCP connection
                ],
            )
        stream.gate = self._gate
        task = asyncio.create_task(stream.run(channel), name=f"gnmi-{stream.device.name}")
        self._tasks.append(task)

    def close(self) -> None:
        for close in self.closers:
            with contextlib.suppress(Exception):
                close()
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if self.fallback is not None:
            self.fallback.close()

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for channel in self._channels.values():
            await channel.close()

    # -- rounds --------------------------------------------------------------------------------
    def collect(self, deadline_s: float | None = None) -> CollectionResult:
        """Streaming devices' new samples (no network wait) plus a poll of the others."""
        start = time.perf_counter()
        result = CollectionResult()
        if self._thread.is_alive():
            states, errors = asyncio.run_coroutine_threadsafe(self._snapshot(), self.loop).result(
                timeout=30
            )
            result.states.extend(states)
            result.errors.update(errors)
        if self.fallback is not None:
            polled = self.fallback.collect(deadline_s)
            # a polled device that gained a gnmi_target since (`add`) streams instead
            fresh = [st for st in polled.states if st.device not in self.streams]
            self.polled.update((st.device, st) for st in fresh)
            for name in set(self.polled) & set(self.streams):
                del self.polled[name]
            result.states.extend(fresh)
            result.errors.update(polled.errors)
        result.duration_s = time.perf_counter() - start
        return result

    async def _snapshot(self) -> tuple[list[DeviceState], dict[str, str]]:
        """On the loop thread, so no stream changes its state meanwhile."""
        now = self.clock()
        states, errors = [], {}
        for name, stream in list(self.streams.items()):
            cause = self._stale_cause(stream, now)
            if cause:
                errors[name] = f"device {name!r}: {cause}"
                continue
            if stream.health.seq > self._reported.get(name, 0):
                self._reported[name] = stream.health.seq
                states.append(stream.assembler.state())
        return states, errors

    def _stale_cause(self, stream: DeviceStream, now: float) -> str:
        h, o = stream.health, self.options
        started = self._added.get(stream.device.name, self._started_at)
        started = started if started is not None else now
        if not h.connected:
            return h.cause if h.restarts or now - started > o.stale_after else ""
        since = now - (h.last_sample if h.last_sample is not None else started)
        if since > o.stale_after:
            return f"gNMI {stream.where}: no sample for {since:.1f}s (stream stalled)"
        return ""

    # -- views ---------------------------------------------------------------------------------
    def views(self) -> dict[str, DeviceView]:
        """What each router says about its links now: synced streams (LLDP), then the polled
        devices (interfaces only). Any thread but the collector's."""
        views = {n: polled_view(st) for n, st in list(self.polled.items())}
        if self._thread.is_alive():
            streamed = asyncio.run_coroutine_threadsafe(self._views(), self.loop).result(30)
            views.update(streamed)
        return views

    async def _views(self) -> dict[str, DeviceView]:
        return {n: assembler_view(s.assembler) for n, s in list(self.streams.items())
                if s.health.synced}  # fmt: skip

    def health(self) -> dict[str, dict[str, Any]]:
        """Per streaming device: connected, samples, notifications, restarts, cause."""
        out = {}
        for name, s in list(self.streams.items()):
            h = s.health
            out[name] = {
                "connected": h.connected,
                "samples": h.samples,
                "dumps": h.dumps,
                "notifications": h.notifications,
                "restarts": h.restarts,
                "lag_s": h.lag_s,
                "cause": h.cause,
                "last_trouble": h.last_trouble,
            }
        return out
