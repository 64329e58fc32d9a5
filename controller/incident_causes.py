"""Candidate root causes from the topology, and which of them explain a set of down links.

Every physical link belongs to several candidates: itself (`link`), its two routers (`node`: all
of a router's links), each of its SRLGs (`srlg`: a duct, a conduit, a power feed) and its line
cards (`linecard`: an SRLG named `card:ROUTER/SLOT`, the links that leave ROUTER through that
card; docs/topology-format.md). A cut of a candidate takes down all its members at once.

`CauseIndex.explain` picks the causes of an incident (docs/incidents.md, "Root cause"): a
candidate may be named only when every one of its members is down (a node also when it is
unreachable and at least one of its links is down); among those, the one that explains most of
the incident's down links wins, ties going to the more specific (fewer members), then line card
before SRLG before node before link. What it leaves unexplained is explained again the same way,
so two independent faults give two causes (a greedy set cover).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from controller.incident_model import Cause, CauseKind
from controller.topology import Topology

CARD_PREFIX = "card:"
KIND_ORDER: dict[CauseKind, int] = {"linecard": 0, "srlg": 1, "node": 2, "link": 3}
RANKED = 5
"""Candidates an incident lists (the root cause first)."""


def card_router(srlg: str) -> str | None:
    """The router of a line-card SRLG `card:ROUTER/SLOT` (None: an ordinary SRLG)."""
    if not srlg.startswith(CARD_PREFIX):
        return None
    router, _, _slot = srlg[len(CARD_PREFIX) :].rpartition("/")
    return router or None


@dataclass(frozen=True)
class Candidate:
    kind: CauseKind
    name: str
    members: frozenset[str]
    where: str = ""


@dataclass(frozen=True)
class Seen:
    """What is known when causes are chosen: links down now (anywhere) and unreachable routers."""

    down: Collection[str]
    unreachable: Collection[str] = ()


class CauseIndex:
    def __init__(self, topology: Topology) -> None:
        self.ends: dict[str, tuple[str, str]] = {}
        groups: dict[tuple[CauseKind, str], set[str]] = {}
        where: dict[tuple[CauseKind, str], str] = {}
        for link_id, directed in topology.physical_links().items():
            first = directed[0]
            self.ends[link_id] = (first.src, first.dst)
            for node in (first.src, first.dst):
                groups.setdefault(("node", node), set()).add(link_id)
                where[("node", node)] = node
            for srlg in first.srlgs:
                router = card_router(srlg)
                if router is not None and router in (first.src, first.dst):
                    groups.setdefault(("linecard", srlg), set()).add(link_id)
                    where[("linecard", srlg)] = router
                else:
                    groups.setdefault(("srlg", srlg), set()).add(link_id)
        self.candidates = {
            key: Candidate(key[0], key[1], frozenset(links), where.get(key, ""))
            for key, links in groups.items()
        }
        self.of_link: dict[str, list[Candidate]] = {link: [] for link in self.ends}
        for cand in self.candidates.values():
            for link in cand.members:
                self.of_link[link].append(cand)

    def knows(self, link: str) -> bool:
        return link in self.ends

    def node(self, name: str) -> Candidate | None:
        return self.candidates.get(("node", name))

    def link(self, link: str) -> Candidate:
        return Candidate("link", link, frozenset({link}))

    def related(self, link: str, links: Iterable[str], devices: Iterable[str] = ()) -> bool:
        """Whether `link` shares a router, an SRLG or a line card with any of `links`, or ends
        at one of `devices`."""
        mine = {(c.kind, c.name) for c in self.of_link.get(link, [])}
        if any(("node", d) in mine for d in devices):
            return True
        return any((c.kind, c.name) in mine for other in links for c in self.of_link.get(other, []))

    def touching(self, links: Iterable[str], devices: Iterable[str]) -> list[Candidate]:
        out: dict[tuple[str, str], Candidate] = {}
        for link in links:
            out[("link", link)] = self.link(link)
            for cand in self.of_link.get(link, []):
                out[(cand.kind, cand.name)] = cand
        for device in devices:
            node = self.node(device)
            if node is not None:
                out[("node", device)] = node
        return list(out.values())

    def rank(self, links: Collection[str], devices: Collection[str], seen: Seen) -> list[Cause]:
        """Every candidate touching the incident, scored (`confidence` = share of the
        incident's down links it explains x share of its members seen down), best first;
        the ones that may be named (`eligible`) before the others."""
        scored = [_score(c, links, devices, seen) for c in self.touching(links, devices)]
        return sorted(scored, key=lambda c: (not _eligible(c, devices), _order(c)))

    def explain(self, links: Collection[str], devices: Collection[str], seen: Seen) -> list[Cause]:
        """The causes of an incident's down `links` (and unreachable `devices`): a greedy cover
        by eligible candidates (see the module docstring); [] when nothing is down or away."""
        left, causes = set(links), []
        pool = [c for c in self.rank(links, devices, seen) if _eligible(c, devices)]
        while left:
            best = min(pool, key=lambda c: _pick(c, left, devices))
            if not best.members & left:
                break
            causes.append(best)
            left -= best.members
        if not causes and devices:  # routers away, no link down: the routers themselves
            nodes = [c for c in pool if c.kind == "node"]
            causes = sorted(nodes, key=lambda c: c.name)[:1]
        return _confident(causes, pool, len(links))


def _score(cand: Candidate, links: Collection[str], devices: Collection[str], seen: Seen) -> Cause:
    explains = len(cand.members & set(links))
    down = set(seen.down) | set(links)
    share = len(cand.members & down) / len(cand.members) if cand.members else 0.0
    confidence = (explains / len(links) if links else 0.0) * share
    if cand.kind == "node" and cand.where in devices:
        confidence = max(confidence, 0.5)
    return Cause(cand.kind, cand.name, cand.members, explains, share, confidence, cand.where)


def _eligible(cause: Cause, devices: Collection[str]) -> bool:
    if cause.kind == "link":
        return cause.explains > 0
    if cause.kind == "node" and cause.where in devices:
        return True
    return cause.seen >= 1.0 and cause.explains > 0 and len(cause.members) > 1


def _pick(cause: Cause, left: set[str], devices: Collection[str]) -> tuple[int, int, int, int, str]:
    """Most of the unexplained links first; then a router that is away; then the more
    specific candidate; then line card, SRLG, node, link."""
    away = 0 if cause.kind == "node" and cause.where in devices else 1
    size, kind, name = len(cause.members), KIND_ORDER[cause.kind], cause.name
    return (-len(cause.members & left), away, size, kind, name)


def _order(cause: Cause) -> tuple[float, int, int, str]:
    return (-cause.confidence, len(cause.members), KIND_ORDER[cause.kind], cause.name)


def _confident(causes: list[Cause], pool: list[Cause], total: int) -> list[Cause]:
    """Each cause's confidence: its share of the down links it explains x its members seen
    down, divided among candidates that explain exactly the same links (no way to tell them
    apart from link state alone)."""
    out = []
    for cause in causes:
        twins = sum(1 for c in pool if c.members == cause.members and c.key != cause.key)
        base = cause.explains / total if total else cause.confidence
        conf = base * (cause.seen if total else 1.0) / (1 + twins)
        out.append(
            Cause(cause.kind, cause.name, cause.members, cause.explains, cause.seen, conf,
                  cause.where)
        )  # fmt: skip
    return out
