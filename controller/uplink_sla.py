"""Brownout switching decisions from active uplink probes (issue 20, item 4; pure logic).

Branch routers probe each uplink (TWAMP-light style: delay, jitter, loss per probe window). A
class leaves an uplink when N probes in a row break its SLA there, and may come back once the
uplink has probed good for a hold time; each decision names the probe figures as its cause.
The engine turns `avoided()` into link exclusions for the class's intents (as it does for
forecasts), so the uplink policy's next tier takes them. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from controller.avoid import Avoidance
from controller.devicestate import DeviceState, UplinkProbe
from controller.intents import SERVICE_CLASSES
from controller.pathing.types import Placement
from controller.topology import Topology

JITTER_BOUNDS_S = {"voice": 0.030, "video": 0.050}
"""Per-class jitter bounds (ITU-T G.1010 guidance for conversational voice and video)."""


@dataclass(frozen=True)
class Probe:
    """One probe window's figures on one uplink (link id)."""

    link: str
    at: float
    delay_s: float
    jitter_s: float
    loss: float

    def figures(self) -> str:
        return (
            f"delay {self.delay_s * 1e3:.1f} ms, jitter {self.jitter_s * 1e3:.1f} ms, "
            f"loss {self.loss:.1%}"
        )


@dataclass(frozen=True)
class Bound:
    max_delay_s: float | None
    max_jitter_s: float | None
    max_loss: float | None

    def breach(self, probe: Probe) -> str | None:
        """The first figure of `probe` over the bound, as words, or None."""
        if self.max_loss is not None and probe.loss > self.max_loss:
            return f"loss {probe.loss:.1%} > {self.max_loss:.1%}"
        if self.max_delay_s is not None and probe.delay_s > self.max_delay_s:
            return f"delay {probe.delay_s * 1e3:.1f} ms > {self.max_delay_s * 1e3:.1f} ms"
        if self.max_jitter_s is not None and probe.jitter_s > self.max_jitter_s:
            return f"jitter {probe.jitter_s * 1e3:.1f} ms > {self.max_jitter_s * 1e3:.1f} ms"
        return None


def class_bounds() -> dict[str, Bound]:
    """The SLA of every service class, from the class table."""
    return {
        name: Bound(c.max_latency_s, JITTER_BOUNDS_S.get(name), c.max_loss)
        for name, c in SERVICE_CLASSES.items()
    }


@dataclass(frozen=True)
class Move:
    """A class leaves (`off`) or may return to (`back`) an uplink, and why."""

    link: str
    service_class: str
    kind: Literal["off", "back"]
    at: float
    cause: str


@dataclass
class _State:
    breaches: int = 0
    avoided_since: float | None = None
    good_since: float | None = None


@dataclass
class SlaWatch:
    """Consecutive-breach counting with a hold time, per (uplink, class)."""

    probes_to_move: int = 3
    hold_s: float = 60.0
    bounds: Mapping[str, Bound] = field(default_factory=class_bounds)
    _state: dict[tuple[str, str], _State] = field(default_factory=dict)

    def observe(self, probe: Probe) -> list[Move]:
        """Take one probe; the moves it decides (at most one per class)."""
        moves = []
        for name, bound in self.bounds.items():
            state = self._state.setdefault((probe.link, name), _State())
            move = self._step(state, probe, name, bound.breach(probe))
            if move is not None:
                moves.append(move)
        return moves

    def _step(self, state: _State, probe: Probe, name: str, breach: str | None) -> Move | None:
        if breach is not None:
            state.breaches += 1
            state.good_since = None
            if state.avoided_since is None and state.breaches >= self.probes_to_move:
                state.avoided_since = probe.at
                cause = (
                    f"SLA: {probe.link} {breach} for {state.breaches} probes in a row "
                    f"({probe.figures()})"
                )
                return Move(probe.link, name, "off", probe.at, cause)
            return None
        state.breaches = 0
        if state.avoided_since is None:
            return None
        if state.good_since is None:
            state.good_since = probe.at
        if probe.at - state.good_since < self.hold_s:
            return None
        state.avoided_since, state.good_since = None, None
        cause = f"SLA: {probe.link} good for {self.hold_s:g} s ({probe.figures()})"
        return Move(probe.link, name, "back", probe.at, cause)

    def avoided(self) -> dict[str, frozenset[str]]:
        """Uplink -> the classes currently kept off it."""
        out: dict[str, set[str]] = {}
        for (link, name), state in self._state.items():
            if state.avoided_since is not None:
                out.setdefault(link, set()).add(name)
        return {link: frozenset(names) for link, names in out.items()}


