"""A learned daily profile as a PNG: per class the median and its 10-90 % band (matplotlib,
headless). The one module of `models/` that writes a file besides `models.persist`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.periods import TOTAL, PeriodModel


def plot_profile(model: PeriodModel, link: str, out: Path) -> list[str]:
    """Draw every class of `link` (and the total) over one period; returns the classes drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = model.classes(link)
    hours = (np.arange(model.bins) + 0.5) * model.period_s / model.bins / 3600.0
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for cls in classes:
        p10, p50, p90 = model.profile(link, cls)
        style: dict[str, Any] = {"color": "black", "linewidth": 2.0} if cls == TOTAL else {}
        (line,) = ax.plot(hours, p50, label=cls, **style)
        ax.fill_between(hours, p10, p90, alpha=0.2, color=line.get_color())
    ax.set_xlabel("time of period (hours)")
    ax.set_ylabel("utilisation (median, 10-90 % band)")
    ax.set_title(f"learned daily profile of {link}")
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return classes
