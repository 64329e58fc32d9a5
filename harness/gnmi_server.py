"""The simulated routers' gNMI server: one gRPC server for the whole network, routers by target.

    server = GnmiServer(pki)                     # harness/gnmi_tls.py: CA, cert, password
    port = server.start()                        # 127.0.0.1, its own event loop in a thread
    server.publish({"BR1": (t, leaves), ...})    # after every simulator step (any thread)
    server.stop()

Every router of a network sits behind one TLS port and is addressed, as gNMI intends for a
device that fronts many, by the `target` of the request's prefix (`Path.target`). One server
with one asyncio loop (grpc.aio) carries thousands of streams; a server per router would cost
a port, a TLS context and a thread pool per router.

RPCs: `Capabilities`; `Get` (paths under a target's prefix, scalar `TypedValue`s); `Subscribe`
in STREAM mode (ON_CHANGE: the current values, `sync_response`, then each change as it is
published; SAMPLE: every `sample_interval`, one notification per sample with every matching
leaf) and ONCE. POLL is refused (UNIMPLEMENTED). Every RPC needs `username`/`password`
metadata (gNMI authentication spec): without them, or wrong, UNAUTHENTICATED.

Tests and benchmarks can make a target misbehave (`inject`): `garbage` (an update for a path
the model does not have), `badvalue` (a counter as a string), `stall` (nothing more after the
sync), or mark it `unreachable` (its streams end UNAVAILABLE; new ones are refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import grpc
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from harness.gnmi_tls import GnmiPki
from telemetry.gnmi_model import Container, Leaf, flatten
from telemetry.gnmi_paths import Elems, PathError, Scalar, from_proto, matches, to_proto, typed

log = logging.getLogger("netpilot.gnmi")
MODELS = (
    ("openconfig-interfaces", "OpenConfig working group", "3.0.0"),
    ("openconfig-qos", "OpenConfig working group", "0.11.0"),
    ("openconfig-platform-transceiver", "OpenConfig working group", "0.14.0"),
    ("openconfig-lldp", "OpenConfig working group", "0.2.1"),
    ("netpilot-telemetry", "netpilot", "1.0.0"),
)
FAULTS = ("garbage", "badvalue", "stall")
MIN_SAMPLE_NS = 10_000_000
"""A sample_interval below 10 ms is raised to it (a router's minimum)."""


@dataclass
class TargetState:
    timestamp: float
    leaves: dict[Elems, Scalar]
    """The leaves published as such (ON_CHANGE compares these between publishes)."""
    shape: int = 0
    """Changes when the set of paths changes (cached path selections are then redone)."""
    containers: dict[Elems, Any] = field(default_factory=dict)
    """JSON_IETF container updates (encoded once per publish), for SAMPLEs."""
    raw: tuple[Container, ...] = ()
    events_only: bool = False
    """Set by `publish_events` until the full `publish` follows: the containers are still the
    previous state's (an interface's old oper-status), so SAMPLEs wait for the full state."""
    _flat: dict[Elems, Scalar] | None = None

    def flat(self) -> dict[Elems, Scalar]:
        """Every leaf, the containers' too (flattened when first needed: Get, or a
        subscription to a leaf inside a container)."""
        if self._flat is None:
            flat: dict[Elems, Scalar] = {}
            for elems, body in self.raw:
                flat.update(flatten(elems, body))
            flat.update(self.leaves)
            self._flat = flat
        return self._flat


class Snapshot(NamedTuple):
    """A target's state as a source publishes it."""

    timestamp: float
    leaves: list[Leaf]
    containers: tuple[Container, ...] = ()


_PROTO_PATHS: dict[Elems, Any] = {}


def _path(elems: Elems) -> Any:
    """`to_proto`, cached: building PathElems dominates the cost of a sample otherwise."""
    path = _PROTO_PATHS.get(elems)
    if path is None:
        path = _PROTO_PATHS[elems] = to_proto(elems)
    return path


@dataclass
class ServerStats:
    streams: int = 0
    notifications: int = 0
    samples: int = 0
    refused: int = 0


@dataclass(eq=False)
class Stream:
    """One open Subscribe stream."""

    target: str
    on_change: list[Elems]
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


def _notification(target: str, ts: float, leaves: list[Leaf], deletes: list[Elems] = ()) -> Any:  # type: ignore[assignment]
    return gnmi_pb2.Notification(
        timestamp=int(ts * 1e9),
        prefix=gnmi_pb2.Path(target=target),
        update=[gnmi_pb2.Update(path=_path(e), val=typed(v)) for e, v in leaves],
        delete=[_path(e) for e in deletes],
    )


class GnmiServicer(gnmi_pb2_grpc.gNMIServicer):  # type: ignore[misc]
    def __init__(self, server: GnmiServer) -> None:
        self.server = server

    async def Capabilities(self, request: Any, context: Any) -> Any:
        await self.server.authorize(context)
        return gnmi_pb2.CapabilityResponse(
            supported_models=[
                gnmi_pb2.ModelData(name=n, organization=o, version=v) for n, o, v in MODELS
            ],
            supported_encodings=[gnmi_pb2.Encoding.PROTO, gnmi_pb2.Encoding.JSON],
            gNMI_version="0.8.0",
        )

    async def Get(self, request: Any, context: Any) -> Any:
        await self.server.authorize(context)
        target = await self.server.target_of(request.prefix, context)
        state = self.server.states[target]
        prefix = from_proto(request.prefix)
        patterns = [prefix + from_proto(p) for p in request.path] or [prefix]
        leaves = [(e, v) for e, v in state.flat().items() if any(matches(p, e) for p in patterns)]
        if not leaves:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no data at the requested paths")
        note = _notification(target, state.timestamp, leaves)
        return gnmi_pb2.GetResponse(notification=[note])

    async def Set(self, request: Any, context: Any) -> Any:
        await self.server.authorize(context)
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "configuration goes over NETCONF")

    async def Subscribe(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        await self.server.authorize(context)
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("subscribe"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "first request must subscribe")
            return
        sub = first.subscribe
        target = await self.server.target_of(sub.prefix, context)
        if sub.mode == gnmi_pb2.SubscriptionList.POLL:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "POLL mode is not supported")
        async for response in self.server.stream(target, sub, context):
            yield response


