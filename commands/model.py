"""`netpilot model`: train, evaluate and inspect forecasting and fault-prediction models."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commands.common import console, print_json

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
        console=console,
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
    console.print(
        f"{info['steps']} steps, {info['train_steps']} for training, {info['origins']} origins; "
        f"training took {float(info['fit_seconds']):.1f} s (1 thread)"  # type: ignore[arg-type]
    )


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)
