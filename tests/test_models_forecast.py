"""Forecasting: the evaluation code on series with known answers, then real GEANT data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.baselines import predict_seasonal_naive, tune_ewma
from models.evaluate import EvalConfig, evaluate_forecast, off_diagonal
from models.features import FeatureConfig, SeriesContext, build_features
from models.forecast import ForecastModel
from models.metrics import nmae, rmse
from models.split import DataLeakError, TimeSplit, assert_no_leak


def sines(steps: int, series: int, period: int) -> np.ndarray:
    t = np.arange(steps)[:, None]
    phase = np.linspace(0, 2 * np.pi, series, endpoint=False)[None, :]
    scale = np.linspace(1e6, 5e8, series)[None, :]
    return scale * (2.0 + np.sin(2 * np.pi * t / period + phase))


def test_metrics_on_known_values() -> None:
    actual = np.array([[10.0, 0.0], [10.0, 20.0]])
    pred = np.array([[12.0, 1.0], [8.0, 20.0]])
    assert nmae(actual, pred) == pytest.approx(5.0 / 40.0)
    assert rmse(actual, pred) == pytest.approx(np.sqrt((4 + 1 + 4 + 0) / 4))
    assert nmae(np.zeros(3), np.zeros(3)) == 0.0


def test_a_pure_sine_is_forecast_almost_exactly() -> None:
    y = sines(400, 8, period=36)
    cfg = EvalConfig(train_fraction=0.7, season=36, refit_every=1000)
    model = ForecastModel(mean_kind="ridge", ridge_alpha=1e-6, cfg=FeatureConfig(window=36))
    result = evaluate_forecast(y, None, cfg, model=model)
    for h in ("1", "3", "12"):
        assert result.horizons[h]["model"]["nmae"] < 0.002
        # a whole period back is the same value: the seasonal baselines are exact too
        assert result.horizons[h]["seasonal_naive"]["nmae"] < 1e-9
        assert result.horizons[h]["seasonal_profile"]["nmae"] < 1e-9
        assert result.horizons[h]["seasonal_week"]["nmae"] < 1e-9  # 7 x 36 < 280 steps
        assert result.horizons[h]["last_value"]["nmae"] > 0.01


def test_a_constant_series_gives_zero_error_for_every_method() -> None:
    y = np.full((200, 5), 3e8)
    result = evaluate_forecast(y, None, EvalConfig(season=288))
    for methods in result.horizons.values():
        for name, m in methods.items():
            assert m["nmae"] == pytest.approx(0.0, abs=1e-12), name
            assert m["rmse"] == pytest.approx(0.0, abs=1e-3), name


def test_a_leak_from_test_into_training_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    split = TimeSplit.by_fraction(100, 0.7)
    assert_no_leak(split, np.arange(0, 70), "fine")
    with pytest.raises(DataLeakError, match="test part starts at step 70"):
        assert_no_leak(split, np.arange(0, 71), "leaky")
    # a buggy split that hands the model origins whose targets lie in the test part
    monkeypatch.setattr(TimeSplit, "train_origins", lambda self, h, m: np.arange(m - 1, self.steps))
    with pytest.raises(DataLeakError):
        ForecastModel(mean_kind="ridge").fit(sines(120, 3, 36), cutoff=80)


def test_features_are_causal() -> None:
    y = sines(320, 4, 36) * (1 + 0.1 * np.random.default_rng(1).random((320, 4)))
    cfg = FeatureConfig(season=48)
    origins = np.arange(100, 200)
    before = build_features(SeriesContext.build(y, cfg, (0.5,)), origins, 12, 0.5)[0]
    changed = y.copy()
    changed[201:] *= 7.0
    after = build_features(SeriesContext.build(changed, cfg, (0.5,)), origins, 12, 0.5)[0]
    np.testing.assert_array_equal(before, after)


def test_seasonal_naive_falls_back_to_last_value_before_a_season_exists() -> None:
    y = np.arange(50.0)[:, None]
    pred, fallbacks = predict_seasonal_naive(y, np.array([10, 40]), horizon=3, season=30)
    assert fallbacks == 1
    assert pred[:, 0].tolist() == [10.0, 13.0]


def test_ewma_tuning_prefers_the_last_value_on_a_ramp() -> None:
    y = np.arange(100.0)[:, None] * np.ones((1, 3))
    assert tune_ewma(y, 1).alpha == 1.0


def test_split_refuses_too_short_parts() -> None:
    from controller.errors import UsageError

    with pytest.raises(UsageError, match="train-fraction"):
        TimeSplit.by_fraction(100, 1.5)
    with pytest.raises(UsageError, match="test steps"):
        TimeSplit.by_fraction(40, 0.9)


@pytest.fixture(scope="module")
def geant_slice(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 110 GEANT matrices with their .opt lines, in a temporary folder."""
    out = tmp_path_factory.mktemp("geant")
    hist = (data / "geant" / "tm-5min.hist").read_text().splitlines()[:110]
    opt = (data / "geant" / "tm-5min.opt").read_text().splitlines()[:110]
    (out / "tm.hist").write_text("\n".join(hist) + "\n")
    (out / "tm.opt").write_text("\n".join(opt) + "\n")
    return out


