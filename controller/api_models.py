"""The REST API's request and response bodies, as pydantic models.

Requests are validated with them; responses are built by `controller.service` and the store as
plain dicts and documented by these models (the OpenAPI document is generated from them, and
`tests/test_api_schemathesis.py` checks every response against it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controller.intents import NAME_PATTERN, Intent, IntentState, ServiceClass

MAX_SET = 100_000
"""The most intents one `/v1/apply` or `/v1/plan` body may hold."""


# -- requests --------------------------------------------------------------------------------
class IntentPut(Intent):
    """An intent plus, optionally, the version the client last read (409 if it moved on)."""

    version: int | None = Field(default=None, ge=0, le=2**62)

    def bare(self) -> Intent:
        return Intent.model_validate(self.model_dump(exclude={"version"}))


class IntentSet(BaseModel):
    """A declarative set of intents (`prune`: delete the stored intents it leaves out)."""

    model_config = ConfigDict(extra="forbid")
    intents: list[Intent] = Field(default=[], max_length=MAX_SET)
    prune: bool = False


class PathQuery(Intent):
    """A what-if: the intent fields, name optional."""

    name: str = Field(default="what-if", pattern=NAME_PATTERN)


# -- errors ----------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Every error but 422: one line saying what is wrong and what to do."""

    detail: str


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the field, e.g. `intents.3.bandwidth`")
    message: str


class InvalidBody(BaseModel):
    """422: `detail` is the first problem as `field: message`; `errors` lists them all."""

    detail: str
    errors: list[FieldError] = Field(min_length=1)


# -- health ----------------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    cause: str | None = Field(default=None, description="why (not) ready")


# -- intents ---------------------------------------------------------------------------------
class IntentSummary(BaseModel):
    name: str
    state: IntentState
    reason: str
    version: int = Field(ge=0)
    color: int
    service_class: ServiceClass
    updated_at: float = Field(description="unix time")
    spec: Intent = Field(description="the intent as stored (class defaults left out)")


class IntentWritten(IntentSummary):
    changed: bool = Field(description="false when the body equals the stored spec (no new version)")


class PathView(BaseModel):
    nodes: list[str]
    links: list[str]
    sids: list[str]
    latency_ms: float
    cost: float
    hops: int


class SlaAsked(BaseModel):
    max_latency_ms: float | None
    max_loss: float | None


class SlaPlanned(BaseModel):
    latency_ms: float
    loss: float


class SlaMeasured(BaseModel):
    latency_ms: float
    loss: float | None
    age_s: float | None
    source: Literal["telemetry"]


class SlaView(BaseModel):
    asked: SlaAsked
    planned: SlaPlanned | None
    measured: SlaMeasured | None


class HistoryEntry(BaseModel):
    at: float
    state: IntentState
    reason: str


class IntentStatus(BaseModel):
    name: str
    state: IntentState
    reason: str
    version: int
    color: int
    service_class: ServiceClass
    priority: int
    dscp: int
    bandwidth_bps: float
    sla: SlaView
    primary: PathView | None
    backup: PathView | None
    shared_risks: list[str] | None = Field(default=None, description="only when placed")
    history: list[HistoryEntry]


Action = Literal["create", "update", "delete", "unchanged"]


class Change(BaseModel):
    name: str
    action: Action


class ApplyResult(BaseModel):
    changes: list[Change]


class SectionDiff(BaseModel):
    added: list[str] | None = None
    removed: list[str] | None = None
    changed: list[str] | None = None


class PlanResult(BaseModel):
    changes: list[Change]
    unplaced: dict[str, str] = Field(description="intent -> why it would not be placed")
    waiting: list[str] = Field(description="intents outside their time window now")
    moved: list[str]
    devices: dict[str, dict[str, SectionDiff | list[str]]] = Field(
        description="device -> section (sr_policies, steering, qos) -> added / removed / "
        'changed keys; `{"changed": ["device"]}` when only the device as a whole differs'
    )


class Placed(BaseModel):
    placed: Literal[True]
    src: str
    dst: str
    primary: PathView
    backup: PathView | None


class NotPlaced(BaseModel):
    placed: Literal[False]
    reason: str


# -- network ---------------------------------------------------------------------------------
class NodeView(BaseModel):
    name: str
    index: int
    role: str
    node_sid: str
    loopback: str


class LinkView(BaseModel):
    id: str
    src: str
    dst: str
    capacity_bps: float
    delay_ms: float
    igp_metric: int
    state: str


class TopologyView(BaseModel):
    name: str
    nodes: list[NodeView]
    links: list[LinkView]


class Revision(BaseModel):
    id: int
    created_at: float
    txid: str
    status: str
    cause: str
    devices: int
    diff: dict[str, dict[str, SectionDiff | list[str]]]
    error: str = Field(description="empty when committed")


class RevisionDetail(Revision):
    configs: dict[str, dict[str, object]] = Field(description="device -> its full config")


class Event(BaseModel):
    at: float
    kind: str
    cause: str
    detail: str


class AuditEntry(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: str


class Telemetry(BaseModel):
    enabled: bool
    reason: str | None = Field(default=None, description="why off (without --inventory)")
    rounds: int | None = None
    interval_s: float | None = None
    step_s: float | None = None
    last_round_s: float | None = None
    inference_skipped: int | None = None
    stale: dict[str, str] | None = Field(default=None, description="device -> why stale")
    models: str | None = None
