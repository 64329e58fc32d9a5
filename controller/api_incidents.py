"""`GET /v1/incidents`: the correlator's incidents, open first (docs/incidents.md).

Behind the token like every /v1 route. `state` filters (open, resolved, all), `limit` caps the
list. A controller without telemetry (no --inventory) has no correlator and answers [].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from controller.api_openapi import errors


class CauseView(BaseModel):
    kind: Literal["srlg", "linecard", "node", "link"]
    name: str
    confidence: float = Field(description="0-1: links explained x members seen down, shared")
    explains: int = Field(description="the incident's down links this cause takes down")
    members: list[str] = Field(description="every link this cause takes down")
    members_down: float = Field(description="share of the members seen down")
    router: str | None = Field(default=None, description="the router of a node or line card")


class MeasuredView(BaseModel):
    latency_ms: float | None = Field(description="the path's one-way latency (null: unreachable)")
    loss: float = Field(description="the path's loss ratio (1.0: unreachable)")


class SlaView(BaseModel):
    max_latency_ms: float | None = Field(description="the intent's bound (null: none)")
    max_loss: float | None = Field(description="the intent's bound (null: none)")


class EvidenceView(BaseModel):
    at: float
    kind: Literal[
        "link_down", "link_up", "loss", "loss_clear", "sla_miss", "unreachable", "reachable"
    ]
    subject: str = Field(description="the link, the device or (sla_miss) the intent")
    links: list[str] | None = Field(default=None, description="an SLA miss: its path's links")
    detail: str | None = None
    reason: Literal["latency", "loss", "unreachable"] | None = Field(
        default=None, description="an SLA miss: what broke its SLA"
    )
    source: Literal["telemetry", "link-state", "probes"] | None = Field(
        default=None, description="an SLA miss: who measured it"
    )
    measured: MeasuredView | None = Field(default=None, description="an SLA miss: its path now")
    sla: SlaView | None = Field(default=None, description="an SLA miss: the intent's SLA")


class IncidentView(BaseModel):
    id: str
    state: Literal["open", "resolved"]
    root_cause: CauseView | None = Field(description="the probable root cause; null: none yet")
    ranking: list[CauseView] = Field(description="candidates, best first (root cause among them)")
    first_seen: float = Field(description="Unix time of the earliest symptom")
    identified_at: float = Field(description="when the incident was opened")
    located_at: float | None = Field(description="when its root cause was named")
    resolved_at: float | None
    links: list[str] = Field(description="links seen down in it")
    devices: list[str] = Field(description="routers seen unreachable in it")
    revisions: int = Field(description="times the root cause changed after it was located")
    reopened: int = Field(description="times a link of it went down again soon after it resolved")
    evidence: list[EvidenceView]


Source = Callable[[], Any]
"""Returns the runtime's `IncidentService`, or None without one."""


def incident_routes(source: Source) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["incidents"])

    @router.get("/incidents", response_model=list[IncidentView], responses=errors(422))
    async def incidents(
        state: Annotated[Literal["open", "resolved", "all"], Query()] = "all",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSONResponse:
        """Incidents: open ones oldest first, then resolved ones newest first."""
        service = source()
        return JSONResponse([] if service is None else service.view(state, limit))

    return router
