"""Shared fixtures. Skips are allowed only for missing privileges; NETPILOT_REQUIRE_ALL=1 (CI)
turns them into failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.loop_models import LoopModels, LoopTraining, train
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
def loop_models(data: Path) -> LoopModels:
    """The closed loop's trained forecaster and fault model, as `netpilot demo` trains them
    (about 15 s, once per session)."""
    return train(data / "geant", LoopTraining())
