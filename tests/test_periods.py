"""Issue 18, item 5: per class and link, the learned daily profile and its band; the loop's
pre-move of the elastic classes before a predictable busy period; the profile as a PNG."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from controller.avoid import Avoidance, AvoidConfig
from controller.intents import Intent
from controller.runtime.signals import SignalPlanner
from models.periods import DAY_S, TOTAL, PeriodModel, generate
from telemetry.linkmodels import BaselineLinkModels, with_periods
from telemetry.processor import LinkTelemetry
from tests.cli_inprocess import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_the_profile_learns_each_class_and_predicts_a_busy_period_seen_on_enough_days() -> None:
    model = PeriodModel(min_days=3)
    t, loads = generate(days=5, seed=1, scale=1.6)  # nights: bigdata ~0.7 + production ~0.24
    two_days = t < 2 * DAY_S
    model.learn("busy", t[two_days], {c: v[two_days] for c, v in loads.items()})
    at = 2 * DAY_S + 0.5 * 3600  # 00:30, half an hour before the batch starts
    assert model.busy_ahead("busy", at, 3600, on=0.85) is None  # only two days seen
    model.learn("busy", t[~two_days], {c: v[~two_days] for c, v in loads.items()})
    quiet_t, quiet = generate(days=5, seed=2, scale=0.6)
    model.learn("quiet", quiet_t, quiet)
    p10, p50, p90 = model.profile("busy", "bigdata")
    assert (p10 <= p50).all() and (p50 <= p90).all()
    assert p50[6] > 0.5 > p50[24]  # 03:00 against noon, 30-min bins
    assert model.profile("busy", "office")[1, 24] > 0.3 > model.profile("busy", "office")[1, 6]
    busy = model.busy_ahead("busy", at, 3600, on=0.85)
    assert busy is not None and 0 < busy.starts_in_s <= 3600 and busy.level >= 0.85
    assert max(busy.classes, key=busy.classes.__getitem__) == "bigdata"
    assert model.busy_ahead("busy", 5 * DAY_S + 12 * 3600, 3600, on=0.85) is None  # noon
    assert model.busy_ahead("quiet", at, 3600, on=0.85) is None
    assert set(model.classes("busy")) == {*loads, TOTAL}
    with pytest.raises(KeyError, match="no profile"):
        model.profile("busy", "video")


def _row(t: float, night: bool) -> LinkTelemetry:
    classes = {"bigdata": 0.7, "production": 0.2} if night else {"office": 0.2, "voice": 0.05}
    return LinkTelemetry("A-B", "A", "B", t=t, utilisation=sum(classes.values()),
                         class_utilisation=classes)  # fmt: skip


def test_the_loop_pre_moves_elastic_classes_before_a_learned_busy_period() -> None:
    """A compressed day of 240 s (8 bins of 30 s): busy from 120 s to 180 s every day."""
    models = with_periods(BaselineLinkModels(), period_s=240.0, lead_s=60.0)
    models.periods.bins = 8
    planner = SignalPlanner(AvoidConfig())
    signals = []
    for k in range(4 * 24):  # four days of 10 s rounds
        t = 10.0 * k
        forecasts, risks = models.update([_row(t, 120 <= t % 240 < 180)], 10.0)
        signals.append(
            (
                t,
                planner.model_signals(
                    risks, forecasts, set(), models.detail, models.forecast_source
                ),
            )
        )
    early = [s for t, sig in signals if t >= 3 * 240 for s in sig if s.kind == "forecast"]
    first = min(t for t, sig in signals if t >= 3 * 240 and any(s.kind == "forecast" for s in sig))
    assert first == 3 * 240 + 60  # one lead ahead of the busy bin, on the fourth day
    assert early[0].value >= AvoidConfig().forecast_on
    assert "learned daily profile" in early[0].cause
    avoid = Avoidance("A-B", "forecast", early[0].value, first, early[0].cause)
    moves = {c: avoid.applies(Intent.model_validate({"name": f"i-{c}", "src": "A", "dst": "B",
                                                      "service_class": c}))
             for c in ("bigdata", "office", "voice", "production")}  # fmt: skip
    assert moves == {"bigdata": True, "office": True, "voice": False, "production": False}


def test_documented_periods_commands_train_and_plot(tmp_path: Path) -> None:
    """docs/ML.md's two periods commands, as written, in a scratch directory."""
    text = (ROOT / "docs" / "ML.md").read_text()
    lines = [x for b in text.split("```sh\n")[1:] for x in b.split("```")[0].splitlines()]
    train = next(x for x in lines if x.startswith("netpilot model train periods"))
    show = next(x for x in lines if x.startswith("netpilot model show periods.model"))
    out = run_cli(*shlex.split(train)[1:], "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)["info"]
    assert 0.6 <= info["band_coverage_held_out"][TOTAL] <= 1.0
    out = run_cli(*shlex.split(show)[1:], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    png = tmp_path / "periods.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    bad = run_cli("model", "show", "periods.model", "--plot", "x.png", "--link", "nope",
                  cwd=tmp_path)  # fmt: skip
    assert bad.returncode != 0 and "--link 'nope'" in bad.stderr and "Traceback" not in bad.stderr
