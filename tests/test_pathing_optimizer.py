"""The min-MLU LP against the published optimum (.opt) on GEANT and Facebook pods, and helpers."""

from __future__ import annotations

import numpy as np
import pytest
from pathing_data import dataset, matrices

from controller.errors import ValidationError
from controller.pathing.optimizer import (
    build_tunnel_set,
    demand_vector,
    k_shortest_tunnels,
    link_loads,
    min_mlu_lp,
    mlu_of_split,
    shortest_split,
)
from controller.topology import Link, Node, Topology


def _check_against_opt(name: str, week: int, picks: list[int]) -> None:
    _, ts, index = dataset(name)
    tms, opt = matrices(name, week)
    for i in picks:
        demand = demand_vector(ts, tms[i], index)
        sol = min_mlu_lp(ts, demand)
        assert sol.mlu == pytest.approx(opt[i], rel=1e-6), f"{name} matrix {i}"
        sums = np.bincount(ts.path_pair, weights=sol.split, minlength=len(ts.pairs))
        assert np.allclose(sums, 1.0)
        assert (sol.split >= 0).all()
        assert mlu_of_split(ts, demand, sol.split) == pytest.approx(sol.mlu)


def test_lp_equals_opt_on_20_geant_matrices() -> None:
    tms, _ = matrices("geant")
    picks = np.linspace(0, len(tms) - 1, 20).astype(int).tolist()
    _check_against_opt("geant", 1, picks)


@pytest.mark.parametrize(("pod", "week"), [("pod_a", 1), ("pod_b", 3)])
def test_lp_equals_opt_on_facebook_pods(pod: str, week: int) -> None:
    tms, _ = matrices(pod, week)
    _check_against_opt(pod, week, np.linspace(0, len(tms) - 1, 10).astype(int).tolist())


def test_lp_never_worse_than_shortest_path() -> None:
    _, ts, index = dataset("geant")
    tms, _ = matrices("geant")
    demand = demand_vector(ts, tms[5], index)
    assert min_mlu_lp(ts, demand).mlu <= mlu_of_split(ts, demand, shortest_split(ts)) + 1e-12


def _square() -> Topology:
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCD")]
    links = []
    for a, b, cap, metric in [("A", "B", 10e9, 10), ("B", "D", 10e9, 10), ("A", "C", 5e9, 20)]:
        links += [
            Link(id=f"{a}{b}", src=a, dst=b, capacity_bps=cap, delay_s=1e-3, igp_metric=metric),
            Link(id=f"{a}{b}", src=b, dst=a, capacity_bps=cap, delay_s=1e-3, igp_metric=metric),
        ]
    links.append(Link(id="CD", src="C", dst="D", capacity_bps=5e9, delay_s=9e-3, igp_metric=20))
    links.append(Link(id="CD2", src="C", dst="D", capacity_bps=5e9, delay_s=9e-3, igp_metric=5))
    return Topology("square", nodes, links)


def test_build_tunnel_set_picks_lowest_metric_parallel_link_and_loads() -> None:
    ts = build_tunnel_set(_square(), {("A", "D"): [["A", "B", "D"], ["A", "C", "D"]]})
    assert ts.paths[1].links == (("A", "C", "AC"), ("C", "D", "CD2"))
    assert ts.path_links.shape == (2, len(ts.link_keys))
    demand = np.array([15e9])
    sol = min_mlu_lp(ts, demand)
    # optimum puts 10 on the 10G path and 5 on the 5G path: MLU 1.0
    assert sol.mlu == pytest.approx(1.0)
    loads = link_loads(ts, demand, sol.split)
    assert loads[ts.link_keys.index(("C", "D", "CD2"))] == pytest.approx(5e9)


def test_build_tunnel_set_names_missing_link() -> None:
    with pytest.raises(ValidationError, match=r"no up link D -> C"):
        build_tunnel_set(_square(), {("A", "C"): [["A", "B", "D", "C"]]})


def test_k_shortest_respects_latency_and_order() -> None:
    topo = _square()
    ts = k_shortest_tunnels(topo, [("A", "D")], k=4)
    assert [p.nodes for p in ts.paths] == [("A", "B", "D"), ("A", "C", "D")]
    bounded = k_shortest_tunnels(topo, [("A", "D")], k=4, max_latency_s=5e-3)
    assert [p.nodes for p in bounded.paths] == [("A", "B", "D")]
    with pytest.raises(ValidationError, match="no path from A to D within 1 ms"):
        k_shortest_tunnels(topo, [("A", "D")], max_latency_s=1e-3)


def test_demand_with_no_tunnel_is_refused() -> None:
    ts = build_tunnel_set(_square(), {("A", "D"): []})
    with pytest.raises(ValidationError, match="no tunnel"):
        min_mlu_lp(ts, np.array([1.0]))
