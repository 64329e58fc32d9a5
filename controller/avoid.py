"""Links to avoid before they hurt: a forecast overload or a predicted fault.

The engine keeps one `Avoidance` per (link, reason). The planner excludes the link from the
requests of the intents it applies to, and treats an installed path over it as unhealthy, so
those intents move (make-before-break, as every move) while the link still carries traffic.

- `forecast`: utilisation forecast above the threshold moves the elastic classes (`bigdata`,
  `office`) off the link.
- `risk`: fault risk above the threshold moves protected and high-priority intents off it.
- `sla`: active probes on an uplink break the SLA of the `classes` named (controller/uplink_sla.py):
  the intents of those classes leave it.

Hysteresis: an avoidance is lifted only when the signal falls below a lower threshold and the
avoidance has held for the engine's hold time; intents then move back only through `optimize`
(which waits its own hold time), so a flickering signal does not make paths oscillate.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.intents import Intent

ELASTIC = frozenset({"bigdata", "office"})
HIGH_PRIORITY = 2  # effective priority 0..2: voice, production, video


@dataclass(frozen=True)
class AvoidConfig:
    risk_on: float = 0.6
    risk_off: float = 0.3
    forecast_on: float = 0.85
    forecast_off: float = 0.7


@dataclass(frozen=True)
class Avoidance:
    link: str
    reason: str  # "risk", "forecast" or "sla"
    value: float
    since: float
    cause: str
    classes: frozenset[str] = frozenset()
    """For `sla`: the service classes kept off the link."""

    def applies(self, intent: Intent) -> bool:
        if self.reason == "sla":
            return intent.service_class in self.classes
        if self.reason == "forecast":
            return intent.service_class in ELASTIC
        return intent.protection != "none" or intent.effective_priority <= HIGH_PRIORITY

    def describe(self) -> str:
        if self.reason == "sla":
            return f"SLA of {', '.join(sorted(self.classes))} broken on {self.link}"
        what = "utilisation forecast" if self.reason == "forecast" else "fault risk"
        return f"{what} {self.value:.2f} on {self.link}"


def avoided_links(avoid: dict[str, Avoidance], intent: Intent) -> frozenset[str]:
    return frozenset(a.link for a in avoid.values() if a.applies(intent))