def test_cli_json_shape_on_a_geant_slice(data: Path, geant_slice: Path) -> None:
    geant = data / "geant"
    out = subprocess.run(
        [sys.executable, "-m", "cli", "model", "eval", "forecast",
         "--tm", str(geant_slice / "tm.hist"), "--topology", str(geant / "topology.json"),
         "--tunnels", str(geant / "tunnels.txt"), "--te-stride", "8", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    doc = json.loads(out)
    assert set(doc) == {"horizons"}
    assert set(doc["horizons"]) == {"1", "3", "12"}
    for methods in doc["horizons"].values():
        # 110 steps reach no week back: no seasonal_week (issue 18: only where the data reaches)
        assert set(methods) == {
            "model", "model_p90", "ewma", "last_value", "seasonal_naive", "seasonal_profile",
            "hedge",
        }  # fmt: skip
        assert set(methods["hedge"]) == {"te_ratio_mean", "te_ratio_p95"}
        for name in ("model", "model_p90", "ewma", "last_value", "seasonal_naive"):
            m = methods[name]
            assert set(m) == {"nmae", "rmse", "te_ratio_mean", "te_ratio_p95"}
            assert 0 < m["nmae"] < 2
            # routing on any forecast can be no better than the optimum
            assert m["te_ratio_mean"] >= 1 - 1e-6
            assert m["te_ratio_p95"] >= m["te_ratio_mean"] - 1e-9


def test_geant_te_ratio_of_routing_on_the_actual_matrix_is_one(data: Path) -> None:
    from models.cli_support import load_te_inputs

    geant = data / "geant"
    y, te = load_te_inputs(
        geant / "tm-5min.hist", geant / "topology.json", geant / "tunnels.txt", None
    )
    for step in (0, 200, 476):
        assert te.ratio(te.route(y[step]), step, y[step]) == pytest.approx(1.0, abs=1e-5)
        # the hedge over one matrix is that matrix's optimum
        hedge = te.hedge(y[step : step + 1])
        assert te.ratio(hedge, step, y[step]) == pytest.approx(1.0, abs=1e-5)


def test_cli_names_a_missing_file(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cli", "model", "eval", "forecast", "--tm", str(tmp_path / "x"),
         "--topology", str(tmp_path / "t.json"), "--tunnels", str(tmp_path / "t.txt")],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert "file not found" in run.stderr and "Traceback" not in run.stderr


def test_off_diagonal_keeps_row_major_pairs() -> None:
    tm = np.arange(9.0).reshape(1, 3, 3)
    assert off_diagonal(tm)[0].tolist() == [1.0, 2.0, 3.0, 5.0, 6.0, 7.0]
