"""The alarm correlator: a stream of symptoms in, incidents out. Pure: the caller passes every
time (`Symptom.at`, `tick(now)`); nothing sleeps, nothing talks (docs/incidents.md).

    correlator = Correlator(topology)
    correlator.observe(Symptom(12.0, "link_down", "DC1-DC2-a", detail="DC1 reports it"))
    correlator.observe(Symptom(12.1, "link_down", "DC1-DC2-b"))
    correlator.tick(13.2)   # nothing new for settle_s: located, root cause srlg conduit-dc1-dc2

Grouping: a link that goes down joins the open incident whose root cause takes it down, else an
open incident it is related to (a shared router, SRLG or line card) whose last symptom is at
most `window_s` old, else an incident identified at most `late_s` ago whose links and this one
complete an SRLG, line card or router, else it opens a new incident (identified).

Root cause: `CauseIndex.explain` on the incident's links, again after every symptom; the
incident is *located* once no symptom has joined it for `settle_s` (or `locate_by_s` after it
opened); if its links then need more than one cause, each further cause is split off as an
incident of its own. An incident whose root cause explains another open incident's links
absorbs it. Resolved when all its links are up, its routers reachable and its loss alarms
cleared; reopened when one of its links goes down again within `reopen_s`.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from controller.incident_causes import RANKED, CauseIndex, Seen
from controller.incident_model import Cause, Change, Incident, Symptom, incident_number
from controller.topology import Topology

MAX_EVIDENCE = 200
"""Symptoms kept per incident (the first ones: the cause is in them; later flaps are counted)."""


@dataclass(frozen=True)
class CorrelatorConfig:
    window_s: float = 2.0
    """A related symptom this soon after an incident's last one joins it."""
    settle_s: float = 1.0
    """An incident is located once no symptom has joined it for this long ..."""
    locate_by_s: float = 4.0
    """... or this long after it was identified, whichever comes first."""
    history: int = 500
    """Resolved incidents kept."""
    reopen_s: float = 10.0
    """A link going down again this soon after its incident resolved reopens it."""
    late_s: float = 30.0
    """A link whose down completes an SRLG, line card or router together with the links of an
    incident identified at most this long ago joins it, however late (reports of one cut can
    reach the engine seconds apart: polled signals are handed over one reconcile at a time)."""


