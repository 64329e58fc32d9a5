"""What the engine hears after a telemetry round: link state, fault risk, forecasts, SLA breaks.

`SignalPlanner` turns one round's link telemetry and model outputs into `Signal`s, each naming
the engine call that acts on it (`deliver`). The live controller (`controller.runtime.live`) and
the lockstep scenario suite (`harness.loop`) both use it, so the suite tests the decisions the
controller makes.

- Link state is level-triggered: a physical link is down when a fresh report of either end says
  so, up when every fresh report says up; a signal goes out when that differs from what the
  engine was last told (at start: from the engine's topology), so a link that was already down
  when the controller started is acted on, and a report from a stale device changes nothing.
- Risk above `risk_floor` and forecasts above the engine's `forecast_off` are handed on (the
  engine applies its own on/off hysteresis), and so is every value for a link being avoided, so
  the engine can clear it.
- Measured delay or loss far from a link's figures: the engine re-checks the SLAs of the intents
  on it; reported again when the link is back to normal.
- Active uplink probes (`DeviceState.probes`) go through `controller.uplink_sla` (N probes in a
  row over a class's SLA, a hold time back); its moves go to the engine as one `uplink` signal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Any, Protocol

from controller.avoid import AvoidConfig
from controller.devicestate import DeviceState, UplinkProbe
from controller.errors import NetpilotError
from controller.topology import LinkState, Topology
from controller.uplink_sla import Move, ProbeFeed, summary
from models.robust_forecast import LinkFutures, worst_future

ABNORMAL_DELAY_FACTOR = 1.5
ABNORMAL_DELAY_MARGIN_S = 0.005
ABNORMAL_LOSS = 0.001


class LinkReport(Protocol):
    """One directed link as telemetry last saw it (telemetry.processor.LinkTelemetry)."""

    link: str
    src: str
    dst: str
    oper_up: bool
    delay_s: float | None
    loss: float | None


class LinkValue(Protocol):
    """A per-direction model output: a risk (`risk`) or a forecast (`utilisation`)."""

    link: str


class SignalEngine(Protocol):
    topology: Topology
    avoid: dict[str, Any]

    async def link_state(
        self, link_id: str, state: LinkState, cause: str, observed_at: float | None = None
    ) -> Any: ...
    async def link_risk(self, link_id: str, risk: float, cause: str) -> Any: ...
    async def link_forecast(self, link_id: str, utilisation: float, cause: str) -> Any: ...
    async def link_measured(
        self, link_id: str, delay_s: float | None, loss: float | None, cause: str
    ) -> Any: ...
    async def uplink_sla(self, moves: Sequence[Move], cause: str) -> Any: ...


@dataclass(frozen=True)
class Signal:
    """`kind`: link_down, link_up, risk, forecast or sla; `value` is the figure behind it."""

    kind: str
    link: str
    value: float
    cause: str
    delay_s: float | None = None
    loss: float | None = None
    moves: tuple[Move, ...] = ()
    """For `uplink`: the brownout moves (controller.uplink_sla) to apply."""
    observed_at: float | None = None
    """For link states: time.monotonic() when the round that saw it began (None: now)."""


async def deliver(engine: SignalEngine, signal: Signal) -> Any:
    """Hand `signal` to the engine call that acts on it; returns the engine's report or None."""
    if signal.kind in ("link_down", "link_up"):
        state = LinkState.DOWN if signal.kind == "link_down" else LinkState.UP
        return await engine.link_state(signal.link, state, signal.cause, signal.observed_at)
    if signal.kind == "risk":
        return await engine.link_risk(signal.link, signal.value, signal.cause)
    if signal.kind == "forecast":
        return await engine.link_forecast(signal.link, signal.value, signal.cause)
    if signal.kind == "sla":
        return await engine.link_measured(signal.link, signal.delay_s, signal.loss, signal.cause)
    if signal.kind == "uplink":
        return await engine.uplink_sla(signal.moves, signal.cause)
    raise ValueError(f"unknown signal kind {signal.kind!r}")


