"""`controller run --robust-forecast` (issue 18, item 3): each link's forecast signal is the worst
of a set of plausible futures (models/robust_forecast.py), and the flag reaches the live loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.avoid import AvoidConfig
from controller.runtime.signals import SignalPlanner
from models.robust_forecast import Future, LinkFutures, value_before, worst_future
from tests.test_topo_cli import run

DAY = 600.0  # a compressed day, as the demo runs it
STEP = 10.0


@dataclass
class Report:
    """One direction of a link as the loop's telemetry gives it (the fields the planner reads)."""

    link: str
    src: str
    dst: str
    utilisation: float | None
    t: float
    oper_up: bool = True
    delay_s: float | None = None
    loss: float | None = None


@dataclass
class Forecast:
    link: str
    utilisation: float
    horizon_s: float = 60.0


def test_the_worst_member_decides_and_a_tie_goes_to_the_forecast() -> None:
    assert worst_future([]) is None
    members = [Future("forecast", 0.5), Future("day-ago", 0.9), Future("recent peak", 0.7)]
    assert worst_future(members) == Future("day-ago", 0.9)
    tie = [Future("recent peak", 0.8), Future("forecast", 0.8)]
    assert worst_future(tie) == Future("forecast", 0.8)


def test_value_before_needs_the_history_to_reach_back() -> None:
    times, values = [100.0, 110.0, 120.0], [0.1, 0.2, 0.3]
    assert value_before(times, values, 115.0, 20.0) == 0.2
    assert value_before(times, values, 99.0, 20.0) is None  # before the history starts
    assert value_before(times, values, 160.0, 20.0) is None  # a gap longer than `within_s`


def test_history_gives_latest_recent_peak_and_day_ago_once_a_day_is_in() -> None:
    futures = LinkFutures(period_s=DAY, recent_rounds=3)
    futures.add("L", 0.0, 0.95)  # busy a day before the target time, quiet since
    for i in range(1, 30):
        futures.add("L", i * STEP, 0.2)
    assert {f.name for f in futures.futures("L", 0.3, 60.0)} == {
        "forecast",
        "latest",
        "recent peak",
    }
    for i in range(30, 55):  # the latest round is t = 540: target 600 is a day after t = 0
        futures.add("L", i * STEP, 0.4 if i == 53 else 0.2)
    got = {f.name: f.utilisation for f in futures.futures("L", 0.3, 60.0)}
    assert got == {"forecast": 0.3, "latest": 0.2, "day-ago": 0.95, "recent peak": 0.4}
    for i in range(55, 200):  # a long run keeps one period and a margin, not everything
        futures.add("L", i * STEP, 0.2)
    assert len(futures._times["L"]) <= 2 * DAY / STEP
    with pytest.raises(ValueError, match="recent_rounds"):
        LinkFutures(recent_rounds=0)


def _planner(futures: LinkFutures | None) -> SignalPlanner:
    return SignalPlanner(AvoidConfig(forecast_on=0.85, forecast_off=0.7), futures=futures)


def _signals(planner: SignalPlanner, p90: float) -> list[str]:
    out = planner.model_signals([], [Forecast("L", p90)], set(), lambda _: "", "p90 of the model")
    return [s.cause for s in out if s.kind == "forecast" and s.value >= 0.85]


def test_the_planner_moves_on_a_day_ago_peak_the_p90_alone_misses() -> None:
    plain, robust = _planner(None), _planner(LinkFutures(period_s=DAY))
    for i in range(55):  # busy at t = 0 and t = 10 a day ago; now 0.3
        util = 0.92 if i < 2 else 0.3
        for planner in (plain, robust):
            planner.record_loads([Report("L", "a", "b", util, i * STEP),
                                  Report("L", "b", "a", 0.1, i * STEP)])  # fmt: skip
    assert _signals(plain, 0.4) == []  # the p90 alone: no move
    (cause,) = _signals(robust, 0.4)
    assert cause.startswith("utilisation 92% (day-ago:"), cause


def test_the_planner_moves_on_a_recent_peak_and_names_the_forecast_when_it_decides() -> None:
    robust = _planner(LinkFutures(period_s=DAY))
    for i in range(10):
        robust.record_loads([Report("L", "a", "b", 0.9 if i == 4 else 0.3, i * STEP)])
    (cause,) = _signals(robust, 0.5)
    assert cause.startswith("utilisation 90% (recent peak: peak of the last 18 rounds"), cause
    (cause,) = _signals(robust, 0.95)
    assert cause.startswith("utilisation 95% (forecast: forecast 60s ahead, p90 of the model")


def test_the_flag_parses_and_reaches_the_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.runtime.assemble import build, link_futures
    from controller.runtime.settings import make_settings

    db = str(tmp_path / "db")
    code, _, err = run(capsys, "controller", "run", "--topology", "ring:4", "--db", db,
                       "--robust-forecast", "--interval", "0")  # fmt: skip
    assert code == 2 and "--interval" in err and "No such option" not in err, err
    monkeypatch.setenv("NETPILOT_ROBUST_FORECAST", "maybe")  # typer reads the variable
    code, _, err = run(capsys, "controller", "run", "--topology", "ring:4",
                       "--db", str(tmp_path / "db"))  # fmt: skip
    assert code == 2 and "NETPILOT_ROBUST_FORECAST" in err, err
    settings = make_settings(topology="ring:4", db=tmp_path / "db", robust_forecast=True)
    futures = link_futures(settings)
    assert futures is not None and futures.period_s == settings.period_s
    assert link_futures(make_settings(topology="ring:4", db=tmp_path / "db")) is None
    (tmp_path / "known_hosts").write_text("")
    inventory = tmp_path / "inventory.yaml"  # a device nobody answers for: nothing connects here
    inventory.write_text(
        f"known_hosts: {tmp_path / 'known_hosts'}\ndevices:\n"
        "  - {name: r1, host: 127.0.0.1, port: 9, username: u, password: p}\n"
    )
    with_live = settings.model_copy(update={"inventory": inventory})
    runtime = build(with_live, env={})
    try:
        assert runtime.live is not None and isinstance(runtime.live.planner.futures, LinkFutures)
        line = next(x for x in runtime.startup_lines() if x.startswith("models:"))
        assert "(--robust-forecast)" in line and "last 18 rounds" in line, line
    finally:
        asyncio.run(runtime.stop())