class GnmiServer:
    def __init__(self, pki: GnmiPki, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pki = pki
        self.host = host
        self.port = port
        self.states: dict[str, TargetState] = {}
        self.stats = ServerStats()
        self.faults: dict[str, str] = {}
        self.unreachable: set[str] = set()
        self._streams: dict[str, set[Stream]] = {}
        """Open streams by target."""
        self._selections: dict[tuple[str, tuple[Elems, ...]], Any] = {}
        self._password = pki.password
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="gnmi")
        self._server: Any = None

    # -- lifecycle (any thread) ----------------------------------------------------------------
    def start(self) -> int:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)

    async def _start(self) -> int:
        creds = grpc.ssl_server_credentials(
            [(self.pki.key_file.read_bytes(), self.pki.cert_file.read_bytes())]
        )
        self._server = grpc.aio.server(options=[("grpc.max_concurrent_streams", 100_000)])
        gnmi_pb2_grpc.add_gNMIServicer_to_server(GnmiServicer(self), self._server)
        self.port = self._server.add_secure_port(f"{self.host}:{self.port}", creds)
        await self._server.start()
        return self.port

    def stop(self) -> None:
        if self._server is None or not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._server.stop(0.2), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self._server = None

    def publish(self, states: Mapping[str, tuple[float, list[Leaf]] | Snapshot]) -> None:
        """New state of some targets (timestamp on the device clock, every leaf): changes go
        out at once to ON_CHANGE subscribers. Callable from any thread."""
        self.loop.call_soon_threadsafe(self._publish, dict(states))

    def publish_events(self, events: Mapping[str, tuple[float, list[Leaf]]]) -> None:
        """Only the published leaves (oper-status, LLDP) of some targets, their containers kept:
        a router's own state change goes out ON_CHANGE before the slower full `publish`."""
        self.loop.call_soon_threadsafe(self._publish_events, dict(events))

    def inject(self, target: str, fault: str | None) -> None:
        """Make a target misbehave (FAULTS) from now on, or behave again (None)."""
        self.loop.call_soon_threadsafe(self._inject, target, fault)

    def set_reachable(self, target: str, reachable: bool) -> None:
        self.loop.call_soon_threadsafe(self._set_reachable, target, reachable)

    # -- on the server's loop ------------------------------------------------------------------
    def _inject(self, target: str, fault: str | None) -> None:
        if fault is None:
            self.faults.pop(target, None)
        else:
            self.faults[target] = fault

    def _set_reachable(self, target: str, reachable: bool) -> None:
        if reachable:
            self.unreachable.discard(target)
            return
        self.unreachable.add(target)
        for stream in self._streams.get(target, set()):
            if stream.target == target:
                stream.queue.put_nowait(None)

    def _publish(self, states: dict[str, tuple[float, list[Leaf]] | Snapshot]) -> None:
        for target, snap in states.items():
            ts, leaves, containers = Snapshot(*snap)
            new = dict(leaves)
            old = self.states.get(target)
            encoded = {e: gnmi_pb2.Update(path=_path(e), val=typed(v)) for e, v in containers}
            same = old is not None and old.leaves.keys() == new.keys()
            same = same and old is not None and old.containers.keys() == encoded.keys()
            shape = 0 if old is None else old.shape + (not same)
            self.states[target] = TargetState(ts, new, shape, encoded, tuple(containers))
            if old is not None:
                self._changes(target, ts, old.leaves, new)

    def _publish_events(self, events: dict[str, tuple[float, list[Leaf]]]) -> None:
        for target, (ts, leaves) in events.items():
            old = self.states.get(target)
            new = dict(leaves)
            if old is None or new == old.leaves:
                continue
            shape = old.shape + (new.keys() != old.leaves.keys())
            self.states[target] = TargetState(
                ts, new, shape, old.containers, old.raw, events_only=True
            )
            self._changes(target, ts, old.leaves, new)

    def _changes(
        self, target: str, ts: float, old: dict[Elems, Scalar], new: dict[Elems, Scalar]
    ) -> None:
        """ON_CHANGE: the leaves that changed or went, to the target's watchers."""
        watchers = [s for s in self._streams.get(target, ()) if s.on_change]
        if not watchers or self.faults.get(target) == "stall":
            return
        changed = [(e, v) for e, v in new.items() if old.get(e) != v]
        gone = [e for e in old if e not in new]
        for stream in watchers:
            self._notify(stream, ts, changed, gone)

    def _notify(self, stream: Stream, ts: float, changed: list[Leaf], gone: list[Elems]) -> None:
        mine = [(e, v) for e, v in changed if any(matches(p, e) for p in stream.on_change)]
        dels = [e for e in gone if any(matches(p, e) for p in stream.on_change)]
        if mine or dels:
            note = _notification(stream.target, ts, mine, dels)
            stream.queue.put_nowait(gnmi_pb2.SubscribeResponse(update=note))

    async def authorize(self, context: Any) -> None:
        meta = dict(context.invocation_metadata() or ())
        user, password = str(meta.get("username", "")), str(meta.get("password", ""))
        ok = secrets.compare_digest(user, self.pki.username) and secrets.compare_digest(
            password.encode(), self._password.encode()
        )
        if not ok:
            self.stats.refused += 1
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "username/password metadata missing or wrong (gNMI authentication)",
            )

    async def target_of(self, prefix: Any, context: Any) -> str:
        target = prefix.target
        if target in self.unreachable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"target {target!r} unreachable")
        if target not in self.states:
            known = ", ".join(sorted(self.states)[:5])
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"unknown target {target!r} in the prefix; known: {known}",
            )
        return str(target)

    async def stream(self, target: str, sub: Any, context: Any) -> AsyncIterator[Any]:
        """The responses of one subscription (module docstring)."""
        prefix = from_proto(sub.prefix)
        on_change: list[Elems] = []
        samples: dict[int, list[Elems]] = {}
        for s in sub.subscription:
            path = prefix + from_proto(s.path)
            if s.mode == gnmi_pb2.SAMPLE:
                interval = max(s.sample_interval or 10_000_000_000, MIN_SAMPLE_NS)
                samples.setdefault(interval, []).append(path)
            else:  # ON_CHANGE, and TARGET_DEFINED taken as ON_CHANGE
                on_change.append(path)
        stream = Stream(target, on_change)
        self._streams.setdefault(target, set()).add(stream)
        self.stats.streams += 1
        timers = [
            asyncio.create_task(self._sampler(stream, paths, ns)) for ns, paths in samples.items()
        ]
        try:
            if not sub.updates_only:
                yield self._initial(target, on_change + [p for ps in samples.values() for p in ps])
            yield gnmi_pb2.SubscribeResponse(sync_response=True)
            if sub.mode == gnmi_pb2.SubscriptionList.ONCE:
                return
            while True:
                item = await stream.queue.get()
                if item is None:
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE, f"target {target!r} unreachable"
                    )
                self.stats.notifications += 1
                yield item
        finally:
            for task in timers:
                task.cancel()
            self._streams.get(target, set()).discard(stream)

    def _initial(self, target: str, patterns: list[Elems]) -> Any:
        state = self.states[target]
        boxes, keys = self._selection(target, state, patterns)
        note = _notification(target, state.timestamp, _values(state, keys))
        note.update.extend(state.containers[c] for c in boxes)
        return gnmi_pb2.SubscribeResponse(update=note)

    def _selection(
        self, target: str, state: TargetState, patterns: list[Elems]
    ) -> tuple[list[Elems], list[Elems]]:
        """`_select`, cached per target, shape and patterns (a resubscribing collector, or a
        thousand streams subscribing at once, must not redo it)."""
        key = (target, tuple(patterns))
        got = self._selections.get(key)
        if got is None or got[0] != state.shape:
            got = self._selections[key] = (state.shape, _select(state, patterns))
        return got[1]

    async def _sampler(self, stream: Stream, patterns: list[Elems], interval_ns: int) -> None:
        period = interval_ns / 1e9
        due = time.monotonic() + period
        shape, keys, boxes = -1, list[Elems](), list[Elems]()
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due += period
            fault = self.faults.get(stream.target)
            if fault == "stall":
                continue
            state = self.states[stream.target]
            if state.events_only:  # stale containers: the full state is on its way
                continue
            if state.shape != shape:
                shape = state.shape
                boxes, keys = self._selection(stream.target, state, patterns)
            leaves = _corrupt(_values(state, keys), fault)
            note = _notification(stream.target, state.timestamp, leaves)
            note.update.extend(state.containers[c] for c in boxes if c in state.containers)
            self.stats.samples += 1
            stream.queue.put_nowait(gnmi_pb2.SubscribeResponse(update=note))


