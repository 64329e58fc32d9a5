"""Scale-free features for a pooled (global) forecaster over many traffic series.

Every feature at origin t uses y[: t + 1] only (the seasonal ones look back a whole season, so
they stay causal for any horizon shorter than the season). Values are normalised by each series'
recent mean, so one model serves every OD pair and every link, and a series it never saw.
The target is the change from a reference level (the tuned EWMA) in the same units: a model that
predicts zero is exactly the EWMA baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.baselines import ewma_levels

CLIP = 20.0


@dataclass(frozen=True)
class FeatureConfig:
    lags: int = 12
    window: int = 36
    alphas: tuple[float, ...] = (0.03, 0.1, 0.3, 0.7)
    season: int = 288
    seasonal_alpha: float = 0.3
    calendar: bool = True

    def names(self) -> list[str]:
        """The feature schema, in column order (saved with a model and checked on load)."""
        return [
            *(f"lag{j}" for j in range(self.lags)),
            *(f"ewma{a:g}" for a in self.alphas),
            "level_vs_window",
            "expanding_mean",
            "window_spread",
            "total_vs_level",
            *(
                ("tod_sin", "tod_cos", "season_delta", "season_ok", "total_season_delta")
                if self.calendar
                else ()
            ),
        ]


@dataclass
class SeriesContext:
    """Causal statistics of a history y (T, K), computed once and indexed by origin."""

    y: np.ndarray
    cfg: FeatureConfig
    ewma: dict[float, np.ndarray] = field(default_factory=dict)
    roll_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    roll_std: np.ndarray = field(default_factory=lambda: np.zeros(0))
    exp_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def build(
        cls, y: np.ndarray, cfg: FeatureConfig, extra_alphas: tuple[float, ...] = ()
    ) -> SeriesContext:
        y = np.asarray(y, dtype=float)
        ctx = cls(y=y, cfg=cfg)
        for a in {*cfg.alphas, cfg.seasonal_alpha, *extra_alphas}:
            ctx.ewma[a] = ewma_levels(y, a)
        ctx.roll_mean, ctx.roll_std = _rolling(y, cfg.window)
        counts = np.arange(1, len(y) + 1, dtype=float)[:, None]
        ctx.exp_mean = np.cumsum(y, axis=0) / counts
        return ctx

    def scale(self, origins: np.ndarray) -> np.ndarray:
        """Per-series normaliser at each origin: the recent mean, floored."""
        floor = 1e-9 * max(1.0, float(np.abs(self.y).mean()))
        return np.maximum(self.roll_mean[origins], floor)


def _rolling(y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing mean and standard deviation over up to `window` steps (fewer at the start)."""
    c1 = np.cumsum(np.vstack([np.zeros((1, y.shape[1])), y]), axis=0)
    c2 = np.cumsum(np.vstack([np.zeros((1, y.shape[1])), y * y]), axis=0)
    t = np.arange(1, len(y) + 1)
    lo = np.maximum(0, t - window)
    n = (t - lo)[:, None].astype(float)
    mean = (c1[t] - c1[lo]) / n
    var = np.maximum((c2[t] - c2[lo]) / n - mean * mean, 0.0)
    return mean, np.sqrt(var)


def build_features(
    ctx: SeriesContext, origins: np.ndarray, horizon: int, ref_alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows for every (origin, series): X (len(origins) * K, F), plus the reference level
    and the scale, each (len(origins), K), to turn a normalised prediction back into bit/s."""
    cfg, y = ctx.cfg, ctx.y
    if horizon >= cfg.season:
        raise ValueError(f"horizon {horizon} must be shorter than the season {cfg.season}")
    if origins.size and int(origins.min()) < cfg.lags - 1:
        raise ValueError(f"origins need {cfg.lags} steps of history")
    ref = ctx.ewma[ref_alpha][origins]
    s = ctx.scale(origins)
    cols = [(y[origins - j] - ref) / s for j in range(cfg.lags)]
    cols += [(ctx.ewma[a][origins] - ref) / s for a in cfg.alphas]
    cols.append(ref / s - 1.0)
    cols.append((ctx.exp_mean[origins] - ref) / s)
    cols.append(ctx.roll_std[origins] / s)
    ones = np.ones_like(ref)
    cols.append(_total_vs_level(ctx, origins, ref) * ones)
    if cfg.calendar:
        phase = 2.0 * np.pi * ((origins + horizon) % cfg.season) / cfg.season
        delta, ok, total_delta = _seasonal(ctx, origins, horizon, s)
        cols += [np.sin(phase)[:, None] * ones, np.cos(phase)[:, None] * ones]
        cols += [delta, ok[:, None] * ones, total_delta * ones]
    x = np.clip(np.stack(cols, axis=-1), -CLIP, CLIP)
    return x.reshape(-1, x.shape[-1]), ref, s


def _seasonal(
    ctx: SeriesContext, origins: np.ndarray, horizon: int, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What happened one season ago over the same horizon (smoothed), per series and in total;
    zero with season_ok = 0 while the history is shorter than a season."""
    season, smooth = ctx.cfg.season, ctx.ewma[ctx.cfg.seasonal_alpha]
    back = origins - season
    ok = back >= 0
    delta = np.zeros_like(s)
    total = np.zeros((len(origins), 1))
    if ok.any():
        b = back[ok]
        diff = smooth[b + horizon] - smooth[b]
        delta[ok] = diff / s[ok]
        base = np.maximum(smooth[b].sum(axis=1), 1e-12)
        total[ok, 0] = diff.sum(axis=1) / base
    return delta, ok.astype(float), total


def _total_vs_level(ctx: SeriesContext, origins: np.ndarray, ref: np.ndarray) -> np.ndarray:
    now = ctx.y[origins].sum(axis=1)
    level = np.maximum(ref.sum(axis=1), 1e-12)
    return (now / level - 1.0)[:, None]


def targets(
    ctx: SeriesContext, origins: np.ndarray, horizon: int, ref: np.ndarray, s: np.ndarray
) -> np.ndarray:
    """Normalised change from the reference level at origin + horizon, flattened like X."""
    return np.clip((ctx.y[origins + horizon] - ref) / s, -CLIP, CLIP).reshape(-1)
