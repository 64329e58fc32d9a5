"""`netpilot model`: train, evaluate and inspect forecasting and fault-prediction models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commands.common import console, err_console, print_json
from controller.errors import UsageError

if TYPE_CHECKING:
    from models.fault_eval import FaultEvalConfig

app = typer.Typer(
    help="Train, evaluate and inspect forecasting and fault-prediction models.",
    no_args_is_help=True,
)
eval_app = typer.Typer(help="Evaluate a model against baselines.", no_args_is_help=True)
train_app = typer.Typer(help="Train a model and save it to a file.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")

TM_OPT = typer.Option(..., "--tm", help="Traffic matrices (.hist: one n x n matrix per line).")
TOPO_OPT = typer.Option(..., "--topology", help="Topology file (node-link JSON, YAML or GML).")
TUN_OPT = typer.Option(..., "--tunnels", help="Candidate paths (tunnels.txt: 'src dst:a-b,a-c-b').")
OPT_OPT = typer.Option(
    None, "--opt", help="Optimal MLU per matrix (.opt); default: beside --tm if present, else LP."
)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@eval_app.command("forecast")
def eval_forecast(
    *,
    tm: Path = TM_OPT,
    topology: Path = TOPO_OPT,
    tunnels: Path = TUN_OPT,
    opt: Path | None = OPT_OPT,
    train_fraction: float = typer.Option(0.7, help="Share of the matrices used for training."),
    season: int = typer.Option(288, help="Season length in steps (288 = a day of 5-min steps)."),
    refit_every: int = typer.Option(48, help="Refit the model online every N test steps."),
    te_stride: int = typer.Option(1, help="Route every Nth test origin (1 = all)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Forecast error (NMAE, RMSE) and TE ratio per horizon, model against baselines.

    Example: netpilot model eval forecast --tm ../shared/data/geant/tm-5min.hist
    --topology ../shared/data/geant/topology.json --tunnels ../shared/data/geant/tunnels.txt
    """
    from models.cli_support import load_te_inputs
    from models.evaluate import EvalConfig, evaluate_forecast

    y, te = load_te_inputs(tm, topology, tunnels, opt)
    cfg = EvalConfig(
        train_fraction=train_fraction, season=season, refit_every=refit_every, te_stride=te_stride
    )
    with _progress() as bar:
        task = bar.add_task("training", total=1)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        result = evaluate_forecast(y, te, cfg, progress=report if not json_out else _quiet)
    if json_out:
        print_json(result.to_json())
        return
    _forecast_table(result.horizons, result.info)


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def _forecast_table(
    horizons: dict[str, dict[str, dict[str, float]]], info: dict[str, object]
) -> None:
    table = Table(title="Forecast evaluation (test part, rolling origin)")
    for col in ("horizon", "method", "NMAE", "RMSE", "TE ratio mean", "TE ratio p95"):
        table.add_column(col, justify="right" if col not in ("method",) else "left")
    for h, methods in horizons.items():
        for name, m in methods.items():
            table.add_row(
                h,
                name,
                _fmt(m.get("nmae"), "{:.4f}"),
                _fmt(m.get("rmse"), "{:.3g}"),
                _fmt(m.get("te_ratio_mean"), "{:.4f}"),
                _fmt(m.get("te_ratio_p95"), "{:.4f}"),
            )
    console.print(table)
    links = info.get("links")
    if isinstance(links, dict):
        console.print(f"per-link load NMAE (first-tunnel routing): {links}")
    console.print(
        f"{info['steps']} steps, {info['train_steps']} for training, {info['origins']} origins; "
        f"training took {float(info['fit_seconds']):.1f} s (1 thread)"  # type: ignore[arg-type]
    )


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


