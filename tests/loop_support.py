"""Shared checks for the scenario suite (tests/test_scenarios_*.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from controller.desired import DeviceConfig
from controller.southbound.render import canonical
from harness.loopsession import LoopSession, LoopSpec

SCENARIOS = Path(__file__).resolve().parent.parent / "harness" / "scenarios"


def spec(name: str | None, **kw: object) -> LoopSpec:
    path = SCENARIOS / f"bank-wan-{name}.yaml" if name else None
    return LoopSpec(scenario=path, **kw)  # type: ignore[arg-type]


def run(session: LoopSession, ticks: int | None = None) -> None:
    for _ in range(ticks if ticks is not None else session.steps):
        session.runner.tick()


def drift(session: LoopSession) -> list[str]:
    """Devices whose running config differs from what the controller recorded as installed."""
    installed = session.controller.store.installed_configs()
    if session.devices is not None:
        installed = {n: canonical(c) for n, c in installed.items()}
        runner = session.devices.runner
        running = runner.call(
            lambda: {n: r.running_config() for n, r in runner.fleet.routers.items()}
        )
    else:
        running = dict(session.sim.configs)
    names = set(installed) | {n for n, c in running.items() if c != DeviceConfig(n)}
    return sorted(n for n in names if installed.get(n, DeviceConfig(n)) != running.get(n))


def moves(session: LoopSession) -> Counter[str]:
    return Counter(name for s in session.runner.signals for name in s.moved)


def lost(session: LoopSession) -> list[str]:
    return session.runner.intents_lost([i.name for i in session.intents])


def placement_links(session: LoopSession, name: str) -> set[str]:
    placement = session.controller.engine.placement(name)
    assert placement is not None, name
    return {key[2] for key in placement.primary.links}