class SignalPlanner:
    def __init__(
        self, avoid: AvoidConfig, risk_floor: float = 0.2, futures: LinkFutures | None = None
    ) -> None:
        self.avoid = avoid
        self.risk_floor = risk_floor
        self.futures = futures
        """With `--robust-forecast`: each link's history, whose worst plausible future
        (models.robust_forecast) replaces its forecast."""
        self.told: dict[str, LinkState] = {}
        """Link state the engine was last told (or found in its topology at start)."""
        self._abnormal: dict[str, bool] = {}
        self.probes = ProbeFeed()
        """Active uplink probes -> brownout moves (controller/uplink_sla.py)."""

    # -- link state --------------------------------------------------------------------------
    def link_states(
        self,
        links: Iterable[LinkReport],
        topology: Topology,
        fresh: Callable[[str], bool] = lambda device: True,
    ) -> list[Signal]:
        """Signals for physical links whose state differs from what the engine believes."""
        seen: dict[str, list[tuple[str, bool]]] = {}
        for lt in links:
            if fresh(lt.src):
                seen.setdefault(lt.link, []).append((lt.src, lt.oper_up))
        physical = topology.physical_links()
        out = []
        for link, reports in sorted(seen.items()):
            if link not in physical:
                continue
            believed = self.told.get(link) or physical[link][0].state
            down = [src for src, up in reports if not up]
            state = LinkState.DOWN if down else LinkState.UP
            if state is believed:
                self.told[link] = believed
                continue
            self.told[link] = state
            reporter = down[0] if down else reports[0][0]
            kind = "link_down" if down else "link_up"
            cause = f"telemetry: {reporter} reports {link} {state.value}"
            out.append(Signal(kind, link, 0.0, cause))
        return out

    def is_down(self, link: str) -> bool:
        return self.told.get(link) is LinkState.DOWN

    # -- model outputs -----------------------------------------------------------------------
    def model_signals(
        self,
        risks: Iterable[Any],
        forecasts: Iterable[Any],
        avoided: set[str],
        detail: Callable[[str], str],
        forecast_source: str,
    ) -> list[Signal]:
        """Risk and forecast signals (worst direction of each link)."""
        worst_risk: dict[str, float] = {}
        for r in risks:
            worst_risk[r.link] = max(float(r.risk), worst_risk.get(r.link, 0.0))
        worst_util: dict[str, float] = {}
        horizon = 0.0
        for f in forecasts:
            worst_util[f.link] = max(float(f.utilisation), worst_util.get(f.link, 0.0))
            horizon = float(f.horizon_s)
        out = []
        for link, risk in sorted(worst_risk.items()):
            if self.is_down(link):
                continue  # link_state handles it
            if risk >= self.risk_floor or link in avoided:
                out.append(Signal("risk", link, risk, f"fault risk {risk:.2f} ({detail(link)})"))
        if self.futures is not None:
            return out + self._robust_signals(worst_util, horizon, avoided, forecast_source)
        for link, util in sorted(worst_util.items()):
            if util >= self.avoid.forecast_off or link in avoided:
                cause = f"utilisation {util:.0%} forecast {horizon:.0f}s ahead ({forecast_source})"
                out.append(Signal("forecast", link, util, cause))
        return out

    def record_loads(self, links: Iterable[LinkReport]) -> None:
        """With `--robust-forecast`: one round's measured utilisation (worst direction of
        each link, at the routers' time) into the links' history."""
        if self.futures is None:
            return
        worst: dict[str, tuple[float, float]] = {}
        for lt in links:
            util = getattr(lt, "utilisation", None)
            if util is None or self.is_down(lt.link):
                continue
            t, u = worst.get(lt.link, (0.0, 0.0))
            worst[lt.link] = (max(t, float(getattr(lt, "t", 0.0))), max(u, float(util)))
        for link, (t, u) in worst.items():
            self.futures.add(link, t, u)

    def _robust_signals(
        self, forecast: dict[str, float], horizon: float, avoided: set[str], source: str
    ) -> list[Signal]:
        """Each link's worst plausible future, naming the member that decided."""
        assert self.futures is not None
        out = []
        for link in sorted(set(forecast) | set(self.futures.links())):
            worst = worst_future(self.futures.futures(link, forecast.get(link), horizon))
            if worst is None:
                continue
            util = worst.utilisation
            if util >= self.avoid.forecast_off or link in avoided:
                what = {
                    "forecast": f"forecast {horizon:.0f}s ahead, {source}",
                    "latest": "measured in the latest round",
                    "day-ago": "measured one period before the forecast's target",
                    "recent peak": f"peak of the last {self.futures.recent_rounds} rounds",
                }[worst.name]
                cause = f"utilisation {util:.0%} ({worst.name}: {what}; robust forecast)"
                out.append(Signal("forecast", link, util, cause))
        return out

    # -- measured delay and loss -------------------------------------------------------------
    def measure_signals(
        self, links: Iterable[LinkReport], topology: Topology, settling: Set[str] = frozenset()
    ) -> list[Signal]:
        """Delay and loss far from (or back to) a link's figures. Links in `settling` changed
        state within the last rounds: their counters span the outage (drops while down read
        as loss), so they are not judged until a round lies wholly after the change."""
        out = []
        for lt in links:
            if lt.delay_s is None or not lt.oper_up or lt.link in settling:
                continue
            try:
                nominal = topology.link((lt.src, lt.dst, lt.link)).delay_s
            except NetpilotError:
                continue
            loss = lt.loss or 0.0
            abnormal = (
                lt.delay_s > nominal * ABNORMAL_DELAY_FACTOR + ABNORMAL_DELAY_MARGIN_S
                or loss > ABNORMAL_LOSS
            )
            if abnormal == self._abnormal.get(lt.link, False):
                continue
            self._abnormal[lt.link] = abnormal
            what = "SLA at risk" if abnormal else "back to normal"
            cause = (
                f"telemetry: {lt.link} delay {lt.delay_s * 1e3:.1f} ms, loss {loss:.2%} ({what})"
            )
            value = 1.0 if abnormal else 0.0
            out.append(Signal("sla", lt.link, value, cause, lt.delay_s, loss))
        return out

    # -- active uplink probes ---------------------------------------------------------------
    def probe_signals(self, states: Iterable[DeviceState]) -> list[Signal]:
        """One `uplink` signal carrying the moves this round's new probe windows decide."""
        return self.window_signals(p for state in states for p in state.probes)

    def window_signals(self, windows: Iterable[UplinkProbe]) -> list[Signal]:
        """The same for windows streamed as they close (judged on arrival, not at a round)."""
        moves = self.probes.take(windows)
        if not moves:
            return []
        cause = summary(moves)
        return [Signal("uplink", moves[0].link, float(len(moves)), cause, moves=tuple(moves))]


def avoided_links(engine: SignalEngine) -> set[str]:
    return {a.link for a in engine.avoid.values()}