@eval_app.command("rolling")
def eval_rolling(
    *,
    tm: list[Path] = typer.Option(
        ..., "--tm", help="Traffic matrices (.hist); repeat for one file a week (test by file)."
    ),
    topology: Path = TOPO_OPT,
    tunnels: Path | None = typer.Option(
        None, "--tunnels", help="Candidate paths (tunnels.txt); with it, TE ratios are scored."
    ),
    blocks: int = typer.Option(3, help="One --tm: test on its last N blocks."),
    block_steps: int = typer.Option(48, help="One --tm: steps per test block."),
    val_steps: int = typer.Option(
        0, help="Validation steps before each test block (0: --block-steps, or a day by file)."
    ),
    season: int = typer.Option(288, help="Steps in a day (288 = 5-min steps)."),
    te_stride: int = typer.Option(1, help="Route every Nth test origin (1 = all)."),
    model: bool = typer.Option(
        False, "--model", help="Offer the trained HGB forecaster to the blend (slower)."
    ),
    model_rows: int = typer.Option(50_000, min=100, help="Rows each HGB fit samples."),
    robust_set: str = typer.Option(
        "per-fold",
        help="Robust TE scenarios: 'per-fold' (each fold and horizon chooses among fixed "
        "candidate sets on its own validation block, docs/ML.md), 'chosen' (the last 18 "
        "matrices, 24 at 60 min: chosen once on GEANT steps 285-332) or 'first' (p50, p90, "
        "last, day-ago: issue 18's first set).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Rolling-origin evaluation: choices made on the block before each test block, baselines
    (last value, tuned EWMA, day-ago, week-ago, daily profile) against the seasonal blend and
    its p90; with --tunnels, the TE ratio of routing on each, and the robust split.

    Example: netpilot model eval rolling --tm ../shared/data/geant/tm-5min.hist
    --topology ../shared/data/geant/topology.json --tunnels ../shared/data/geant/tunnels.txt
    """
    import time

    from models.cli_support import load_te_files
    from models.robust_te import FIRST_SET, TeScorer
    from models.rolling import RollingConfig, evaluate_rolling, folds_by_blocks, folds_by_files

    if te_stride < 1 or season < 16:
        raise UsageError("give --te-stride >= 1 and --season >= 16 (the longest horizon is 12)")
    if robust_set not in ("per-fold", "chosen", "first"):
        raise UsageError(f"--robust-set {robust_set!r}: give 'per-fold', 'chosen' or 'first'")
    y, lengths, te = load_te_files(tm, topology, tunnels)
    if len(tm) > 1:
        folds = folds_by_files(lengths, val_steps or season, [p.stem for p in tm])
    else:
        folds = folds_by_blocks(len(y), blocks, block_steps, val_steps or block_steps)
    cfg = RollingConfig(season=season, model=model, model_rows=model_rows)
    scorer = None
    if te is not None:
        scorer = TeScorer(te, y, stride=te_stride)
        if robust_set == "first":
            scorer.sets = {h: FIRST_SET for h in (1, 3, 12)}
        elif robust_set == "per-fold":
            scorer.per_fold = cfg
    start, cpu = time.perf_counter(), time.process_time()
    with console.status("rolling-origin evaluation", spinner="dots"):
        result = evaluate_rolling(y, folds, cfg, hook=scorer)
    seconds = time.perf_counter() - start
    if scorer is not None:
        result["te_pooled"] = scorer.pooled()
        scorer.annotate(result)
    result["info"] = {
        "steps": len(y),
        "series": int(y.shape[1]),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "te_seconds": round(scorer.seconds, 1) if scorer else 0.0,
        "robust_set": robust_set if scorer else None,
        "robust_validation_seconds": round(scorer.validation_seconds, 1) if scorer else 0.0,
    }
    if json_out:
        print_json(result)
        return
    _rolling_table(result)


def _rolling_table(result: dict[str, Any]) -> None:
    table = Table(title="Rolling-origin evaluation (choices made on validation blocks)")
    cols = ("fold", "h", "best baseline", "NMAE", "blend", "ratio", "p90 cover")
    te_cols = ("last_value", "seasonal_naive", "blend", "blend_p90", "robust")
    for col in (*cols, *(f"TE {c}" for c in te_cols)):
        table.add_column(col, justify="left" if col in ("fold", "best baseline") else "right")
    for fold in result["folds"]:
        for h, d in fold["horizons"].items():
            m = d["methods"]
            table.add_row(
                fold["fold"], h, d["best_baseline"], f"{m[d['best_baseline']]['nmae']:.4f}",
                f"{m['blend']['nmae']:.4f}", f"{d['blend_vs_best']:.3f}",
                f"{m['blend_p90']['p90_coverage']:.2f}",
                *(_fmt(m.get(c, {}).get("te_ratio_mean"), "{:.3f}") for c in te_cols),
            )  # fmt: skip
    console.print(table)
    for h, s in result["summary"].items():
        console.print(
            f"h={h}: blend / best baseline worst {s['blend_vs_best_worst']:.3f}, "
            f"mean {s['blend_vs_best_mean']:.3f}; folds at the 0.95 goal: {s['folds_at_goal']}"
        )
    pooled = result.get("te_pooled", {})
    if pooled:
        te_table = Table(title="TE ratio over every fold's routed origins: mean / p95")
        te_table.add_column("h", justify="right")
        for col in te_cols:
            te_table.add_column(col, justify="right")
        for h, methods in pooled.items():
            te_table.add_row(
                h,
                *(
                    f"{methods[c]['te_ratio_mean']:.3f} / {methods[c]['te_ratio_p95']:.3f}"
                    for c in te_cols
                ),
            )
        console.print(te_table)
    for fold in result["folds"]:
        sets = [f"h={h}: {d['robust_set']['chosen']}" for h, d in fold["horizons"].items()
                if "robust_set" in d]  # fmt: skip
        if sets:
            console.print(f"robust set, {fold['fold']}: {'; '.join(sets)}")
    console.print(f"{result['info']['steps']} steps, {result['info']['seconds']} s")


@eval_app.command("faults")
def eval_faults(
    *,
    seeds: int = typer.Option(8, help="Test seeds (each: 30 links over 4 days, 1-min samples)."),
    first_seed: int = typer.Option(
        0,
        help="First test seed (the test seeds are FIRST .. FIRST + SEEDS - 1; another range is "
        "another independent test set). Training, detector and closed-loop seeds start at "
        "10,000, 20,000 and 30,000, so the test range must end below 10,000.",
    ),
    train_seeds: int = typer.Option(10, help="Extra seeds used only for training."),
    links: int = typer.Option(30, help="Links per seed."),
    days: float = typer.Option(4.0, help="Days of telemetry per seed (at least 2)."),
    unseen: str = typer.Option(
        "latency_creep", help="Fault kinds kept out of training (comma list, or 'none')."
    ),
    step_s: float = typer.Option(60.0, "--step-s", help="Seconds between telemetry samples."),
    time_scale: float = typer.Option(
        1.0, help="Compress every episode by this factor (the closed loop's profile: 0.125)."
    ),
    leave_one_out: bool = typer.Option(
        False,
        "--leave-one-out",
        help="Leave each fault kind out of training in turn; adds the per-link baseline "
        "detector alone and joined to the model.",
    ),
    new_kinds: bool = typer.Option(
        False, "--new-kinds", help="Also generate issue 18's crc_floor and loss_microbursts."
    ),
    fit_iterations: int = typer.Option(
        200, min=1, help="Boosting iterations of the fault model (fewer: a faster smoke run)."
    ),
    detector_seeds: int = typer.Option(
        10, min=1, help="With --leave-one-out: validation seeds the detector's rules are chosen on."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Fault prediction on generated telemetry: model against MAD, threshold and Holt.

    Examples: netpilot model eval faults --seeds 8 --json; the closed loop's profile:
    netpilot model eval faults --step-s 30 --time-scale 0.125 --days 0.25 --links 60;
    leave-one-kind-out over six kinds: netpilot model eval faults --leave-one-out --new-kinds;
    another test set: netpilot model eval faults --leave-one-out --new-kinds --first-seed 200
    """
    from models.fault_eval import TRAIN_FIRST_SEED, FaultEvalConfig, evaluate_faults
    from models.precursors import ALL_FAULT_KINDS, FAULT_KINDS, GeneratorConfig

    if seeds < 1 or train_seeds < 1 or links < 5 or days <= 0 or step_s <= 0:
        raise UsageError(
            "give --seeds and --train-seeds >= 1, --links >= 5, --days and --step-s > 0"
        )
    if first_seed < 0 or first_seed + seeds > TRAIN_FIRST_SEED:
        raise UsageError(
            f"--first-seed {first_seed} with --seeds {seeds}: the test seeds must lie in "
            f"0..{TRAIN_FIRST_SEED - 1} (training seeds start at {TRAIN_FIRST_SEED}); give a "
            "smaller --first-seed"
        )
    kinds = () if unseen.strip() == "none" else tuple(k.strip() for k in unseen.split(","))
    known = ALL_FAULT_KINDS if new_kinds else FAULT_KINDS
    bad = [k for k in kinds if k not in known]
    if bad:
        raise UsageError(f"--unseen: unknown fault kind {bad[0]!r}; use {', '.join(known)}")
    cfg = FaultEvalConfig(
        seeds=seeds,
        first_seed=first_seed,
        train_seeds=train_seeds,
        unseen=kinds,
        generator=GeneratorConfig(
            links=links, days=days, step_s=step_s, time_scale=time_scale, fault_kinds=known
        ),
        model_iterations=fit_iterations,
        detector_seeds=detector_seeds,
    )
    if leave_one_out:
        _leave_one_out(cfg, json_out)
        return
    with _progress() as bar:
        task = bar.add_task("generating", total=1)

        def report(stage: str, done: int, total: int) -> None:
            if not json_out:
                bar.update(task, description=stage, completed=done, total=max(total, 1))

        result, info = evaluate_faults(cfg, report)
    if json_out:
        print_json(result)
        return
    table = Table(title="Fault prediction (test links, second half of time)")
    for col in (
        "method",
        "recall",
        "precision",
        "false alarms /100 link-days",
        "median lead min",
        "PR-AUC",
    ):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, m in result.items():
        table.add_row(
            name,
            f"{m['recall']:.3f}",
            f"{m['precision']:.3f}",
            f"{m['false_alarms_per_100_link_days']:.2f}",
            f"{m['median_lead_minutes']:.0f}",
            f"{m['pr_auc']:.3f}",
        )
    console.print(table)
    console.print(
        f"{info['test_failures']} failures over {info['test_link_days']:.0f} test link-days; "
        f"recall by kind (model): {info['recall_by_kind']['model']}; "
        f"unseen in training: {', '.join(info['unseen_in_training'])}"
    )


def _leave_one_out(cfg: FaultEvalConfig, json_out: bool) -> None:
    from models.deviation_eval import evaluate_combined

    with console.status("leave-one-kind-out", spinner="dots") as status:
        result = evaluate_combined(cfg, lambda st, d, t: status.update(st))
    if json_out:
        print_json(result)
        return
    table = Table(title="Leave-one-kind-out: each fault kind unseen in training in turn")
    for col in ("held out", "method", "recall", "FA /100 link-days", "lead min", "held-out"):
        table.add_column(col, justify="left" if col in ("held out", "method") else "right")
    for kind, methods in result["held_out"].items():
        for name, m in methods.items():
            table.add_row(
                kind, name, f"{m['recall']:.3f}", f"{m['false_alarms_per_100_link_days']:.2f}",
                f"{m['median_lead_minutes']:.0f}",
                f"{m['held_out_recall']:.2f} of {m['held_out_failures']}",
            )  # fmt: skip
    console.print(table)
    for name, avg in result["average"].items():
        console.print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in avg.items()))


