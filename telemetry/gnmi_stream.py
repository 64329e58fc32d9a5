"""One device's gNMI subscription, kept up: connect, subscribe, read, and on any trouble mark the
device stale with a one-line cause and start again after a back-off.

`DeviceStream.run(channel)` is a coroutine (grpc.aio) that never returns until cancelled. It
subscribes in STREAM mode with ON_CHANGE on oper-status and LLDP neighbours and SAMPLE on the
rest of the model (telemetry/gnmi_model.py), every `sample_s` seconds. Each notification is
applied to a `DeviceAssembler`; an oper-status change calls `on_link` at once (from the
collector's loop thread), so a cut reaches the engine without waiting for a telemetry round, and
so does a branch router's closed probe window (ON_CHANGE on `netpilot-probe`: `on_probe`).

Trouble, each a stale cause: the RPC fails (refused credentials, TLS handshake, target unknown,
server gone), an update for a path not in the model or with a wrong value (the stream is
dropped: one bad router must not feed wrong numbers), or nothing arrives for `stall_s`.
Back-off doubles from `backoff_s` to `max_backoff_s` (with jitter) and resets once a stream
has synced.

Set-up is gated: with a `gate` (a semaphore the collector shares between its streams), a stream
holds a slot from its Subscribe until its `sync_response` (the first full dump, the expensive
part on both sides), so a thousand streams come up a few dozen at a time, and a stream's wait
for its first answer starts only once it has its slot (it cannot time out behind the others).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from controller.devicestate import UplinkProbe
from telemetry.gnmi_inventory import GnmiAccess, GnmiDevice
from telemetry.gnmi_model import ON_CHANGE_PATHS, SAMPLE_PATHS, DeviceAssembler, is_probe
from telemetry.gnmi_paths import Elems, PathError, from_proto, parse, to_proto, untyped

LinkCallback = Callable[[str, str, bool, float], None]
"""(device, interface, up, device timestamp) on an oper-status change."""
ProbeCallback = Callable[[str, tuple[UplinkProbe, ...]], None]
"""(device, each uplink's latest probe window) when a probe window arrives ON_CHANGE."""
EVENT_LEAVES = ("oper-status", "lldp")


class StreamTrouble(Exception):
    """Why a stream was given up (one line)."""


@dataclass
class StreamHealth:
    connected: bool = False
    synced: bool = False
    cause: str = "not connected yet"
    last_update: float | None = None
    """Controller monotonic time of the last message."""
    last_sample: float | None = None
    """Controller monotonic time of the last sample applied."""
    samples: int = 0
    notifications: int = 0
    restarts: int = 0
    last_trouble: str = ""
    """The cause of the last restart (kept once the stream is back)."""
    seq: int = 0
    """Increases with every sample applied (the collector reports a state once per sample)."""
    lag_s: float | None = None
    """Wall time of arrival minus the device's timestamp, of the last notification (meaningful
    when the device clock is real time: real routers, or `network run --speed 1`)."""
    dumps: int = 0
    """Initial dumps applied (one per subscription, before its sync; counted in `samples`)."""
    lldp_changes: int = 0
    """LLDP neighbour updates and deletes received after the first sync."""


def subscribe_request(target: str, sample_s: float) -> Any:
    interval = int(sample_s * 1e9)
    subs = [
        gnmi_pb2.Subscription(path=to_proto(parse(p)), mode=gnmi_pb2.ON_CHANGE)
        for p in ON_CHANGE_PATHS
    ] + [
        gnmi_pb2.Subscription(
            path=to_proto(parse(p)), mode=gnmi_pb2.SAMPLE, sample_interval=interval
        )
        for p in SAMPLE_PATHS
    ]
    return gnmi_pb2.SubscribeRequest(
        subscribe=gnmi_pb2.SubscriptionList(
            prefix=gnmi_pb2.Path(target=target),
            subscription=subs,
            mode=gnmi_pb2.SubscriptionList.STREAM,
            encoding=gnmi_pb2.Encoding.PROTO,
        )
    )


def rpc_cause(where: str, error: grpc.aio.AioRpcError) -> str:
    details = " ".join((error.details() or "").split())
    if len(details) > 160:
        details = details[:157] + "..."
    return f"gNMI {where}: {error.code().name}: {details}"


@dataclass
class DeviceStream:
    device: GnmiDevice
    access: GnmiAccess
    sample_s: float
    on_link: LinkCallback | None = None
    stall_s: float = 30.0
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    gate: asyncio.Semaphore | None = None
    """Shared between streams: at most this many set-ups (Subscribe to sync) at once."""
    on_lldp: Callable[[str], None] | None = None
    """Called with the device name when its LLDP neighbours change (or on a fresh sync)."""
    on_probe: ProbeCallback | None = None
    """Called as a branch router's probe window arrives ON_CHANGE (issue 20: brownouts)."""
    health: StreamHealth = field(default_factory=StreamHealth)
    assembler: DeviceAssembler = field(init=False)
    _oper: dict[str, bool] = field(default_factory=dict)
    _paths: dict[bytes, Elems] = field(default_factory=dict)
    """Decoded paths by their wire form: a device sends the same few hundred every sample."""

    def __post_init__(self) -> None:
        self.assembler = DeviceAssembler(self.device.name)

    @property
    def where(self) -> str:
        d = self.device
        return f"{d.host}:{d.port} target {d.target!r}"

    async def run(self, channel: grpc.aio.Channel) -> None:
        """Subscribe, read, back off, again; until cancelled."""
        delay = self.backoff_s
        while True:
            try:
                await self._once(channel)
            except grpc.aio.AioRpcError as error:
                self._trouble(rpc_cause(self.where, error))
            except StreamTrouble as trouble:
                self._trouble(str(trouble))
            if self.health.synced:
                delay = self.backoff_s
            self.health.synced = False
            self.health.restarts += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(self.max_backoff_s, delay * 2)

    def _trouble(self, cause: str) -> None:
        self.health.connected = False
        self.health.cause = self.health.last_trouble = cause

    async def _once(self, channel: grpc.aio.Channel) -> None:
        stub = gnmi_pb2_grpc.gNMIStub(channel)
        done = asyncio.Event()

        async def requests() -> AsyncIterator[Any]:
            yield subscribe_request(self.device.target, self.sample_s)
            await done.wait()  # keep our side open: closing it ends nothing, but be polite

        meta = (("username", self.access.username), ("password", self.access.password))
        held = self.gate is not None
        if self.gate is not None:
            await self.gate.acquire()
        self.assembler.neighbors.clear()  # the sync's dump says who is there now
        call = stub.Subscribe(requests(), metadata=meta)
        try:
            responses = call.__aiter__()
            while True:
                # the first answer may wait behind a thousand other streams' first syncs
                limit = self.stall_s if self.health.connected else max(2 * self.stall_s, 60.0)
                try:
                    response = await asyncio.wait_for(anext(responses), limit)
                except TimeoutError:
                    raise StreamTrouble(
                        f"gNMI {self.where}: no update for {limit:g}s (stream stalled)"
                    ) from None
                except StopAsyncIteration:
                    raise StreamTrouble(f"gNMI {self.where}: server ended the stream") from None
                self._take(response)
                if held and self.health.synced:
                    held = False
                    self.gate.release()  # type: ignore[union-attr]
                    self._lldp_changed()
        finally:
            if held:
                self.gate.release()  # type: ignore[union-attr]
            done.set()
            call.cancel()

    def _lldp_changed(self) -> None:
        if self.on_lldp is not None:
            self.on_lldp(self.device.name)

    def _take(self, response: Any) -> None:
        h = self.health
        h.last_update = self.clock()
        if not h.connected:
            h.connected, h.cause = True, ""
        if response.sync_response:
            h.synced = True
            return
        if response.HasField("update"):
            h.dumps += not h.synced
            try:
                self.apply(response.update)
            except PathError as error:
                raise StreamTrouble(f"gNMI {self.where}: {error}") from None

    def apply(self, note: Any) -> None:
        """One notification into the assembler; oper-status changes go to `on_link`."""
        asm = self.assembler
        prefix = from_proto(note.prefix)
        ts = note.timestamp / 1e9
        self.health.lag_s = time.time() - ts
        sample = lldp = probe = False
        for elems in (prefix + from_proto(p) for p in note.delete):
            asm.delete(elems)
            lldp = lldp or elems[0][0] == "lldp"
        for update in note.update:
            raw = update.path.SerializeToString()
            cached = self._paths.get(raw)
            if cached is None:
                cached = self._paths[raw] = from_proto(update.path)
            elems = prefix + cached
            asm.apply(elems, untyped(update.val))
            if elems[0][0] == "lldp":
                lldp = True
            elif is_probe(elems):
                probe = True
            elif elems[-1][0] != "oper-status":
                sample = True
        self.health.notifications += 1
        if sample:
            asm.timestamp = max(asm.timestamp, ts)
            self.health.samples += 1
            self.health.seq += 1
            self.health.last_sample = self.clock()
        oper = asm.oper_status()
        changed = [(i, up) for i, up in oper.items() if self._oper.get(i, up) != up]
        self._oper = oper
        if self.on_link is not None:
            for iface, up in changed:
                self.on_link(self.device.name, iface, up, ts)
        if probe and not sample and self.on_probe is not None and self.health.synced:
            self.on_probe(self.device.name, asm.uplink_probes())
        if lldp and self.health.synced:
            self.health.lldp_changes += 1
            self._lldp_changed()
