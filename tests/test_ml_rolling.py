"""Rolling-origin evaluation, seasonal baselines, the seasonal blend and robust TE (issue 18)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from controller.errors import UsageError
from models.blend import BlendConfig, candidates, fit_weights, rolling_median
from models.metrics import nmae
from models.rolling import (
    BASELINES,
    RollingConfig,
    evaluate_rolling,
    fold_forecasts,
    fold_model,
    folds_by_blocks,
    folds_by_files,
    oracle_nmae,
)
from models.seasonal import seasonal_naive, seasonal_profile
from tests.cli_inprocess import run_cli

ROOT = Path(__file__).resolve().parent.parent
S = 24  # a short "day" keeps these fast


def seasonal(steps: int, series: int, noise: float, seed: int = 0) -> np.ndarray:
    t = np.arange(steps)[:, None]
    scale = np.linspace(1e6, 4e8, series)[None, :]
    rng = np.random.default_rng(seed)
    shape = 2.0 + np.sin(2 * np.pi * t / S + np.linspace(0, 3, series)[None, :])
    return scale * shape * (1.0 + noise * rng.standard_normal((steps, series)))


def test_seasonal_baselines_on_known_values() -> None:
    y = np.arange(100.0)[:, None]
    pred, fallbacks = seasonal_naive(y, np.array([10, 60]), horizon=2, season=S)
    assert fallbacks == 1 and pred[:, 0].tolist() == [10.0, 62.0 - S]
    # profile: mean of the same step on every earlier day the history holds
    prof, fb = seasonal_profile(y, np.array([80]), horizon=3, season=S)
    assert fb == 0 and prof[0, 0] == pytest.approx(np.mean([83 - S, 83 - 2 * S, 83 - 3 * S]))
    assert rolling_median(y, np.array([0, 5, 50]), 10)[:, 0].tolist() == [0.0, 2.5, 45.5]


def test_every_candidate_is_causal() -> None:
    y = seasonal(8 * S, 4, 0.1)
    origins = np.arange(3 * S, 5 * S)
    before = candidates(y, origins, 3, BlendConfig(season=S))
    changed = y.copy()
    changed[int(origins.max()) + 1 :] *= 5.0
    after = candidates(changed, origins, 3, BlendConfig(season=S))
    for name, values in before.items():
        np.testing.assert_array_equal(values, after[name], err_msg=name)


def test_fit_weights_finds_the_true_convex_mix() -> None:
    rng = np.random.default_rng(3)
    stack = rng.random((3000, 5))
    actual = stack @ np.array([0.7, 0.0, 0.3, 0.0, 0.0]) + 0.01 * rng.laplace(size=3000)
    weights, err = fit_weights(stack, actual, max_rows=3000)
    np.testing.assert_allclose(weights, [0.7, 0, 0.3, 0, 0], atol=0.02)
    assert weights.sum() == pytest.approx(1.0) and err < 0.025  # the noise: 0.01 / 0.5


def test_folds_cut_where_asked_and_refuse_what_does_not_fit() -> None:
    folds = folds_by_blocks(477, 3, 48, 48)
    assert [(f.val_start, f.test_start, f.test_end) for f in folds] == [
        (285, 333, 381), (333, 381, 429), (381, 429, 477)
    ]  # fmt: skip
    weeks = folds_by_files([100, 90, 80], 30, ["w1", "w2", "w3"])
    assert [(f.label, f.val_start, f.test_start, f.test_end) for f in weeks] == [
        ("w2", 70, 100, 190), ("w3", 160, 190, 270)
    ]  # fmt: skip
    with pytest.raises(UsageError, match="do not fit"):
        folds_by_blocks(100, 3, 48, 48)


def test_choices_never_see_the_test_block() -> None:
    y = seasonal(10 * S, 6, 0.2)
    fold = folds_by_blocks(len(y), 1, 2 * S, 2 * S)[0]
    cfg = RollingConfig(season=S, blend=BlendConfig(season=S))
    chosen = fold_forecasts(y, fold, 3, cfg)[2]
    poisoned = y.copy()
    poisoned[fold.test_start :] = poisoned[fold.test_start :][::-1] * 9.0
    assert fold_forecasts(poisoned, fold, 3, cfg)[2] == chosen


def test_blend_uses_the_season_and_its_p90_covers() -> None:
    y = seasonal(16 * S, 12, 0.05, seed=1)
    # no smoothing: 5 steps of a 24-step day would blur the shape (the default is for 288)
    cfg = RollingConfig(season=S, blend=BlendConfig(season=S, half_width=0))
    result = evaluate_rolling(y, folds_by_blocks(len(y), 2, 2 * S, 3 * S), cfg)
    for fold in result["folds"]:
        for h, d in fold["horizons"].items():
            m = d["methods"]
            assert set(BASELINES) <= set(m) | {"seasonal_week"}, h
            # a strong daily shape: the blend beats the last value and EWMA by far at 12 steps
            if h == "12":
                assert m["blend"]["nmae"] < 0.5 * m["ewma"]["nmae"]
            assert d["blend_vs_best"] < 1.1
            assert 0.75 <= m["blend_p90"]["p90_coverage"] <= 1.0
    assert set(result["summary"]) == {"1", "3", "12"}


def test_the_trained_model_joins_the_blend_out_of_sample() -> None:
    y = seasonal(12 * S, 6, 0.1, seed=2)
    fold = folds_by_blocks(len(y), 1, 2 * S, 2 * S)[0]
    cfg = RollingConfig(horizons=(3,), season=S, model=True, model_rows=500)
    model = fold_model(y, fold, cfg)
    assert model is not None and model.trained_until == fold.val_start  # before validation
    test, forecasts, chosen = fold_forecasts(y, fold, 3, cfg, model)
    assert forecasts["model"].shape == forecasts["blend"].shape == (2 * S, 6)
    assert 0.0 < nmae(y[test + 3], forecasts["model"]) < 0.5
    assert sum(chosen["blend_weights"].values()) == pytest.approx(1.0, abs=0.01)


def test_robust_split_is_no_worse_than_its_promise(data: Path) -> None:
    from controller.pathing.optimizer import min_mlu_lp, mlu_of_split
    from models.cli_support import load_te_inputs
    from models.robust_te import robust_split

    geant = data / "geant"
    y, te = load_te_inputs(
        geant / "tm-5min.hist", geant / "topology.json", geant / "tunnels.txt", None
    )
    same = robust_split(te.ts, np.stack([te.demand(y[100]), te.demand(y[100])]))
    assert same.worst_ratio == pytest.approx(1.0, abs=1e-5)
    demands = np.stack([te.demand(r) for r in (y[100], y[150], 1.3 * y[120])])
    mixed = robust_split(te.ts, demands)
    ratios = [mlu_of_split(te.ts, d, mixed.split) / min_mlu_lp(te.ts, d).mlu for d in demands]
    assert max(ratios) == pytest.approx(mixed.worst_ratio, rel=1e-4)
    # each matrix's own optimal split is worse for at least one of the others
    own = [min_mlu_lp(te.ts, d).split for d in demands]
    worst_own = min(
        max(mlu_of_split(te.ts, d, s) / min_mlu_lp(te.ts, d).mlu for d in demands) for s in own
    )
    assert mixed.worst_ratio <= worst_own + 1e-6


def test_oracle_bound_is_each_series_block_median() -> None:
    actual = np.array([[1.0, 10.0], [2.0, 10.0], [9.0, 40.0]])  # medians 2 and 10
    assert oracle_nmae(actual) == pytest.approx((1 + 0 + 7 + 0 + 0 + 30) / 72.0)
    noise = np.exp(0.8 * np.random.default_rng(4).standard_normal((10 * S, 4)))
    y = np.linspace(1e6, 4e8, 4)[None, :] * noise
    cfg = RollingConfig(horizons=(3,), season=S, blend=BlendConfig(season=S))
    d = evaluate_rolling(y, folds_by_blocks(len(y), 1, 2 * S, 2 * S), cfg)["folds"][0]
    # on skewed noise around a level, the block's own median beats every causal baseline
    assert 0.0 < d["horizons"]["3"]["oracle_vs_best"] < 1.0


def test_robust_set_takes_the_latest_matrices(data: Path) -> None:
    from controller.pathing.optimizer import mlu_of_split
    from models.cli_support import load_te_inputs
    from models.robust_te import ScenarioSet, TeScorer, robust_split

    geant = data / "geant"
    y, te = load_te_inputs(
        geant / "tm-5min.hist", geant / "topology.json", geant / "tunnels.txt", None
    )
    t, chosen = 140, ScenarioSet(("blend",), recent=3)
    forecasts = {"blend": 1.3 * y[t - 5 : t - 4], "last_value": y[t : t + 1]}
    got = TeScorer(te, y, routed=("last_value",)).splits(forecasts, 0, t, chosen)
    demands = np.stack([te.demand(r) for r in (1.3 * y[t - 5], y[t], y[t - 1], y[t - 2])])
    want = robust_split(te.ts, demands)
    # the recent matrices' optima come from the .opt file, equal to the LP's to solver
    # tolerance: the minimax LP is degenerate, so the split may differ but not its worst ratio
    scaled = demands / want.optima[:, None]
    worst = max(mlu_of_split(te.ts, d, got["robust"]) for d in scaled)
    assert worst == pytest.approx(want.worst_ratio, rel=1e-4)
    assert set(got) == {"last_value", "robust"}


def _documented(prefix: str) -> list[str]:
    """The lines of docs/ML.md's ```sh blocks that start with `prefix`."""
    blocks = (ROOT / "docs" / "ML.md").read_text().split("```sh\n")[1:]
    lines = [x for b in blocks for x in b.split("```")[0].splitlines() if x.startswith(prefix)]
    assert lines, f"docs/ML.md shows no `{prefix}` command"
    return lines


