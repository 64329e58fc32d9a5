"""The northbound REST API (FastAPI). `create_app` builds it; nothing global.

Everything under /v1 needs `Authorization: Bearer <token>` (constant-time compare), checked from
the headers before the body is read (`controller.api_asgi`), the OpenAPI document at
/v1/openapi.json too; /healthz, /readyz and /metrics do not. Bodies are read, validated and
acted on off the event loop (`controller.api_work`), so a 100,000-intent plan never stalls
health checks or the engine. Bad input gets 422 naming the field (`{"detail", "errors":
[{"field", "message"}]}`; a set of intents lists every problem of every intent), version
conflicts 409, unknown names 404, bodies over the size limit 413, too many plans at once 503.
The OpenAPI document (`controller.api_openapi`) lists every one of them per route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import pydantic
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from controller.api_asgi import BearerAuth, BodyLimit
from controller.api_incidents import incident_routes
from controller.api_models import Health, IntentPut, IntentSet, PathQuery, Readiness
from controller.api_openapi import install
from controller.api_routes import intent_routes, network_routes
from controller.api_ui import ui_routes
from controller.api_work import Busy, Work
from controller.engine import Engine
from controller.errors import ConflictError, NetpilotError, NotFoundError, pydantic_message
from controller.intents import Intent
from controller.store_api import StoreUnavailable

MAX_BODY_BYTES = 8 * 1024 * 1024


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
    work: Work | None = None,
) -> FastAPI:
    """The API over `engine`. With `runtime`, the app starts and stops it (engine, telemetry,
    drift watch); with `run_engine` alone, just the engine loop."""
    lifecycle = runtime if runtime is not None else (_EngineOnly(engine) if run_engine else None)
    pool = work or Work()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if lifecycle is not None:
            await lifecycle.start()
        try:
            yield
        finally:
            if lifecycle is not None:
                await lifecycle.stop()
            pool.close()

    # the schema is under /v1, behind the token like the rest; no Swagger UI (it loads its
    # scripts from a CDN, which a bank's management network does not reach, and cannot send
    # the token when it fetches the schema)
    app = FastAPI(
        title="netpilot",
        version="1",
        lifespan=lifespan,
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    _error_handlers(app)

    @app.get("/healthz", tags=["health"], response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Starting, or 3 failed rounds."}},
    )
    async def readyz() -> JSONResponse:
        ready, cause = engine.health()
        body: dict[str, Any] = {"ready": ready}
        if cause:
            body["cause"] = cause
        role = getattr(lifecycle, "readiness", None)  # replicas on etcd: role and leader
        if role is not None:
            ready, body = role(ready, body)
        return JSONResponse(body, status_code=200 if ready else 503)

    if registry is not None:
        _metrics(app, registry)
    live = lifecycle.live if lifecycle is not None else None
    app.include_router(intent_routes(engine, pool, live))
    app.include_router(network_routes(engine, pool, live))
    app.include_router(ui_routes(engine, pool, live))  # the web console (docs/console.md)
    app.include_router(incident_routes(lambda: getattr(lifecycle, "incidents", None)))
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(BearerAuth, token=token)  # outermost: before the size, before the body
    install(app, [Intent, IntentPut, IntentSet, PathQuery])
    return app


def _status(error: NetpilotError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, (Busy, StoreUnavailable)):
        return 503
    return 422


def _invalid(problems: Sequence[tuple[str, str]], detail: str = "") -> JSONResponse:
    """422 `{"detail", "errors": [{"field", "message"}]}`; detail defaults to the first."""
    items = [{"field": f or "body", "message": m or "invalid"} for f, m in problems]
    items = items or [{"field": "body", "message": "invalid"}]
    detail = detail or f"{items[0]['field']}: {items[0]['message']}"
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


def _pydantic_problems(errors: Sequence[Any]) -> list[tuple[str, str]]:
    out = []
    for item in errors:
        loc = [str(p) for p in item.get("loc", ()) if p != "body"]
        message = pydantic_message(item)
        out.append((".".join(loc), message))
    return out


def _netpilot_problems(error: NetpilotError) -> list[tuple[str, str]]:
    """`field: message` problems of a ValidationError (or the message itself) as pairs."""
    out = []
    for text in getattr(error, "problems", None) or [str(error)]:
        field, sep, message = str(text).partition(": ")
        named = sep and field and " " not in field.strip()
        out.append((field, message) if named else ("body", str(text)))
    return out


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NetpilotError)
    async def _netpilot(_: Request, error: NetpilotError) -> JSONResponse:
        status = _status(error)
        if status == 422:
            return _invalid(_netpilot_problems(error), str(error))
        headers = {"Retry-After": str(Busy.retry_after_s)} if status == 503 else None
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, error: RequestValidationError) -> JSONResponse:
        return _invalid(_pydantic_problems(error.errors()))

    @app.exception_handler(pydantic.ValidationError)
    async def _body(_: Request, error: pydantic.ValidationError) -> JSONResponse:
        return _invalid(_pydantic_problems(error.errors()))


def _metrics(app: FastAPI, registry: Any) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