@dataclass
class ProbeFeed:
    """Hands each new probe window that routers report (`DeviceState.probes`, or a window
    streamed as it closes) to an `SlaWatch` once, in window order per uplink; routers report
    their last few windows every time, and a streamed window comes again in the next sample."""

    watch: SlaWatch = field(default_factory=SlaWatch)
    seen: dict[str, int] = field(default_factory=dict)
    """Uplink -> the last window (`seq`) fed."""
    probes: int = 0

    def ingest(self, states: Iterable[DeviceState]) -> list[Move]:
        return self.take(p for state in states for p in state.probes)

    def take(self, windows: Iterable[UplinkProbe]) -> list[Move]:
        """Windows from any source (a round's reports, or one streamed as it closed)."""
        fresh = sorted(windows, key=lambda p: (p.link, p.seq))
        moves: list[Move] = []
        for p in fresh:
            last = self.seen.get(p.link, -1)
            if p.seq <= last and p.seq > last - RESTART_GAP:
                continue  # seen already (a router restart starts again from 0: taken)
            self.seen[p.link] = p.seq
            self.probes += 1
            moves += self.watch.observe(Probe(p.link, p.at, p.delay_s, p.jitter_s, p.loss))
        return moves


RESTART_GAP = 1000
"""A window number this far below the last one seen means the router restarted."""


def sla_key(link: str) -> str:
    return f"{link}/sla"


def apply_moves(avoid: dict[str, Avoidance], moves: Iterable[Move], now: float) -> set[str]:
    """Turn moves into the engine's avoidances (one `sla` entry per uplink naming the classes
    kept off it); returns the classes whose placement must be looked at again."""
    touched: set[str] = set()
    for move in moves:
        key = sla_key(move.link)
        current = avoid.get(key)
        classes = set(current.classes) if current is not None else set()
        if move.kind == "off":
            classes.add(move.service_class)
        else:
            classes.discard(move.service_class)
        touched.add(move.service_class)
        if classes:
            avoid[key] = Avoidance(move.link, "sla", 1.0, now, move.cause, frozenset(classes))
        else:
            avoid.pop(key, None)
    return touched


def at_sites(
    placements: Mapping[str, Placement],
    topology: Topology,
    moves: Iterable[Move],
    classes: set[str],
) -> set[str]:
    """Placements of `classes` starting or ending at a router of a moved uplink."""
    links = topology.physical_links()
    sites = {lk.src for m in moves for lk in links.get(m.link, ())}
    return {
        name
        for name, p in placements.items()
        if p.request.service_class in classes and {p.request.src, p.request.dst} & sites
    }


def summary(moves: Iterable[Move]) -> str:
    """One cause for a batch of moves: per uplink and direction, the classes and the first
    move's figures, e.g. `SLA: BR1-internet: voice, office off (loss 8.0% > 1.0% for 3 ...)`."""
    groups: dict[tuple[str, str], list[Move]] = {}
    for move in moves:
        groups.setdefault((move.link, move.kind), []).append(move)
    parts = []
    for (link, kind), group in groups.items():
        names = ", ".join(m.service_class for m in group)
        why = group[0].cause.removeprefix(f"SLA: {link} ")
        parts.append(f"SLA: {link}: {names} {kind} ({why})")
    return "; ".join(parts)
