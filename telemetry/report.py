"""`netpilot report`: PNG plots (matplotlib, Agg) in one HTML page, for people without Grafana.

Plots: link utilisation heatmap over time (busiest links), per-intent SLA timeline with latency
against its bound, and forecast vs actual for the busiest links (the forecast made one horizon
earlier, aligned on the time it predicted).
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from telemetry.history import History

MAX_HEATMAP_LINKS = 40


def _hours(h: History) -> np.ndarray:
    return np.array(h.t) / 3600.0


def heatmap(h: History, path: Path) -> None:
    util = np.array(h.utilisation).T  # links x time
    order = np.argsort(-util.mean(axis=1))[:MAX_HEATMAP_LINKS]
    fig, ax = plt.subplots(figsize=(11, max(3.0, 0.22 * len(order) + 1.5)))
    t = _hours(h)
    im = ax.imshow(
        util[order],
        aspect="auto",
        cmap="inferno",
        vmin=0,
        vmax=1,
        extent=(t[0], t[-1], len(order) - 0.5, -0.5),
        interpolation="nearest",
    )
    ax.set_yticks(range(len(order)), [h.links[i] for i in order], fontsize=7)
    ax.set_xlabel("simulated time (h)")
    ax.set_title(f"Link utilisation, {len(order)} busiest directed links (router > link)")
    fig.colorbar(im, ax=ax, label="utilisation")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def sla_timeline(h: History, path: Path, bounds: dict[str, float | None]) -> None:
    n = len(h.intents)
    fig, axes = plt.subplots(
        2,
        1,
        figsize=(11, 2.5 + 0.5 * n),
        sharex=True,
        gridspec_kw={"height_ratios": [max(1, n), 3]},
    )
    t = _hours(h)
    met = np.array(h.sla_met, dtype=float).T if n else np.zeros((0, len(t)))
    axes[0].imshow(
        met,
        aspect="auto",
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(t[0], t[-1], n - 0.5, -0.5),
    )
    axes[0].set_yticks(range(n), h.intents)
    axes[0].set_title("Per-intent SLA (green: met, red: violated)")
    lat = np.array(h.latency_s).T if n else np.zeros((0, len(t)))
    for i, name in enumerate(h.intents):
        line = axes[1].plot(t, lat[i] * 1e3, label=name)[0]
        bound = bounds.get(name)
        if bound is not None:
            axes[1].axhline(bound * 1e3, color=line.get_color(), linestyle="--", linewidth=0.8)
    axes[1].set_ylabel("latency (ms)")
    axes[1].set_xlabel("simulated time (h)")
    if n:
        axes[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def forecast_vs_actual(h: History, path: Path, links: int = 3) -> None:
    util = np.array(h.utilisation)
    fc = np.array(h.forecast)
    top = np.argsort(-util.mean(axis=0))[:links]
    t = _hours(h)
    fig, ax = plt.subplots(figsize=(11, 4))
    for i in top:
        line = ax.plot(t, util[:, i], label=f"actual {h.links[i]}")[0]
        shifted = np.full(len(t), np.nan)
        k = h.forecast_steps
        shifted[k:] = fc[:-k, i] if len(t) > k else []
        ax.plot(t, shifted, linestyle="--", color=line.get_color(), label=f"forecast {h.links[i]}")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("utilisation")
    ax.set_title(f"Forecast ({h.forecast_steps} steps ahead, {h.forecast_label}) vs actual")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(
    h: History,
    out: Path,
    title: str,
    summary_rows: list[tuple[str, str]],
    bounds: dict[str, float | None],
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    heatmap(h, out / "utilisation.png")
    sla_timeline(h, out / "sla.png", bounds)
    forecast_vs_actual(h, out / "forecast.png")
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary_rows
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}} th{{text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<table>{rows}</table>
<h2>Link utilisation</h2><img src="utilisation.png" alt="link utilisation heatmap">
<h2>Per-intent SLA</h2><img src="sla.png" alt="per-intent SLA timeline">
<h2>Forecast vs actual</h2>
<p>Forecasts: {html.escape(h.forecast_label)}, {h.forecast_steps} telemetry intervals ahead
(telemetry/linkmodels.py).</p>
<img src="forecast.png" alt="forecast vs actual">
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index
