"""Robust per-link forecasts for the closed loop: the worst of a set of plausible futures.

The robust split (`models.robust_te`) routes for a set of plausible matrices at once. The live
controller places intents one at a time (CSPF) and hears a forecast per link, so its version is
per link (`netpilot controller run --robust-forecast`): the signal the engine gets for a link is
the highest utilisation over

- `forecast`: the forecaster's p90 `horizon` ahead (what the loop uses without the flag),
- `latest`: the utilisation measured in the latest round,
- `day-ago`: the utilisation measured one period (a day) before the forecast's target time,
  from the loop's own history, once it reaches back that far,
- `recent peak`: the highest utilisation of the last `RECENT_ROUNDS` rounds,

and names the member that decided. `LinkFutures` keeps each link's history (one period and a
margin, in the routers' own time); `worst_future` is the pure choice.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

RECENT_ROUNDS = 18
"""Rounds in the recent-history member: the set size docs/ML.md's validation chose for the
robust split at 5 and 15 minutes (the last 18 matrices; 24 at 60 minutes did not hold on the
test blocks)."""
MEMBERS = ("forecast", "latest", "day-ago", "recent peak")
"""The set's members, in the order that names a tie."""


@dataclass(frozen=True)
class Future:
    """One member of a link's set: its name (`MEMBERS`) and its utilisation (0-1)."""

    name: str
    utilisation: float


def worst_future(members: Iterable[Future]) -> Future | None:
    """The member with the highest utilisation (a tie goes to the earlier one in `MEMBERS`);
    None for an empty set."""
    ranked = sorted(members, key=lambda f: (-f.utilisation, _rank(f.name)))
    return ranked[0] if ranked else None


def _rank(name: str) -> int:
    return MEMBERS.index(name) if name in MEMBERS else len(MEMBERS)


def value_before(
    times: list[float], values: list[float], t: float, within_s: float
) -> float | None:
    """The value of the last sample at or before `t` if it is at most `within_s` older than `t`;
    None where the history does not reach back to `t` (or has a gap there)."""
    i = bisect.bisect_right(times, t)
    if i == 0 or t - times[i - 1] > within_s:
        return None
    return values[i - 1]


@dataclass
class LinkFutures:
    """Each link's measured utilisation over the last period, and its set of futures."""

    period_s: float = 86_400.0
    """One period of the routers' time: the day-ago member looks this far back."""
    recent_rounds: int = RECENT_ROUNDS
    _times: dict[str, list[float]] = field(default_factory=dict)
    _values: dict[str, list[float]] = field(default_factory=dict)
    _recent: dict[str, deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.period_s <= 0 or self.recent_rounds < 1:
            raise ValueError("LinkFutures: period_s must be > 0 and recent_rounds >= 1")

    def add(self, link: str, t: float, utilisation: float) -> None:
        """One round's utilisation of `link` at `t` (a sample no newer than the last is
        dropped: rounds come in order)."""
        times = self._times.setdefault(link, [])
        if times and t <= times[-1]:
            return
        values = self._values.setdefault(link, [])
        times.append(t)
        values.append(utilisation)
        self._recent.setdefault(link, deque(maxlen=self.recent_rounds)).append(utilisation)
        keep_from = t - self.period_s * 1.05  # the day-ago member needs one period and a margin
        cut = bisect.bisect_left(times, keep_from)
        if cut > len(times) // 2:  # trim in batches: amortised O(1) a sample
            del times[:cut], values[:cut]

    def links(self) -> list[str]:
        return sorted(self._times)

    def futures(self, link: str, forecast: float | None, horizon_s: float) -> list[Future]:
        """The set for `link`: the forecast (if any) and what its history holds."""
        out = [] if forecast is None else [Future("forecast", forecast)]
        times, values = self._times.get(link), self._values.get(link)
        if not times or not values:
            return out
        out.append(Future("latest", values[-1]))
        within = 2.0 * _step(times)
        ago = value_before(times, values, times[-1] + horizon_s - self.period_s, within)
        if ago is not None:
            out.append(Future("day-ago", ago))
        out.append(Future("recent peak", max(self._recent[link])))
        return out


def _step(times: list[float]) -> float:
    """The median spacing of the last samples (the round, in the routers' time)."""
    gaps = sorted(b - a for a, b in zip(times[-9:-1], times[-8:], strict=True))
    return gaps[len(gaps) // 2] if gaps else 0.0
