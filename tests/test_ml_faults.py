"""Issue 18's new precursor kinds and the leave-one-kind-out fault evaluation."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from controller.errors import UsageError
from models.deviation_eval import evaluate_combined
from models.fault_eval import FaultEvalConfig
from models.fault_features import crc_increments
from models.precursors import ALL_FAULT_KINDS, FAULT_KINDS, GeneratorConfig, generate
from tests.cli_inprocess import run_cli

ROOT = Path(__file__).resolve().parents[1]


def _windows(link: object, kind: str) -> np.ndarray:
    times = link.times  # type: ignore[attr-defined]
    inside = np.zeros(len(times), dtype=bool)
    for e in link.events:  # type: ignore[attr-defined]
        if e.kind == kind:
            inside |= (times >= e.onset_s) & (times < e.end_s)
    return inside


def test_new_kinds_leave_the_default_data_alone_and_show_their_signal() -> None:
    assert GeneratorConfig().fault_kinds == FAULT_KINDS
    only = GeneratorConfig(links=8, days=2.0, fault_share=1.0, fault_kinds=("loss_microbursts",))
    for link in generate(4, only):
        assert {e.kind for e in link.events} == {"loss_microbursts"}
        drops = np.diff(link.in_errors - link.crc_errors)
        inside = _windows(link, "loss_microbursts")[1:]
        # bursts of drops inside the precursor, about Poisson(0.005) outside it
        assert drops[inside].max() >= 10 and drops[~inside].max() <= 3
    floor = GeneratorConfig(links=8, days=2.0, fault_share=1.0, fault_kinds=("crc_floor",))
    for link in generate(5, floor):
        crc = crc_increments(link.crc_errors)
        inside = _windows(link, "crc_floor")
        late = inside & (np.cumsum(inside) > 0.8 * inside.sum())  # the last fifth of it
        assert crc[late].mean() > 5 * crc[~inside & link.oper_up].mean() + 0.1
    with pytest.raises(UsageError, match="fault kinds must be among"):
        generate(1, GeneratorConfig(fault_kinds=("meteor",)))


def test_leave_one_kind_out_smoke_run_of_the_documented_command() -> None:
    """docs/ML.md's latest leave-one-kind-out command, cut to one seed of 12 links and a
    10-iteration model (a repeated option: the last one counts)."""
    blocks = (ROOT / "docs" / "ML.md").read_text().split("```sh\n")[1:]
    lines = [x for b in blocks for x in b.split("```")[0].splitlines()]
    documented = [x for x in lines if x.startswith("netpilot model eval faults --leave-one-out")]
    assert documented, "docs/ML.md shows no leave-one-kind-out command"
    tiny = ["--seeds", "1", "--train-seeds", "1", "--detector-seeds", "1", "--links", "12"]
    tiny += ["--days", "1.5"]
    out = run_cli(*shlex.split(documented[-1])[1:], *tiny, "--fit-iterations", "10")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result["held_out"]) == set(ALL_FAULT_KINDS)
    for held in result["held_out"].values():
        for m in held.values():
            assert 0.0 <= m["held_out_recall"] <= 1.0 and m["held_out_failures"] >= 0
            assert m["false_alarms_per_100_link_days"] >= 0.0
    for name in ("model", "mad", "deviation", "combined"):
        avg = result["average"][name]
        assert avg["worst_held_out_recall"] <= avg["held_out_recall"] <= 1.0
    # model-or-detector keeps every failure the model alone catches
    for held in result["held_out"].values():
        assert held["combined"]["recall"] >= held["model"]["recall"]
    assert set(result["detector_rules"]) == set(ALL_FAULT_KINDS)
    with pytest.raises(UsageError, match="at least two fault kinds"):
        evaluate_combined(
            FaultEvalConfig(generator=GeneratorConfig(fault_kinds=FAULT_KINDS[:1])), lambda *_: None
        )


def test_first_seed_picks_another_test_set_and_is_checked() -> None:
    """`--first-seed` moves the test seeds (an independent test set) and must stay below the
    training seeds; a bad value is a clear error naming the flag, not a traceback."""
    small = ["--seeds", "1", "--train-seeds", "1", "--links", "10", "--days", "2", "--json"]
    bad = run_cli("model", "eval", "faults", *small, "--first-seed", "9999", "--seeds", "2")
    assert bad.returncode != 0 and "--first-seed" in bad.stderr and "Traceback" not in bad.stderr
    assert run_cli("model", "eval", "faults", *small, "--first-seed", "-1").returncode != 0
    cfg = FaultEvalConfig(seeds=1, first_seed=200, train_seeds=1,
                          generator=GeneratorConfig(links=10, days=2.0))  # fmt: skip
    from models.fault_eval import prepare

    tests = [p.link.name for p in prepare(cfg, lambda *_: None) if not p.train]
    assert tests and all(name.startswith("s200-") for name in tests)
