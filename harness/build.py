"""Build a simulation from command-line style specs: topology, traffic, scenario, seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from controller.errors import UsageError
from harness.netsim import NetworkSimulator
from harness.routing import IgpRouting, LinkIndex
from harness.scenario import Scenario, WatchIntent, check_against, load_scenario
from harness.traffic import GravityTraffic, TrafficSource, geant_replay, replay_file
from topologies.loader import load as load_topology


@dataclass(frozen=True)
class SimSpec:
    topology: str = "geant"
    traffic: str = "gravity"
    scenario: Path | None = None
    seed: int = 1
    step_s: float = 10.0
    flows: int = 2000
    load: float = 0.6
    extra_links: tuple[str, ...] = ()
    """`A:B` pairs the network has and the topology file lacks (harness/extra_links.py)."""


def peak_utilisation(index: LinkIndex, traffic: GravityTraffic) -> float:
    """Highest link utilisation of the gravity base rates on IGP shortest paths (no noise)."""
    igp = IgpRouting(index, np.ones(index.n_links, dtype=bool))
    loads = np.zeros(index.n_links)
    base = traffic.base_rates()
    flows = traffic.flows
    cache: dict[tuple[int, int], list[tuple[int, float, int]]] = {}
    for i in range(len(flows)):
        pair = (int(flows.src[i]), int(flows.dst[i]))
        hops = cache.get(pair)
        if hops is None:
            hops = cache[pair] = igp.spread(*pair)[0]
        for lk, frac, _ in hops:
            loads[lk] += frac * base[i]
    return float((loads / index.capacity).max())


def make_traffic(spec: SimSpec, index: LinkIndex, rng: np.random.Generator) -> TrafficSource:
    if spec.traffic == "geant":
        return geant_replay(index)
    if spec.traffic == "gravity":
        if not 0 < spec.load <= 10:
            raise UsageError(
                f"--load {spec.load}: give the busiest link's mean utilisation, e.g. 0.6"
            )
        gravity = GravityTraffic(index, rng, total_bps=1e9, n_flows=spec.flows)
        gravity.rescale(spec.load / max(peak_utilisation(index, gravity), 1e-12))
        return gravity
    path = Path(spec.traffic)
    if not path.is_file():
        raise UsageError(
            f"--traffic {spec.traffic!r}: use geant, gravity or a .hist file of traffic matrices"
        )
    return replay_file(path, index)


def build_simulation(spec: SimSpec, watch: list[WatchIntent] | None = None) -> NetworkSimulator:
    if spec.step_s <= 0:
        raise UsageError("--step must be a positive duration, e.g. 10s")
    topology = load_topology(spec.topology)
    if spec.extra_links:
        from harness.extra_links import add_links

        topology = add_links(topology, spec.extra_links)
    index = LinkIndex(topology)
    scenario = load_scenario(spec.scenario) if spec.scenario else Scenario()
    if watch:
        scenario = scenario.model_copy(update={"intents": [*scenario.intents, *watch]})
    check_against(scenario, index, str(spec.scenario or "scenario"))
    rng = np.random.default_rng(spec.seed)
    traffic = make_traffic(spec, index, rng)
    return NetworkSimulator(index, traffic, rng=rng, scenario=scenario, step_s=spec.step_s)