def _select(state: TargetState, patterns: list[Elems]) -> tuple[list[Elems], list[Elems]]:
    """What a SAMPLE of `patterns` sends: the containers the patterns cover whole, and the
    leaves they cover that no such container holds (from the published leaves, and from the
    containers only a longer pattern reaches into)."""
    boxes = [c for c in state.containers if any(matches(p, c) for p in patterns)]
    held = set(boxes)
    candidates = list(state.leaves)
    for c, body in state.raw:
        if c not in held and any(len(p) > len(c) and matches(p[: len(c)], c) for p in patterns):
            candidates.extend(e for e, _ in flatten(c, body))
    keys = [
        e
        for e in candidates
        if any(matches(p, e) for p in patterns) and not any(e[:k] in held for k in range(1, len(e)))
    ]
    return boxes, keys


def _values(state: TargetState, keys: list[Elems]) -> list[Leaf]:
    out = []
    for e in keys:
        value = state.leaves.get(e)
        if value is None:
            value = state.flat().get(e)
        if value is not None:
            out.append((e, value))
    return out


def _corrupt(leaves: list[Leaf], fault: str | None) -> list[Leaf]:
    if fault == "garbage":
        return [*leaves, ((("interfaces", ()), ("bogus-leaf", ())), 1)]
    if fault == "badvalue":
        counter = (("interfaces", ()), ("interface", (("name", "x"),)), ("state", ()),
                   ("counters", ()), ("in-octets", ()))  # fmt: skip
        return [*leaves, (counter, "lots")]
    return leaves


def check_fault(fault: str) -> str:
    if fault not in FAULTS:
        raise PathError(f"fault {fault!r}: use one of {', '.join(FAULTS)}")
    return fault
