"""Re-optimisation: only affected placements move, churn is reported and limited, TE warm starts."""

from __future__ import annotations

import numpy as np
from pathing_data import dataset, matrices

from controller.pathing.fast import fast_min_mlu
from controller.pathing.optimizer import demand_vector, min_mlu_lp
from controller.pathing.placement import place
from controller.pathing.reopt import carry_split, reoptimize, split_churn, without_down_paths
from controller.pathing.sids import IgpRouting, expand
from controller.pathing.types import PathRequest
from controller.topology import Link, LinkState, Node, Topology


def _ladder() -> Topology:
    """Two routes A-B-D (cheap) and A-C-D (dear); link ids AB, BD, AC, CD."""
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCD")]
    links = []
    for a, b, m in [("A", "B", 1), ("B", "D", 1), ("A", "C", 3), ("C", "D", 3)]:
        for s, d in ((a, b), (b, a)):
            links.append(
                Link(id=f"{a}{b}", src=s, dst=d, capacity_bps=10e9, delay_s=1e-3, igp_metric=m)
            )
    return Topology("ladder", nodes, links)


def _requests() -> list[PathRequest]:
    return [PathRequest(f"r{i}", "A", "D", bandwidth_bps=1e9) for i in range(4)] + [
        PathRequest("c", "A", "C", bandwidth_bps=1e9)
    ]


def test_link_down_forces_only_affected_and_recovery_respects_churn_limit() -> None:
    topo = _ladder()
    reqs = _requests()
    before = place(topo, reqs)
    down = topo.with_link_state("BD", LinkState.DOWN)
    during, churn = reoptimize(down, reqs, before.placed)
    assert set(churn.forced) == {f"r{i}" for i in range(4)}
    assert churn.kept == ("c",)
    assert all(during.placed[f"r{i}"].primary.nodes == ("A", "C", "D") for i in range(4))
    # the link comes back: moving back is optional, limited to 2 paths
    after, churn2 = reoptimize(topo, reqs, during.placed, churn_limit=2)
    assert churn2.forced == ()
    # the two that stay on A-C-D need new SID lists: A-B-D is the IGP path again
    assert len(churn2.resegmented) == 2
    routing = IgpRouting.of(topo)
    for name in churn2.resegmented:
        path = after.placed[name].primary
        assert path.nodes == ("A", "C", "D")
        assert expand(routing, "A", path.sids) == [path.links]
    assert len(churn2.improved) == 2 and len(churn2.deferred) == 2
    assert churn2.changed == 2
    moved = [after.placed[n].primary.nodes for n in churn2.improved]
    assert moved == [("A", "B", "D")] * 2
    # unlimited: everything moves back to the cheap path
    _, churn3 = reoptimize(topo, reqs, during.placed)
    assert len(churn3.improved) == 4 and churn3.deferred == ()


def test_forced_moves_beyond_the_limit_are_flagged() -> None:
    topo = _ladder()
    reqs = _requests()
    before = place(topo, reqs)
    _, churn = reoptimize(
        topo.with_link_state("BD", LinkState.DOWN), reqs, before.placed, churn_limit=1
    )
    assert churn.limit_exceeded and len(churn.forced) == 4


def test_te_after_link_down_warm_starts_from_surviving_paths() -> None:
    topo, ts, index = dataset("geant")
    tms, _ = matrices("geant")
    demand = demand_vector(ts, tms[0], index)
    before = min_mlu_lp(ts, demand)
    loads = ts.path_links.T @ (demand[ts.path_pair] * before.split)
    for e in np.argsort(-loads):  # busiest link whose loss leaves every pair a tunnel
        busiest = ts.link_keys[int(e)]
        down = topo.with_link_state(topo.link(busiest).id, LinkState.DOWN)
        survivors = without_down_paths(ts, down)
        if len(np.unique(survivors.path_pair)) == len(ts.pairs):
            break
    assert survivors.num_paths < ts.num_paths
    assert all(busiest not in p.links for p in survivors.paths)
    warm = carry_split(ts, before.split, survivors)
    sums = np.bincount(survivors.path_pair, weights=warm, minlength=len(survivors.pairs))
    assert np.allclose(
        sums[np.bincount(survivors.path_pair, minlength=len(survivors.pairs)) > 0], 1
    )
    exact = min_mlu_lp(survivors, demand)
    fast = fast_min_mlu(survivors, demand, warm_split=warm, time_budget_s=30.0, tolerance=0.01)
    assert exact.mlu >= before.mlu - 1e-9
    assert fast.mlu <= exact.mlu * 1.02
    assert split_churn(survivors, warm, warm) == 0
    assert split_churn(survivors, warm, fast.split) <= len(survivors.pairs)
    assert split_churn(survivors, warm, np.roll(warm, 1)) > 0


def test_capacity_cut_moves_only_what_no_longer_fits() -> None:
    topo = _ladder()
    reqs = [
        PathRequest(f"r{i}", "A", "D", bandwidth_bps=3e9, setup_priority=i, hold_priority=i)
        for i in range(3)
    ]
    before = place(topo, reqs)
    assert all(p.primary.nodes == ("A", "B", "D") for p in before.placed.values())
    cut = topo.with_capacity("AB", 7e9)  # room for two of the three on A-B-D
    after, churn = reoptimize(cut, reqs, before.placed)
    assert churn.forced == ("r2",)  # the lowest priority moves
    assert set(churn.kept) == {"r0", "r1"}
    assert after.placed["r2"].primary.nodes == ("A", "C", "D")
    assert churn.lost == ()
