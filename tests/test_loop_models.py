"""models.loop_models: the closed loop's trained pair, saved, loaded and refused when wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.errors import NotFoundError, UsageError
from harness.loopsession import LoopSession
from models.loop_models import LoopModels
from models.loop_models import load as loop_models_load
from models.loop_models import save as loop_models_save
from tests.loop_support import spec
from tests.test_topo_cli import netpilot


def test_saved_models_load_and_predict_the_same(tmp_path: Path, loop_models: LoopModels) -> None:
    trained = loop_models
    loop_models_save(tmp_path / "m", trained)
    loaded = loop_models_load(tmp_path / "m")
    assert loaded.step_s == 30.0 and loaded.info["time_scale"] == 0.125
    history = np.abs(np.random.default_rng(0).normal(0.5, 0.1, size=(40, 3)))
    a = trained.predictor.forecast(["x", "y", "z"], history)
    b = loaded.predictor.forecast(["x", "y", "z"], history)
    assert a == b and {f.horizon for f in a} == {1, 3, 12}


def test_missing_or_foreign_model_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        loop_models_load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="model file not found"):
        loop_models_load(tmp_path / "empty")


def test_models_for_another_telemetry_interval_are_refused(loop_models: LoopModels) -> None:
    other = LoopModels(loop_models.predictor, 60.0, loop_models.info)
    with (
        pytest.raises(UsageError, match="60 s telemetry interval"),
        LoopSession(spec("link-cut", models=other)),
    ):
        pass


def test_train_loop_cli_refuses_bad_paths(tmp_path: Path) -> None:
    afile = tmp_path / "f"
    afile.write_text("x")
    result = netpilot("model", "train", "loop", "--out", str(afile))
    assert result.returncode != 0 and "is not a directory" in result.stderr
    assert "Traceback" not in result.stderr
    result = netpilot(
        "model", "train", "loop", "--out", str(tmp_path / "o"), "--data", str(tmp_path)
    )
    assert result.returncode != 0 and "no geant/ folder" in result.stderr
