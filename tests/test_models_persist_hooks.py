"""Model files are refused on any mismatch; the engine hook returns forecasts and link risk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import persist
from models.fault_eval import FaultEvalConfig, prepare, training_rows
from models.faults import FaultModel
from models.forecast import ForecastModel
from models.hooks import LinkRisk, LinkWindow, ModelPredictor, Predictor, SeriesForecast
from models.precursors import GeneratorConfig, LinkSeries, generate
from models.saved import load_faults, load_forecast, save_faults, save_forecast


def sines(steps: int, series: int) -> np.ndarray:
    t = np.arange(steps)[:, None]
    return 1e8 * (2 + np.sin(2 * np.pi * t / 36 + np.arange(series)[None, :]))


@pytest.fixture(scope="module")
def forecaster() -> ForecastModel:
    return ForecastModel(mean_kind="ridge", ridge_alpha=1e-6).fit(sines(200, 4), 200)


@pytest.fixture(scope="module")
def fault_model() -> FaultModel:
    cfg = FaultEvalConfig(seeds=0, train_seeds=3, generator=GeneratorConfig(links=24, days=2.0))
    prepared = prepare(cfg, lambda *_: None)
    half_s = 86_400.0  # training uses the first of the two days
    kinds = {e.kind for p in prepared for e in p.link.events if e.is_fault and e.end_s < half_s}
    assert "optical_drift" in kinds
    x, y, ttf = training_rows(prepared, cfg)
    return FaultModel(max_rows=30_000).fit(x, y, ttf)


def test_forecast_model_round_trip(tmp_path: Path, forecaster: ForecastModel) -> None:
    path = tmp_path / "f.model"
    save_forecast(path, forecaster, {"source": "sines"})
    header, loaded = load_forecast(path)
    assert header.kind == "forecast" and header.features == forecaster.cfg.names()
    history = sines(100, 4)
    a, b = forecaster.forecast_next(history), loaded.forecast_next(history)
    for h in a:
        np.testing.assert_array_equal(a[h][0], b[h][0])


def test_a_damaged_payload_is_refused(tmp_path: Path, forecaster: ForecastModel) -> None:
    path = tmp_path / "f.model"
    save_forecast(path, forecaster, {})
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(persist.ModelFileError, match="hash does not match"):
        load_forecast(path)


def test_a_changed_feature_schema_is_refused(
    tmp_path: Path, forecaster: ForecastModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.model"
    save_forecast(path, forecaster, {})
    from models.features import FeatureConfig

    original = FeatureConfig.names
    monkeypatch.setattr(FeatureConfig, "names", lambda self: [*original(self), "new_feature"])
    with pytest.raises(persist.ModelFileError, match="feature schema differs"):
        load_forecast(path)


def test_wrong_kind_version_and_garbage_are_refused(
    tmp_path: Path, forecaster: ForecastModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.model"
    save_forecast(path, forecaster, {})
    with pytest.raises(persist.ModelFileError, match="expected 'faults'"):
        load_faults(path)
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"\x80\x04not a model")
    with pytest.raises(persist.ModelFileError, match="not a netpilot model file"):
        load_forecast(junk)
    monkeypatch.setattr(persist, "FORMAT_VERSION", 2)
    with pytest.raises(persist.ModelFileError, match="format 1"):
        load_forecast(path)


def test_cli_show_refuses_a_bad_file_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.model"
    junk.write_text("{}\n")
    run = subprocess.run(
        [sys.executable, "-m", "cli", "model", "show", str(junk)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert "not a netpilot model file" in run.stderr and "Traceback" not in run.stderr


def window(link: LinkSeries, end: int, length: int) -> LinkWindow:
    sl = slice(end - length, end)
    return LinkWindow(
        link.step_s, link.rx_power_dbm[sl], link.tx_bias_ma[sl], np.asarray(link.crc_errors)[sl],
        np.asarray(link.in_errors)[sl], link.delay_s[sl], link.oper_up[sl],
    )  # fmt: skip


def test_the_engine_hook_gives_forecasts_and_risk(
    forecaster: ForecastModel, fault_model: FaultModel, tmp_path: Path
) -> None:
    save_faults(tmp_path / "faults.model", fault_model, {})
    _, loaded = load_faults(tmp_path / "faults.model")
    predictor: Predictor = ModelPredictor(forecaster, loaded)
    out = predictor.forecast(["a", "b", "c", "d"], sines(60, 4))
    assert all(isinstance(f, SeriesForecast) and f.p90 >= f.mean >= 0 for f in out)
    assert {(f.name, f.horizon) for f in out} == {(n, h) for n in "abcd" for h in (1, 3, 12)}
    # a link just before an optical-drift failure against a quiet one, 12 h windows
    links = generate(77, GeneratorConfig(links=40, days=2.0))
    drift = next(
        (lk, e) for lk in links for e in lk.events if e.kind == "optical_drift" and e.is_fault
    )
    quiet = next(lk for lk in links if not lk.events)
    fail = int(drift[1].end_s / drift[0].step_s)
    risk = predictor.link_risk({
        "drifting": window(drift[0], fail - 15, 720), "quiet": window(quiet, fail - 15, 720)
    })  # fmt: skip
    by_name = {r.link: r for r in risk}
    assert all(isinstance(r, LinkRisk) for r in risk)
    assert all(0.0 <= r.risk <= 1.0 for r in risk)
    # this tiny training set may not have seen this drift; the deviation detector does
    assert by_name["drifting"].deviation > 10 > by_name["quiet"].deviation
    assert by_name["drifting"].alarm and not by_name["quiet"].alarm
    assert by_name["quiet"].risk < 0.5 and by_name["quiet"].time_to_failure_s is None
    for r in risk:
        assert (r.time_to_failure_s is not None) == (r.risk >= 0.5)
