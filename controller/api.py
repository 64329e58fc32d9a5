"""The northbound REST API (FastAPI). `create_app` builds it; nothing global.

Everything under /v1 needs `Authorization: Bearer <token>` (constant-time compare); /healthz,
/readyz and /metrics do not. Bad bodies get 422 naming the field, version conflicts 409, unknown
names 404, bodies over the size limit 413.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from controller.auth import token_matches
from controller.engine import Engine
from controller.errors import ConflictError, NetpilotError, NotFoundError
from controller.intents import NAME_PATTERN, Intent
from controller.service import intent_status, topology_view, what_if

MAX_BODY_BYTES = 8 * 1024 * 1024
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class IntentPut(Intent):
    """An intent plus, optionally, the version the client last read (409 if it moved on)."""

    version: int | None = Field(default=None, ge=0, le=2**62)

    def bare(self) -> Intent:
        return Intent.model_validate(self.model_dump(exclude={"version"}))


class IntentSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intents: list[Intent] = Field(default=[], max_length=100_000)
    prune: bool = False


class PathQuery(Intent):
    """A what-if: the intent fields, name optional."""

    name: str = Field(default="what-if", pattern=NAME_PATTERN)


class BodyLimit:
    """Refuse request bodies larger than `limit` bytes with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(self.limit)(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised from `receive` while a streamed body grows past the limit (FastAPI keeps it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes; split it")


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over {limit} bytes; split it"}, 413)


def _status(error: NetpilotError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    return 422


def _field_errors(error: RequestValidationError) -> JSONResponse:
    problems = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body",)]
        problems.append({"field": ".".join(loc) or "body", "message": item.get("msg", "invalid")})
    first = problems[0] if problems else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    return JSONResponse({"detail": detail, "errors": problems}, status_code=422)


class Lifecycle(Protocol):
    """What the app starts and stops with its lifespan (the runtime: `controller.runtime`)."""

    live: Any

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _EngineOnly:
    """The lifecycle of an app over a bare engine (tests, embedded use): the engine loop only."""

    live = None

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.engine.load()  # the API serves from here; the first reconcile runs in the loop
        self.engine.ready = True
        self.engine.notify("startup")
        self.task = asyncio.create_task(self.engine.run())

    async def stop(self) -> None:
        self.engine.stop()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def create_app(
    engine: Engine,
    token: str,
    *,
    registry: Any | None = None,
    run_engine: bool = False,
    runtime: Lifecycle | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API over `engine`. With `runtime`, the app starts and stops it (engine, telemetry,
    drift watch); with `run_engine` alone, just the engine loop."""
    lifecycle = runtime if runtime is not None else (_EngineOnly(engine) if run_engine else None)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if lifecycle is not None:
            await lifecycle.start()
        try:
            yield
        finally:
            if lifecycle is not None:
                await lifecycle.stop()

    app = FastAPI(title="netpilot", version="1", lifespan=lifespan)

    @app.exception_handler(NetpilotError)
    async def _netpilot(_: Request, error: NetpilotError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=_status(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return _field_errors(error)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        ready, cause = _health(engine)
        body: dict[str, Any] = {"ready": ready}
        if cause:
            body["cause"] = cause
        return JSONResponse(body, status_code=200 if ready else 503)

    if registry is not None:
        _metrics(app, registry)
    live = lifecycle.live if lifecycle is not None else None
    app.include_router(_router(engine, token, live))
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app


def _health(engine: Engine) -> tuple[bool, str]:
    """(ready, cause): not ready while starting and after 3 consecutive failed rounds."""
    ready, cause = engine.health()
    return ready, cause


def _metrics(app: FastAPI, registry: Any) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _router(engine: Engine, token: str, live: Any) -> APIRouter:
    async def auth(authorization: Annotated[str | None, Header()] = None) -> None:
        if not token_matches(token, authorization):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    router = APIRouter(prefix="/v1", dependencies=[Depends(auth)])
    _intent_routes(router, engine, live)
    _network_routes(router, engine, live)
    return router


def _version(if_match: str | None, body: int | None) -> int | None:
    if if_match is None:
        return body
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise HTTPException(422, 'If-Match: expected the intent version, e.g. If-Match: "3"')
    return int(text)


def _intent_routes(router: APIRouter, engine: Engine, live: Any) -> None:
    store = engine.store

    @router.get("/intents")
    async def list_intents() -> list[dict[str, Any]]:
        return [r.summary() for r in store.list_intents()]

    @router.post("/intents", status_code=201)
    async def create_intent(intent: Intent) -> dict[str, Any]:
        record, _ = store.put_intent(engine.check(intent), actor="api", create_only=True)
        engine.notify(f"api: create {intent.name}")
        return record.summary()

    @router.get("/intents/{name}")
    async def get_intent(name: str, response: Response) -> dict[str, Any]:
        record = store.get_intent(name)
        response.headers["ETag"] = f'"{record.version}"'
        return record.summary()

    @router.put("/intents/{name}")
    async def put_intent(
        name: str,
        body: IntentPut,
        response: Response,
        if_match: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        if body.name != name:
            raise HTTPException(422, f"name: body says {body.name!r}, the URL {name!r}")
        expected = _version(if_match, body.version)
        record, changed = store.put_intent(engine.check(body.bare()), expected, actor="api")
        if changed:
            engine.notify(f"api: update {name}")
        response.headers["ETag"] = f'"{record.version}"'
        return {**record.summary(), "changed": changed}

    @router.delete("/intents/{name}", status_code=202)
    async def delete_intent(
        name: str, if_match: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        record = store.delete_intent(name, _version(if_match, None), actor="api")
        engine.notify(f"api: delete {name}")
        return record.summary()

    @router.get("/intents/{name}/status")
    async def status(name: str) -> dict[str, Any]:
        return intent_status(engine, name, measure=None if live is None else live.measured)

    @router.post("/apply")
    async def apply(body: IntentSet) -> dict[str, Any]:
        changes = store.apply_intents(
            [engine.check(i) for i in body.intents], prune=body.prune, actor="api"
        )
        if any(c.action != "unchanged" for c in changes):
            engine.notify("api: apply")
        return {"changes": [{"name": c.name, "action": c.action} for c in changes]}


def _network_routes(router: APIRouter, engine: Engine, live: Any) -> None:
    @router.get("/topology")
    async def topology() -> dict[str, Any]:
        return topology_view(engine.topology)

    @router.post("/paths:compute")
    async def compute(query: PathQuery) -> dict[str, Any]:
        return what_if(engine, Intent.model_validate(query.model_dump()))

    @router.post("/plan")
    async def plan(body: IntentSet) -> dict[str, Any]:
        return engine.plan(body.intents, body.prune)

    @router.get("/revisions")
    async def revisions(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        return engine.store.revisions(limit)

    @router.get("/revisions/{revision}")
    async def revision(revision: Annotated[int, PathParam(ge=1, le=2**62)]) -> dict[str, Any]:
        return engine.store.revision(revision)

    @router.get("/events")
    async def events(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        since: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    ) -> list[dict[str, Any]]:
        """The latest `limit` engine events, oldest first; with `since`, only those after it."""
        chosen = [e for e in list(engine.events) if since is None or e.at > since]
        return [
            {"at": e.at, "kind": e.kind, "cause": e.cause, "detail": e.detail}
            for e in chosen[-limit:]
        ]

    @router.get("/audit")
    async def audit(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        return engine.store.audit_log(limit)

    @router.get("/telemetry")
    async def telemetry() -> dict[str, Any]:
        if live is None:
            return {"enabled": False, "reason": "no --inventory: in-memory devices, no telemetry"}
        return {"enabled": True, **live.describe()}
