"""Shared fixtures. Skips are allowed only for missing privileges; NETPILOT_REQUIRE_ALL=1 (CI)
turns them into failures."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from models.loop_models import LoopModels, LoopTraining, train
from models.loop_models import load as load_models
from models.loop_models import save as save_models
from topologies.datasets import data_dir


def require_privilege(ok: bool, reason: str) -> None:
    """Skip when a privilege (root, netns) is missing, or fail under NETPILOT_REQUIRE_ALL=1."""
    if ok:
        return
    if os.environ.get("NETPILOT_REQUIRE_ALL") == "1":
        pytest.fail(f"missing privilege with NETPILOT_REQUIRE_ALL=1: {reason}")
    pytest.skip(f"missing privilege: {reason}")


@pytest.fixture(scope="session")
def data() -> Path:
    """The shared real-data directory (../shared/data); tests read it, never copy it."""
    return data_dir()


@pytest.fixture(scope="session")
def loop_models(data: Path, tmp_path_factory: pytest.TempPathFactory) -> LoopModels:
    """The closed loop's trained forecaster and fault model, as `netpilot demo` trains them
    (about 15 s of CPU, once per run): with pytest-xdist the first worker that needs them trains
    and saves them, under a lock, in the run's shared temporary directory; the others load them."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return train(data / "geant", LoopTraining())
    shared = tmp_path_factory.getbasetemp().parent / "loop-models"
    shared.mkdir(exist_ok=True)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (shared / "done").exists():
            return load_models(shared)
        models = train(data / "geant", LoopTraining())
        save_models(shared, models)
        (shared / "done").touch()
        return models
