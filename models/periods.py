"""Traffic periods per class and link: the daily profile and its uncertainty (issue 18, item 5).

Per (link, class) and per time-of-day bin (48 bins of 30 min by default), a histogram of the
utilisation samples seen in that bin over the days: the profile is its median and the band its
10th and 90th percentiles (empirical, no distribution assumed; resolution `1 / RESOLUTION`).
The class `TOTAL` is the link's sum over classes. Learning is online (one sample at a time, as
the controller's telemetry rounds arrive) or from arrays (`learn`), and costs a few counters.

A **predictable busy period** on a link: a bin starting within `lead_s` whose 10th percentile of
the total is at least `on` (so in at least 90 % of the days seen the link was that busy then),
in a bin seen on at least `min_days` days. The closed loop can pre-move the elastic classes
(`bigdata`, `office`) off such a link before the period starts (`telemetry.linkmodels
.PeriodLinkModels`, off by default).

`generate` makes per-class link traffic with daily periods (office and voice in business hours,
bigdata overnight, test at random), for training and tests: no dataset the project has carries
traffic classes (the GEANT and Facebook matrices are per OD pair only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

DAY_S = 86_400.0
TOTAL = "total"
RESOLUTION = 50
"""Histogram buckets per unit of utilisation (0.02 wide)."""
MAX_UTIL = 1.5
QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class ClassProfile:
    """One (link, class): per time-of-day bin a histogram of utilisation and the days seen."""

    bins: int
    counts: np.ndarray = field(init=False)
    days: np.ndarray = field(init=False)
    _last_day: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros((self.bins, int(MAX_UTIL * RESOLUTION) + 1))
        self.days = np.zeros(self.bins, dtype=int)
        self._last_day = np.full(self.bins, -1, dtype=int)

    def add(self, bin_: int, day: int, value: float) -> None:
        bucket = round(min(max(value, 0.0), MAX_UTIL) * RESOLUTION)
        self.counts[bin_, bucket] += 1
        if self._last_day[bin_] != day:
            self._last_day[bin_] = day
            self.days[bin_] += 1

    def quantiles(self) -> np.ndarray:
        """(len(QUANTILES), bins) p10, p50, p90 per bin (NaN where the bin was never seen)."""
        cum = np.cumsum(self.counts, axis=1)
        total = cum[:, -1]
        out = np.full((len(QUANTILES), self.bins), np.nan)
        seen = total > 0
        for k, q in enumerate(QUANTILES):
            idx = (cum[seen] < q * total[seen, None]).sum(axis=1)
            out[k, seen] = idx / RESOLUTION
        return out


@dataclass(frozen=True)
class BusyPeriod:
    link: str
    starts_in_s: float
    """Seconds from now to the start of the first busy bin (0: busy now)."""
    level: float
    """The 10th percentile of the total in that bin."""
    classes: dict[str, float]
    """Each class's median in that bin (what makes the link busy)."""