@train_app.command("forecast")
def train_forecast(
    tm: Path = TM_OPT,
    out: Path = typer.Option(..., "--out", help="Model file to write."),
    season: int = typer.Option(288, help="Season length in steps (288 = a day of 5-min steps)."),
    json_out: bool = typer.Option(False, "--json", help="Print the model header as JSON."),
) -> None:
    """Train the traffic forecaster on every matrix of a .hist file and save it.

    Example: netpilot model train forecast --tm ../shared/data/geant/tm-5min.hist --out geant.model
    """
    from models.evaluate import off_diagonal
    from models.features import FeatureConfig
    from models.forecast import ForecastModel
    from models.saved import save_forecast
    from topologies.datasets import read_tm_hist

    y = off_diagonal(read_tm_hist(tm))
    with console.status("training the forecaster", spinner="dots"):
        model = ForecastModel(cfg=FeatureConfig(season=season)).fit(y, len(y))
    header = save_forecast(out, model, {"source": str(tm), "series": int(y.shape[1])})
    _show_header(out, header.to_json(), json_out)


@train_app.command("faults")
def train_faults(
    out: Path = typer.Option(..., "--out", help="Model file to write."),
    seeds: int = typer.Option(10, help="Seeds of generated telemetry to train on."),
    json_out: bool = typer.Option(False, "--json", help="Print the model header as JSON."),
) -> None:
    """Train the fault predictor on generated telemetry and save it.

    Example: netpilot model train faults --seeds 10 --out faults.model
    """
    from models.fault_eval import FaultEvalConfig, prepare, train_and_calibrate
    from models.saved import save_faults

    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    cfg = FaultEvalConfig(seeds=0, train_seeds=seeds)
    with console.status("training the fault predictor", spinner="dots"):
        model, _ = train_and_calibrate(prepare(cfg, _quiet), cfg, _quiet)
    header = save_faults(out, model, {"train_seeds": seeds})
    _show_header(out, header.to_json(), json_out)


