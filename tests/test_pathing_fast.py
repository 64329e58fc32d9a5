"""The fast min-MLU method and split rounding, checked against the exact LP / published optimum."""

from __future__ import annotations

import numpy as np
import pytest
from pathing_data import dataset, matrices

from controller.pathing.fast import fast_min_mlu, project_rows
from controller.pathing.optimizer import (
    demand_vector,
    min_mlu_lp,
    mlu_of_split,
)
from controller.pathing.rounding import round_split, round_split_for_mlu


@pytest.mark.parametrize("name", ["geant", "pod_b"])
def test_fast_is_close_to_optimum_and_its_bound_is_valid(name: str) -> None:
    _, ts, index = dataset(name)
    tms, opt = matrices(name)
    for i in (0, len(tms) // 2, len(tms) - 1):
        demand = demand_vector(ts, tms[i], index)
        sol = fast_min_mlu(ts, demand, time_budget_s=30.0, tolerance=0.01)
        assert sol.lower_bound <= opt[i] * (1 + 1e-9) <= sol.mlu * (1 + 1e-9)
        assert sol.mlu <= opt[i] * 1.02
        assert mlu_of_split(ts, demand, sol.split) == pytest.approx(sol.mlu)
        sums = np.bincount(ts.path_pair, weights=sol.split, minlength=len(ts.pairs))
        assert np.allclose(sums, 1.0)


def test_warm_start_is_never_worse_than_its_start() -> None:
    _, ts, index = dataset("geant")
    tms, _ = matrices("geant")
    demand = demand_vector(ts, tms[10], index)
    lp = min_mlu_lp(ts, demand)
    warm = fast_min_mlu(ts, demand, warm_split=lp.split, max_iterations=3)
    cold = fast_min_mlu(ts, demand, max_iterations=3)
    assert warm.mlu <= lp.mlu * (1 + 1e-9)
    assert cold.mlu > warm.mlu


def test_projection_onto_simplex_rows() -> None:
    v = np.array([[0.5, 0.9, -1.0], [3.0, 0.0, 0.0], [0.2, 0.2, 9.0]])
    valid = np.array([[True, True, True], [True, True, False], [True, True, False]])
    out = project_rows(v, valid)
    assert np.allclose(out.sum(axis=1), 1.0)
    assert (out >= 0).all() and out[1, 2] == 0 and out[2, 2] == 0
    assert np.allclose(out[0], [0.3, 0.7, 0.0])
    assert np.allclose(out[2], [0.5, 0.5, 0.0])


@pytest.mark.parametrize("granularity", [1, 4, 16])
def test_rounding_gives_router_weights_and_honest_mlu(granularity: int) -> None:
    _, ts, index = dataset("geant")
    tms, _ = matrices("geant")
    demand = demand_vector(ts, tms[3], index)
    lp = min_mlu_lp(ts, demand)
    rounded = round_split(ts, lp.split, granularity)
    units = rounded * granularity
    assert np.allclose(units, np.round(units))
    sums = np.bincount(ts.path_pair, weights=rounded, minlength=len(ts.pairs))
    assert np.allclose(sums, 1.0)
    assert np.abs(rounded - lp.split).max() <= 1.0 / granularity + 1e-9
    assert mlu_of_split(ts, demand, rounded) >= lp.mlu - 1e-9


def test_rounding_local_search_lowers_mlu_and_keeps_weights() -> None:
    _, ts, index = dataset("geant")
    tms, _ = matrices("geant")
    demand = demand_vector(ts, tms[0], index)
    lp = min_mlu_lp(ts, demand)
    plain = mlu_of_split(ts, demand, round_split(ts, lp.split, 16))
    searched_split = round_split_for_mlu(ts, demand, lp.split, 16)
    searched = mlu_of_split(ts, demand, searched_split)
    assert lp.mlu - 1e-9 <= searched <= plain
    assert np.allclose(searched_split * 16, np.round(searched_split * 16))
    sums = np.bincount(ts.path_pair, weights=searched_split, minlength=len(ts.pairs))
    assert np.allclose(sums, 1.0)
