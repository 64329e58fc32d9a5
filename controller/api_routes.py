"""The /v1 routes. Each handler does its blocking part on a worker thread (`Work`): reading and
validating the body, the store, checks against the topology, plans; only `engine.notify` and
cheap reads of in-memory state run on the event loop. Responses are rendered to JSON on the
worker thread too (a 100,000-intent plan is megabytes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from controller.api_models import (
    ApplyResult,
    AuditEntry,
    Event,
    IntentPut,
    IntentSet,
    IntentStatus,
    IntentSummary,
    IntentWritten,
    NotPlaced,
    PathQuery,
    Placed,
    PlanResult,
    Revision,
    RevisionDetail,
    Telemetry,
    TopologyView,
)
from controller.api_openapi import body, errors
from controller.api_work import BigJSON, Work
from controller.discovery_watch import TopologyDiffView, diff_view
from controller.engine import Engine
from controller.errors import NetpilotError
from controller.gradual import release, release_all
from controller.intents import NAME_PATTERN, Intent
from controller.service import intent_status, topology_view, what_if
from controller.store_api import IntentStore

Name = Annotated[str, PathParam(pattern=NAME_PATTERN, description="the intent's name")]
IfMatch = Annotated[
    str | None,
    Header(description='the version last read, e.g. `"3"` (409 if the intent moved on)'),
]


class FieldInvalid(NetpilotError):
    """A field of the request is wrong (422 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        self.problems = [f"{field}: {message}"]
        super().__init__(self.problems[0])


def _version(if_match: str | None, body: int | None) -> int | None:
    if if_match is None:
        return body
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise FieldInvalid("If-Match", 'expected the intent version, e.g. If-Match: "3"')
    return int(text)


def _etag(content: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(content, status, headers={"ETag": f'"{content["version"]}"'})


ETAG = {"ETag": {"description": 'the version, e.g. `"3"`', "schema": {"type": "string"}}}


def intent_routes(engine: Engine, work: Work, live: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["intents"])
    store = engine.store

    @router.get("/intents", response_model=list[IntentSummary])
    async def list_intents() -> JSONResponse:
        return await work.run(_list, store)

    @router.post(
        "/intents",
        status_code=201,
        response_model=IntentSummary,
        responses=errors(409, 422),
        openapi_extra=body(Intent),
    )
    async def create_intent(request: Request) -> JSONResponse:
        raw, view = await request.body(), engine.snapshot()
        response, name = await work.run(_create, view, store, raw)
        engine.notify(f"api: create {name}")
        return response

    @router.get(
        "/intents/{name}",
        response_model=IntentSummary,
        responses={200: {"headers": ETAG}, **errors(404, 422)},
    )
    async def get_intent(name: Name) -> JSONResponse:
        return await work.run(lambda: _etag(store.get_intent(name).summary()))

    @router.put(
        "/intents/{name}",
        response_model=IntentWritten,
        responses={200: {"headers": ETAG}, **errors(409, 422)},
        openapi_extra=body(IntentPut),
    )
    async def put_intent(name: Name, request: Request, if_match: IfMatch = None) -> JSONResponse:
        raw, view = await request.body(), engine.snapshot()
        response, changed = await work.run(_put, view, store, name, raw, if_match)
        if changed:
            engine.notify(f"api: update {name}")
        return response

    @router.delete(
        "/intents/{name}",
        status_code=202,
        response_model=IntentSummary,
        responses=errors(404, 409, 422),
    )
    async def delete_intent(name: Name, if_match: IfMatch = None) -> JSONResponse:
        expected = _version(if_match, None)
        record = await work.run(lambda: store.delete_intent(name, expected, actor="api"))
        engine.notify(f"api: delete {name}")
        return JSONResponse(record.summary(), 202)

    @router.get("/intents/{name}/status", response_model=IntentStatus, responses=errors(404, 422))
    async def status(name: Name) -> JSONResponse:
        view, measure = engine.snapshot(), None if live is None else live.measured
        return await work.run(lambda: JSONResponse(intent_status(view, name, measure=measure)))

    @router.post(
        "/apply",
        response_model=ApplyResult,
        responses=errors(422, 503),
        openapi_extra=body(IntentSet, "The intents to hold; `prune` deletes the others."),
    )
    async def apply(request: Request) -> JSONResponse:
        with work.admit():
            raw, view = await request.body(), engine.snapshot()
            response, changed = await work.plan(_apply, view, store, raw)
        if changed:
            engine.notify("api: apply")
        return response

    return router


def _list(store: IntentStore) -> JSONResponse:
    rows = [r.summary() for r in store.list_intents()]
    response = BigJSON(rows)
    release_all(rows)
    return response


def _create(view: Engine, store: IntentStore, raw: bytes) -> tuple[JSONResponse, str]:
    intent = view.check(Intent.model_validate_json(raw))
    record, _ = store.put_intent(intent, actor="api", create_only=True)
    return JSONResponse(record.summary(), 201), intent.name


def _put(
    view: Engine, store: IntentStore, name: str, raw: bytes, if_match: str | None
) -> tuple[JSONResponse, bool]:
    body = IntentPut.model_validate_json(raw)
    if body.name != name:
        raise FieldInvalid("name", f"body says {body.name!r}, the URL {name!r}")
    expected = _version(if_match, body.version)
    record, changed = store.put_intent(view.check(body.bare()), expected, actor="api")
    return _etag({**record.summary(), "changed": changed}), changed


def _apply(view: Engine, store: IntentStore, raw: bytes) -> tuple[JSONResponse, bool]:
    body = IntentSet.model_validate_json(raw)
    view.check_set(body.intents, view.live_intent)  # disjoint_from may name one of the set
    changes = store.apply_intents(body.intents, prune=body.prune, actor="api")
    content = {"changes": [{"name": c.name, "action": c.action} for c in changes]}
    changed = any(c.action != "unchanged" for c in changes)
    response = BigJSON(content)
    for big in (changes, body.intents):
        release(big)
    release_all(content)
    return response, changed


def network_routes(engine: Engine, work: Work, live: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["network"])
    store = engine.store

    @router.get("/topology", response_model=TopologyView)
    async def topology() -> JSONResponse:
        view = engine.topology
        return await work.run(lambda: JSONResponse(topology_view(view)))

    @router.post(
        "/paths:compute",
        response_model=Placed | NotPlaced,
        responses=errors(422, 503),
        openapi_extra=body(PathQuery, "The intent to place (name optional); changes nothing."),
    )
    async def compute(request: Request) -> JSONResponse:
        with work.admit():
            raw, view = await request.body(), engine.snapshot()
            return await work.plan(_what_if, view, raw)

    @router.post(
        "/plan",
        response_model=PlanResult,
        responses=errors(422, 503),
        openapi_extra=body(IntentSet, "The set to plan; `prune` plans deletions too."),
    )
    async def plan(request: Request) -> JSONResponse:
        with work.admit():
            raw, view = await request.body(), engine.snapshot()
            return await work.plan(_plan, view, raw)

    @router.get("/revisions", response_model=list[Revision], responses=errors(422))
    async def revisions(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> JSONResponse:
        return await work.run(lambda: JSONResponse(store.revisions(limit)))

    @router.get("/revisions/{revision}", response_model=RevisionDetail, responses=errors(404, 422))
    async def revision(revision: Annotated[int, PathParam(ge=1, le=2**62)]) -> JSONResponse:
        return await work.run(lambda: JSONResponse(store.revision(revision)))

    @router.get("/events", response_model=list[Event], responses=errors(422))
    async def events(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        since: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    ) -> JSONResponse:
        """The latest `limit` engine events, oldest first; with `since`, only those after it."""
        chosen = [e for e in list(engine.events) if since is None or e.at > since]
        return JSONResponse(
            [
                {"at": e.at, "kind": e.kind, "cause": e.cause, "detail": e.detail}
                for e in chosen[-limit:]
            ]
        )

    @router.get("/audit", response_model=list[AuditEntry], responses=errors(422))
    async def audit(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
        return await work.run(lambda: JSONResponse(store.audit_log(limit)))

    @router.get("/topology/diff", response_model=TopologyDiffView)
    async def topology_diff() -> JSONResponse:
        """Where the routers' LLDP neighbour tables and the topology file disagree."""
        return JSONResponse(diff_view(live))

    @router.get("/telemetry", response_model=Telemetry)
    async def telemetry() -> JSONResponse:
        if live is None:
            off = {"enabled": False, "reason": "no --inventory: in-memory devices, no telemetry"}
            return JSONResponse(off)
        return JSONResponse({"enabled": True, **live.describe()})

    return router


def _what_if(view: Engine, raw: bytes) -> JSONResponse:
    query = PathQuery.model_validate_json(raw)
    intent = view.check(Intent.model_validate(query.model_dump()))
    return JSONResponse(what_if(view, intent))


def _plan(view: Engine, raw: bytes) -> JSONResponse:
    body = IntentSet.model_validate_json(raw)
    content = view.plan(body.intents, body.prune)
    response = BigJSON(content)
    release(body.intents)
    release_all(content)
    return response