@dataclass
class PeriodModel:
    period_s: float = DAY_S
    """Length of the period (a day; the demo compresses it)."""
    bins: int = 48
    min_days: int = 3
    """Days a bin must have been seen on before it can predict a busy period."""
    profiles: dict[tuple[str, str], ClassProfile] = field(default_factory=dict)

    def _bin_day(self, t: float) -> tuple[int, int]:
        day, phase = divmod(float(t), self.period_s)
        return int(phase / self.period_s * self.bins) % self.bins, int(day)

    def add(self, link: str, t: float, class_utilisation: Mapping[str, float]) -> None:
        """One telemetry sample of `link` at time `t` (seconds; t = 0 is a period's start)."""
        bin_, day = self._bin_day(t)
        values = {**class_utilisation, TOTAL: sum(class_utilisation.values())}
        for cls, value in values.items():
            profile = self.profiles.get((link, cls))
            if profile is None:
                profile = self.profiles[(link, cls)] = ClassProfile(self.bins)
            profile.add(bin_, day, float(value))

    def learn(self, link: str, times: np.ndarray, loads: Mapping[str, np.ndarray]) -> None:
        """Many samples at once: `loads[class]` (T,) utilisation at `times` (T,)."""
        for k, t in enumerate(np.asarray(times, dtype=float)):
            self.add(link, float(t), {c: float(v[k]) for c, v in loads.items()})

    def links(self) -> list[str]:
        return sorted({link for link, _ in self.profiles})

    def classes(self, link: str) -> list[str]:
        return sorted(c for lk, c in self.profiles if lk == link)

    def profile(self, link: str, cls: str = TOTAL) -> np.ndarray:
        """(3, bins): p10, p50, p90 of `cls` on `link` per time-of-day bin."""
        found = self.profiles.get((link, cls))
        if found is None:
            raise KeyError(f"no profile for class {cls!r} on link {link!r}")
        return found.quantiles()

    def busy_ahead(self, link: str, t: float, lead_s: float, on: float) -> BusyPeriod | None:
        """The first predictable busy bin on `link` from now to `lead_s` ahead, or None."""
        total = self.profiles.get((link, TOTAL))
        if total is None:
            return None
        p10 = total.quantiles()[0]
        width = self.period_s / self.bins
        now_bin, _ = self._bin_day(t)
        phase = float(t) % self.period_s
        for ahead in range(int(lead_s // width) + 2):
            b = (now_bin + ahead) % self.bins
            starts = max(0.0, ahead * width - (phase - now_bin * width))
            if starts > lead_s:
                break
            if total.days[b] >= self.min_days and p10[b] >= on:
                medians = {
                    c: float(self.profiles[(link, c)].quantiles()[1, b])
                    for c in self.classes(link)
                    if c != TOTAL
                }
                return BusyPeriod(link, starts, float(p10[b]), medians)
        return None


CLASS_SHAPES: dict[str, tuple[float, float, float]] = {
    "office": (0.30, 9.0, 18.0),
    "voice": (0.06, 8.0, 19.0),
    "bigdata": (0.45, 1.0, 5.0),
    "production": (0.15, 0.0, 24.0),
}
"""class: (level while active, active from hour, to hour); `test` is on at random hours."""


def generate(
    days: float, step_s: float = 300.0, seed: int = 0, scale: float = 1.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Times (T,) and per class the utilisation (T,) of one link with daily periods: each class
    at its level in its hours (ramping over 30 min), times a day-to-day factor (lognormal, 10 %)
    and sample noise (8 %); `test` traffic comes in random one-hour bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, days * DAY_S, step_s)
    hour = (t % DAY_S) / 3600.0
    day = (t // DAY_S).astype(int)
    n_days = int(day.max()) + 1
    loads: dict[str, np.ndarray] = {}
    for cls, (level, start, stop) in CLASS_SHAPES.items():
        ramp = np.clip(np.minimum(hour - start, stop - hour) * 2.0 + 0.5, 0.0, 1.0)
        daily = rng.lognormal(0.0, 0.1, n_days)[day]
        noise = rng.normal(1.0, 0.08, len(t)).clip(0.5, None)
        loads[cls] = scale * level * ramp * daily * noise
    bursts = rng.random(n_days * 24) < 0.1
    loads["test"] = scale * 0.1 * bursts[(t // 3600).astype(int)] * rng.random(len(t))
    return t, loads


def learn_generated(
    links: int, days: float, held_out_days: float, seed: int = 0, step_s: float = 300.0
) -> tuple[PeriodModel, dict[str, float]]:
    """Profiles of `links` generated links learned on their first `days - held_out_days`
    days, and per class the share of the held-out days' samples inside the 10-90 % band
    (about 0.8 when the band is right; half a histogram bucket of slack each side)."""
    model = PeriodModel()
    hit: dict[str, list[int]] = {}
    cut = (days - held_out_days) * DAY_S
    for k in range(links):
        t, loads = generate(days, step_s, seed + k, scale=0.8 + 0.8 * k / max(links - 1, 1))
        name = f"L{k}"
        train = t < cut
        model.learn(name, t[train], {c: v[train] for c, v in loads.items()})
        bins = ((t[~train] % model.period_s) / model.period_s * model.bins).astype(int)
        loads[TOTAL] = np.sum(list(loads.values()), axis=0)
        for cls, v in loads.items():
            p10, _, p90 = model.profile(name, cls)
            slack = 0.5 / RESOLUTION
            inside = (v[~train] >= p10[bins] - slack) & (v[~train] <= p90[bins] + slack)
            tally = hit.setdefault(cls, [0, 0])
            tally[0] += int(inside.sum())
            tally[1] += int(inside.size)
    return model, {cls: h / n for cls, (h, n) in sorted(hit.items()) if n}