@train_app.command("loop")
def train_loop(
    out: Path = typer.Option(..., "--out", help="Directory to write the two model files into."),
    data: Path | None = typer.Option(
        None, help="The shared data directory (default: NETPILOT_DATA or ../shared/data)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the training facts as JSON."),
) -> None:
    """Train the closed loop's forecaster and fault model (30 s telemetry) and save both.

    Example: netpilot model train loop --out loop-models && netpilot demo --models loop-models
    """
    from models import loop_models
    from topologies.datasets import data_dir

    root = data if data is not None else data_dir()
    if not (root / "geant").is_dir():
        raise UsageError(f"--data {root}: no geant/ folder in it; point it at shared/data")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory; give a directory")
    with console.status("training the loop's models", spinner="dots") as status:
        trained = loop_models.train(
            root / "geant", loop_models.LoopTraining(), lambda st, d, t: status.update(st)
        )
    loop_models.save(out, trained)
    if json_out:
        print_json({"out": str(out), **trained.info})
        return
    table = Table(title=f"loop models in {out}", show_header=False)
    for key, value in trained.info.items():
        table.add_row(key, str(value))
    console.print(table)


@train_app.command("periods")
def train_periods(
    *,
    out: Path = typer.Option(..., "--out", help="Model file to write."),
    links: int = typer.Option(4, min=1, help="Generated links (each its own scale)."),
    days: float = typer.Option(14.0, help="Days of 5-min samples per link."),
    held_out_days: float = typer.Option(3.0, help="Last days kept out to measure the band."),
    seed: int = typer.Option(0, help="Seed of the first link."),
    json_out: bool = typer.Option(False, "--json", help="Print the training facts as JSON."),
) -> None:
    """Learn per class and link the daily traffic profile (p10, p50, p90) and save it.

    Trains on generated per-class traffic (no dataset here carries classes); the band's
    coverage is measured on the held-out last days. Example: netpilot model train periods
    --out periods.model && netpilot model show periods.model --plot periods.png
    """
    from models.periods import learn_generated
    from models.saved import save_periods

    if days - held_out_days < 1 or held_out_days <= 0:
        raise UsageError("--days must exceed --held-out-days by at least 1; both > 0")
    model, coverage = learn_generated(links, days, held_out_days, seed)
    info = {"source": "generated per-class traffic", "days": days, "held_out_days": held_out_days,
            "band_coverage_held_out": {c: round(v, 3) for c, v in coverage.items()}}  # fmt: skip
    header = save_periods(out, model, info)
    _show_header(out, header.to_json(), json_out)