def _slice(src: Path, dst: Path, rows: int) -> Path:
    dst.write_text("\n".join(src.read_text().splitlines()[:rows]) + "\n")
    opt = src.with_suffix(".opt")
    dst.with_suffix(".opt").write_text("\n".join(opt.read_text().splitlines()[:rows]) + "\n")
    return dst


def _tiny(args: list[str], tmp_path: Path) -> list[str]:
    """The same command on tiny inputs: one test fold (GEANT's last 24 steps; the first two
    weekly files), each --tm cut to 110-120 matrices, a 48-step season, every 24th origin
    routed, 1,000 rows per HGB fit."""
    tms = [i + 1 for i, a in enumerate(args) if a == "--tm"]
    out: list[str] = []
    for i, arg in enumerate(args):
        if i in tms[2:] or (i + 1 in tms[2:]):
            continue  # only the first two weekly files
        rows = 110 if len(tms) > 1 else 120
        out.append(str(_slice(ROOT / arg, tmp_path / f"{i}.hist", rows)) if i in tms else arg)
    extra = ["--val-steps", "30"] if len(tms) > 1 else ["--blocks", "1", "--block-steps", "24"]
    return [*out, *extra, "--season", "48", "--te-stride", "24", "--model-rows", "1000"]


def test_documented_rolling_commands_run_on_tiny_inputs(tmp_path: Path) -> None:
    """The commands docs/ML.md shows, as written but on tiny inputs (`_tiny`)."""
    lines = _documented("netpilot model eval rolling")
    assert len(lines) >= 3  # GEANT and both Facebook pods
    for line in lines:
        args = _tiny(shlex.split(line)[1:], tmp_path)
        out = run_cli(*args)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert len(doc["folds"]) == 1 and set(doc["te_pooled"]) == {"1", "3", "12"}
        for d in doc["folds"][0]["horizons"].values():
            m = d["methods"]
            for name in ("last_value", "seasonal_naive", "blend", "blend_p90", "robust"):
                assert m[name]["te_ratio_mean"] >= 1.0 - 1e-6, name
            assert {"ewma", "seasonal_profile"} <= set(m)
            # the default chooses the robust set on the fold's validation block
            assert d["robust_set"]["chosen"] in d["robust_set"]["validation"]
            assert ("model" in m) == ("--model" in args)


