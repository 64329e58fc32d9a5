"""Shared fixtures. Skips are allowed only for missing privileges; NETPILOT_REQUIRE_ALL=1 (CI)
turns them into failures."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.etcd_proc import EtcdServer
from models.loop_models import LoopModels, LoopTraining, train
from models.loop_models import load as load_models
from models.loop_models import save as save_models
from topologies.datasets import data_dir

ROOT = Path(__file__).resolve().parent.parent


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


def models_key(geant: Path, spec: LoopTraining) -> str:
    """What the trained models depend on: the code of models/ and telemetry/, the training
    spec and the GEANT files (names, sizes, times). A change to any of them trains anew."""
    digest = hashlib.sha256(repr(spec).encode())
    for path in sorted([*ROOT.glob("models/*.py"), *ROOT.glob("telemetry/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    for path in sorted(geant.iterdir()):
        st = path.stat()
        digest.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def loop_models(data: Path) -> LoopModels:
    """The closed loop's trained forecaster and fault model, as `netpilot demo` trains them
    (about 15 s of CPU): trained once and kept in a cache under a key of everything they
    depend on (`models_key`), so the xdist workers and the later `serial` run of `make test`
    load them instead of training again. The cache is `var/test-cache/` (git-ignored); the
    first process that needs the models trains them under a lock, the others wait and load."""
    spec = LoopTraining()
    shared = ROOT / "var" / "test-cache" / "loop-models" / models_key(data / "geant", spec)
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (shared / "done").exists():
            return load_models(shared)
        models = train(data / "geant", spec)
        save_models(shared, models)
        (shared / "done").touch()
        return models


@pytest.fixture()
def etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """A real etcd member of this test's own (Debian's etcd-server, a free loopback port);
    tests that share one per module define their own `etcd` fixture, which takes precedence."""
    server = EtcdServer(tmp_path / "etcd" / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