class Correlator:
    def __init__(self, topology: Topology, config: CorrelatorConfig | None = None) -> None:
        self.index = CauseIndex(topology)
        self.config = config or CorrelatorConfig()
        self.open: dict[str, Incident] = {}
        self.history: deque[Incident] = deque(maxlen=self.config.history)
        self.down: dict[str, float] = {}
        self.unreachable: dict[str, float] = {}
        self.pending: deque[Symptom] = deque(maxlen=1000)
        """SLA misses no incident explains yet (kept `window_s`, then dropped)."""
        self.ignored = 0
        """Symptoms about links or devices the topology does not have."""
        self.restored: dict[str, float] = {}
        """Open incidents read back after a restart, with when: each must be heard of again."""
        self._next = 1

    # -- views -------------------------------------------------------------------------------
    def incidents(self) -> list[Incident]:
        """Open incidents (oldest first), then resolved ones (newest first)."""
        return [*self.open.values(), *reversed(self.history)]

    def restore(self, incidents: Iterable[Incident], now: float) -> None:
        """Carry on with the incidents a previous run kept (`controller.incident_record`):
        the open ones open again, the resolved ones in the history, ids counted on from the
        highest. An open one that no symptom joins within `late_s` (the routers re-report a
        link still down at their first update) is resolved: its links came back meanwhile."""
        kept = list(incidents)
        for inc in kept:
            if inc.state == "open":
                self.open[inc.id] = inc
                self.restored[inc.id] = now
        done = [i for i in kept if i.state == "resolved"]
        self.history.extend(sorted(done, key=lambda i: i.resolved_at or 0.0))
        self._next = max((incident_number(i.id) for i in kept), default=0) + 1

    # -- input -------------------------------------------------------------------------------
    def observe(self, symptom: Symptom) -> list[Change]:
        changes = self.tick(symptom.at)
        handler = {
            "link_down": self._link_down,
            "link_up": self._link_up,
            "loss": self._loss,
            "loss_clear": self._loss_clear,
            "sla_miss": self._sla_miss,
            "unreachable": self._unreachable,
            "reachable": self._reachable,
        }[symptom.kind]
        handler(symptom, changes)
        return changes

    def tick(self, now: float) -> list[Change]:
        """Locate the incidents that have settled; drop SLA misses nothing explained."""
        changes: list[Change] = []
        cfg = self.config
        self._expire_restored(now, changes)
        for inc in list(self.open.values()):
            quiet = now - inc.last_symptom >= cfg.settle_s
            late = now - inc.identified_at >= cfg.locate_by_s
            if inc.located_at is None and inc.id in self.open and (quiet or late):
                self._locate(inc, now, changes)
        while self.pending and now - self.pending[0].at > cfg.window_s:
            self.pending.popleft()
        return changes

    # -- symptoms ----------------------------------------------------------------------------
    def _link_down(self, s: Symptom, changes: list[Change]) -> None:
        link = s.subject
        if not self.index.knows(link):
            self.ignored += 1
            return
        again = link in self.down
        self.down.setdefault(link, s.at)
        inc = self._home(link, s.at) or self._completed(link, s.at)
        if inc is None:
            if again:  # the other end of a link already explained and resolved meanwhile
                return
            inc = self._reopened(link, s.at, changes) or self._new(s.at, changes)
        self._add(inc, s)
        inc.links.add(link)
        inc.lossy.discard(link)  # a loss alarm on a link that then went down: the down wins
        self._claim_pending(inc)
        self._infer(inc, s.at, changes)

    def _link_up(self, s: Symptom, changes: list[Change]) -> None:
        self.down.pop(s.subject, None)
        for inc in list(self.open.values()):
            if s.subject in inc.links:
                self._add(inc, s)
                self._maybe_resolve(inc, s.at, changes)

    def _loss(self, s: Symptom, changes: list[Change]) -> None:
        if not self.index.knows(s.subject):
            self.ignored += 1
            return
        inc = self._home(s.subject, s.at) or self._new(s.at, changes)
        self._add(inc, s)
        inc.lossy.add(s.subject)
        self._infer(inc, s.at, changes)

    def _loss_clear(self, s: Symptom, changes: list[Change]) -> None:
        for inc in list(self.open.values()):
            if s.subject in inc.lossy:
                inc.lossy.discard(s.subject)
                self._add(inc, s)
                self._maybe_resolve(inc, s.at, changes)

    def _sla_miss(self, s: Symptom, _changes: list[Change]) -> None:
        inc = self._explaining(s)
        if inc is None:
            self.pending.append(s)
        else:
            self._add(inc, s)

    def _unreachable(self, s: Symptom, changes: list[Change]) -> None:
        node = self.index.node(s.subject)
        if node is None:
            self.ignored += 1
            return
        self.unreachable[s.subject] = s.at
        inc = next(
            (i for i in self._newest() if i.links & node.members or s.subject in i.devices), None
        )
        if inc is None:
            inc = self._new(s.at, changes)
        self._add(inc, s)
        inc.devices.add(s.subject)
        self._infer(inc, s.at, changes)

    def _reachable(self, s: Symptom, changes: list[Change]) -> None:
        self.unreachable.pop(s.subject, None)
        for inc in list(self.open.values()):
            if s.subject in inc.devices:
                self._add(inc, s)
                self._maybe_resolve(inc, s.at, changes)

    # -- grouping ----------------------------------------------------------------------------
    def _newest(self) -> list[Incident]:
        return sorted(self.open.values(), key=lambda i: -i.last_symptom)

    def _home(self, link: str, at: float) -> Incident | None:
        """The open incident `link` belongs to: the one whose root cause takes it down, else a
        related one still grouping (last symptom within `window_s`)."""
        for inc in self._newest():
            if link in inc.links or (inc.root is not None and link in inc.root.members):
                return inc
        for inc in self._newest():
            fresh = at - inc.last_symptom <= self.config.window_s
            if fresh and self.index.related(link, inc.links | inc.lossy, inc.devices):
                return inc
        return None

    def _reopened(self, link: str, at: float, changes: list[Change]) -> Incident | None:
        """The incident holding `link` resolved at most `reopen_s` ago, open again: a flap,
        or a report of the cut that reached the engine after the repair's."""
        for inc in reversed(self.history):
            resolved = inc.resolved_at if inc.resolved_at is not None else -math.inf
            if at - resolved > self.config.reopen_s:
                break
            if link in inc.links:
                self.history.remove(inc)
                inc.state, inc.resolved_at = "open", None
                inc.reopened += 1
                self.open[inc.id] = inc
                changes.append(Change("reopened", inc.id, at, f"reopened: {inc.summary()}"))
                return inc
        return None

    def _completed(self, link: str, at: float) -> Incident | None:
        """The oldest open incident, identified within `late_s`, holding other members of an
        SRLG, line card or router that `link` going down completes."""
        found: list[Incident] = []
        for cand in self.index.of_link.get(link, []):
            if not cand.members <= self.down.keys():
                continue
            others = cand.members - {link}
            found += [
                inc
                for inc in self.open.values()
                if inc.links & others and at - inc.identified_at <= self.config.late_s
            ]
        return min(found, key=lambda i: i.identified_at, default=None)

    def _explaining(self, s: Symptom) -> Incident | None:
        wanted = set(s.links)
        for inc in self._newest():
            members = inc.root.members if inc.root is not None else frozenset()
            if wanted & (inc.links | inc.lossy | members):
                return inc
        return None

    def _claim_pending(self, inc: Incident) -> None:
        keep: deque[Symptom] = deque(maxlen=self.pending.maxlen)
        for s in self.pending:
            if set(s.links) & (inc.links | inc.lossy):
                self._add(inc, s)
            else:
                keep.append(s)
        self.pending = keep

    def _new(self, at: float, changes: list[Change]) -> Incident:
        inc = Incident(f"inc-{self._next}", identified_at=at, first_seen=at, last_symptom=at)
        self._next += 1
        self.open[inc.id] = inc
        changes.append(Change("opened", inc.id, at, f"{inc.id} opened"))
        return inc

    def _add(self, inc: Incident, s: Symptom) -> None:
        inc.first_seen = min(inc.first_seen, s.at)
        if s.kind != "sla_miss":
            inc.last_symptom = max(inc.last_symptom, s.at)
        if len(inc.evidence) < MAX_EVIDENCE:
            bisect.insort(inc.evidence, s, key=lambda e: e.at)  # in time order

    # -- root cause --------------------------------------------------------------------------
    def _seen(self) -> Seen:
        return Seen(self.down, self.unreachable)

    def _infer(self, inc: Incident, at: float, changes: list[Change]) -> None:
        seen = self._seen()
        causes = self.index.explain(inc.links, inc.devices, seen)
        before = inc.root.key if inc.root is not None else None
        inc.root = causes[0] if causes else _loss_cause(inc)
        self._rank(inc)
        if inc.root is not None and len(causes) == 1:
            self._absorb(inc, at, changes)
        if inc.located_at is None:
            return
        if len(causes) > 1:
            self._split(inc, at, changes)
        if inc.root is not None and inc.root.key != before:
            inc.revisions += 1
            inc.located_at = at
            changes.append(Change("relocated", inc.id, at, f"root cause now: {inc.summary()}"))

    def _locate(self, inc: Incident, now: float, changes: list[Change]) -> None:
        self._infer(inc, now, changes)
        if inc.id not in self.open:  # absorbed by an older incident
            return
        inc.located_at = now
        self._split(inc, now, changes)
        changes.append(Change("located", inc.id, now, inc.summary()))

    def _split(self, inc: Incident, now: float, changes: list[Change]) -> None:
        """Give every cause after the first an incident of its own."""
        causes = self.index.explain(inc.links, inc.devices, self._seen())
        for cause in causes[1:]:
            moved = inc.links & cause.members
            other = self._new(now, changes)
            other.links = set(moved)
            other.evidence = [s for s in inc.evidence if set(s.touches) & moved]
            other.first_seen = min((s.at for s in other.evidence), default=now)
            other.last_symptom = max((s.at for s in other.evidence), default=now)
            inc.links -= moved
            inc.evidence = [s for s in inc.evidence if not moved.issuperset(s.touches or ("",))]
            self._infer(other, now, changes)
            other.located_at = now
            changes.append(Change("located", other.id, now, f"split from {inc.id}: "
                                  f"{other.summary()}"))  # fmt: skip
        if causes:
            inc.root = self.index.explain(inc.links, inc.devices, self._seen())[0]
            self._rank(inc)

    def _rank(self, inc: Incident) -> None:
        """The candidates, the root cause first."""
        ranked = self.index.rank(inc.links, inc.devices, self._seen())
        if inc.root is not None:
            ranked = [inc.root, *(c for c in ranked if c.key != inc.root.key)]
        inc.ranking = ranked[:RANKED]

    def _absorb(self, inc: Incident, at: float, changes: list[Change]) -> None:
        """Open incidents whose links `inc`'s root cause takes down join it (the older one
        survives, keeping its id and identification time)."""
        assert inc.root is not None
        for other in list(self.open.values()):
            if other is inc or not other.links or not other.links <= inc.root.members:
                continue
            if other.devices - {inc.root.where}:
                continue
            keep, gone = (inc, other) if inc.identified_at <= other.identified_at else (other, inc)
            keep.links |= gone.links
            keep.devices |= gone.devices
            keep.lossy |= gone.lossy
            keep.evidence = sorted(keep.evidence + gone.evidence, key=lambda s: s.at)
            keep.evidence = keep.evidence[:MAX_EVIDENCE]
            keep.first_seen = min(keep.first_seen, gone.first_seen)
            keep.last_symptom = max(keep.last_symptom, gone.last_symptom)
            keep.root = inc.root
            del self.open[gone.id]
            changes.append(Change("merged", gone.id, at, f"{gone.id} merged into {keep.id}"))
            if keep is not inc:
                return self._infer(keep, at, changes)
        return None

    # -- resolution --------------------------------------------------------------------------
    def _expire_restored(self, now: float, changes: list[Change]) -> None:
        for incident_id, since in list(self.restored.items()):
            inc = self.open.get(incident_id)
            if inc is not None and inc.last_symptom >= since:
                del self.restored[incident_id]  # heard of again: live
            elif inc is None or now - since >= self.config.late_s:
                del self.restored[incident_id]
                if inc is not None:
                    self._close(inc, now, changes, "not reported again after the restart")

    def _maybe_resolve(self, inc: Incident, at: float, changes: list[Change]) -> None:
        if any(link in self.down for link in inc.links) or inc.lossy:
            return
        if any(d in self.unreachable for d in inc.devices):
            return
        if inc.located_at is None:  # resolved before it settled: name the cause now
            self._locate(inc, at, changes)
        self._close(inc, at, changes)

    def _close(self, inc: Incident, at: float, changes: list[Change], why: str = "") -> None:
        inc.state, inc.resolved_at = "resolved", at
        self.open.pop(inc.id, None)
        self.restored.pop(inc.id, None)
        self.history.append(inc)
        text = f"resolved: {inc.summary()}" + (f" ({why})" if why else "")
        changes.append(Change("resolved", inc.id, at, text))


def _loss_cause(inc: Incident) -> Cause | None:
    """No link down, no router away: the lossy link (the first, by name), if any."""
    if not inc.lossy:
        return None
    link = min(inc.lossy)
    return Cause("link", link, frozenset({link}), 0, 1.0, 1.0 / len(inc.lossy))