@app.command("show")
def show(
    path: Path = typer.Argument(..., help="A model file written by `netpilot model train`."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Periods model: draw the learned profile and band to this PNG."
    ),
    link: str | None = typer.Option(None, help="With --plot: the link to draw (default first)."),
    json_out: bool = typer.Option(False, "--json", help="Print the header as JSON."),
) -> None:
    """Show a model file's header after checking it (kind, version, schema, hash).

    Example: netpilot model show geant.model; a periods model's profile as a PNG:
    netpilot model show periods.model --plot periods.png
    """
    from models.persist import read_header
    from models.saved import load_detector, load_faults, load_forecast, load_periods

    header, _ = read_header(path)
    loaders = {"forecast": load_forecast, "detector": load_detector, "periods": load_periods}
    checked, model = loaders.get(header.kind, load_faults)(path)
    if plot is not None:
        _plot(path, model, plot, link)
    _show_header(path, checked.to_json(), json_out)


def _plot(path: Path, model: object, out: Path, link: str | None) -> None:
    from models.periods import PeriodModel
    from models.periods_plot import plot_profile

    if not isinstance(model, PeriodModel):
        raise UsageError(f"--plot: {path} is not a periods model; train one with "
                         "`netpilot model train periods`")  # fmt: skip
    links = model.links()
    chosen = link if link is not None else links[0]
    if chosen not in links:
        raise UsageError(f"--link {chosen!r}: not in {path}; use one of {', '.join(links[:8])}")
    plot_profile(model, chosen, out)
    err_console.print(f"wrote {out} (profile of {chosen})")


def _show_header(path: Path, header: dict[str, object], json_out: bool) -> None:
    if json_out:
        print_json(header)
        return
    table = Table(title=f"model {path}", show_header=False)
    for key in ("kind", "format_version", "created", "sha256"):
        table.add_row(key, str(header[key]))
    features = header["features"]
    assert isinstance(features, list)
    table.add_row("features", f"{len(features)}: {', '.join(map(str, features[:6]))}, ...")
    info = header["info"]
    assert isinstance(info, dict)
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)
