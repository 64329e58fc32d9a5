"""Brownout switching decisions from active uplink probes (issue 20, item 4; pure logic).

Branch routers probe each uplink (TWAMP-light style: delay, jitter, loss per probe window). A
class leaves an uplink when N probes in a row break its SLA there, and may come back once the
uplink has probed good for a hold time; each decision names the probe figures as its cause.
The engine turns `avoided()` into link exclusions for the class's intents (as it does for
forecasts), so the uplink policy's next tier takes them. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from controller.intents import SERVICE_CLASSES

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