def test_documented_robust_optimize_routes_over_recent_matrices() -> None:
    (line,) = _documented("netpilot path optimize")
    out = run_cli(*shlex.split(line)[1:])
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    index = int(line.split("--index ")[1].split()[0])
    assert doc["robust_matrices"][:3] == [index - 2, index - 1, index]
    assert doc["robust_worst_ratio"] >= 1.0 - 1e-6
    assert doc["mlu"] >= doc["lower_bound"] - 1e-9


def test_rolling_cli_names_bad_input(tmp_path: Path) -> None:
    out = run_cli(
        "model", "eval", "rolling", "--tm", str(tmp_path / "nope.hist"),
        "--topology", str(tmp_path / "t.json"),
    )  # fmt: skip
    assert out.returncode == 2 and "file not found" in out.stderr
    assert "Traceback" not in out.stderr
    hist = _slice(ROOT / "../shared/data/facebook-dc/pod_a/week1.hist", tmp_path / "a.hist", 60)
    topo = str(ROOT / "../shared/data/facebook-dc/pod_a/topology.json")
    for extra, message in (
        (["--season", "12"], "--season >= 16"),
        (["--robust-set", "best"], "--robust-set 'best': give 'per-fold', 'chosen' or 'first'"),
        (["--blocks", "3"], "do not fit in 60 steps"),
        (["--tm", str(hist)], "--val-steps shorter than the first"),
    ):
        out = run_cli("model", "eval", "rolling", "--tm", str(hist), "--topology", topo, *extra)
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
