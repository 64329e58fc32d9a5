"""The web console's routes: its static files under /ui/ and its data under /v1/ui/.

`GET /ui/` is the single-page console (`controller/ui/`: HTML, JS and CSS in the package, no
CDN, no build step), served without a token (it holds no data) under a strict
Content-Security-Policy (scripts, styles and connections to this origin only). The page asks
for the API token, keeps it in sessionStorage and sends it as `Authorization: Bearer` on every
data call; everything under /v1/ui/ is behind the token like the rest of /v1:

- `GET /v1/ui/state`: the drawing of the topology and the live state (`controller.api_ui_view`).
- `GET /v1/ui/stream`: the same as Server-Sent Events (`event: topology`, then `event: live`
  whenever it changes, polled every `interval` seconds). The page reads it with fetch() (an
  EventSource cannot send the token); a stream ends after `STREAM_S` seconds so that a
  stopping server never waits long for it, and the page reconnects at once.
- `POST /v1/ui/intents:parse`: an intents YAML file (the body, as text) to the JSON body of
  `/v1/plan` and `/v1/apply`, unvalidated: those routes name the fields that are wrong. A YAML
  syntax error is a 422 on `body` with its line and column.

They are left out of the OpenAPI document (a console's helpers, not an API to build on).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse

from controller.api_ui_layout import layout
from controller.api_ui_view import LiveTelemetry, live_doc, topology_doc
from controller.api_work import Work
from controller.engine import Engine
from controller.errors import NetpilotError, UsageError
from controller.textfile import parse_yaml

STREAM_S = 10.0
KEEPALIVE_S = 10.0
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "graph.js": "text/javascript; charset=utf-8",
    "panels.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class YamlInvalid(NetpilotError):
    """The pasted intents are not YAML (422 on `body`)."""

    def __init__(self, message: str) -> None:
        self.problems = [f"body: {message}"]
        super().__init__(self.problems[0])


class Drawing:
    """The topology's drawing, computed again only when its routers or links change."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] = ()
        self.doc: dict[str, Any] = {}

    def of(self, engine: Engine) -> tuple[tuple[Any, ...], dict[str, Any]]:
        topo = engine.topology
        key = (topo.name, tuple(topo.nodes), tuple(lk.id for lk in topo.links))
        if key != self.key:
            self.doc, self.key = topology_doc(topo, layout(topo)), key
        return self.key, self.doc


def ui_routes(engine: Engine, work: Work, live: LiveTelemetry | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    static = {name: resources.files("controller.ui").joinpath(name).read_bytes() for name in FILES}
    drawing = Drawing()

    @router.get("/ui")
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)

    @router.get("/ui/")
    async def ui_index() -> Response:
        return _file(static, "index.html")

    @router.get("/ui/{name}")
    async def ui_file(name: str) -> Response:
        return _file(static, name)

    async def state() -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        view, events = engine.snapshot(), list(engine.events)
        key, topo = await work.run(drawing.of, view)
        return key, topo, await work.run(live_doc, view, live, events)

    @router.get("/v1/ui/state")
    async def ui_state() -> JSONResponse:
        _, topo, doc = await state()
        return JSONResponse({"topology": topo, "live": doc})

    @router.get("/v1/ui/stream")
    async def ui_stream(
        request: Request, interval: Annotated[float, Query(ge=0.2, le=30)] = 1.0
    ) -> StreamingResponse:
        return StreamingResponse(
            _stream(request, state, interval),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/v1/ui/intents:parse")
    async def ui_parse(request: Request) -> JSONResponse:
        text = (await request.body()).decode("utf-8", errors="replace")
        return JSONResponse(await work.run(_parse, text))

    return router


def _file(static: dict[str, bytes], name: str) -> Response:
    if name not in static:
        return JSONResponse({"detail": f"no console file {name!r}; open /ui/"}, 404)
    return Response(static[name], media_type=FILES[name], headers=HEADERS)


async def _stream(request: Request, state: Any, interval: float) -> AsyncIterator[str]:
    """Until STREAM_S passed or the client left (a server writing to a closed connection
    never learns it, and a stopping server waits for the stream)."""
    loop = asyncio.get_running_loop()
    started = last = loop.time()
    sent_key: tuple[Any, ...] = ()
    sent = ""
    while loop.time() - started < STREAM_S and not await request.is_disconnected():
        key, topo, doc = await state()
        if key != sent_key:
            sent_key, sent = key, ""
            yield _event("topology", json.dumps(topo, separators=(",", ":")))
        text = json.dumps(doc, separators=(",", ":"))
        if text != sent:
            sent, last = text, loop.time()
            yield _event("live", text)
        elif loop.time() - last > KEEPALIVE_S:
            last = loop.time()
            yield ": keepalive\n\n"
        await asyncio.sleep(interval)
    yield _event("end", "{}")


def _event(kind: str, data: str) -> str:
    return f"event: {kind}\ndata: {data}\n\n"


def _parse(text: str) -> dict[str, Any]:
    """The JSON body of /v1/plan from an intents file (`intents: [...]`, or a bare list)."""
    try:
        data = parse_yaml(text, "body")
    except UsageError as error:
        raise YamlInvalid(str(error).removeprefix("body: ")) from None
    if data is None:
        data = {"intents": []}
    if isinstance(data, list):
        data = {"intents": data}
    if not isinstance(data, dict):
        raise YamlInvalid("expected a mapping with an `intents:` list (or a list of intents)")
    out: dict[str, Any] = json.loads(json.dumps(data, default=str))  # YAML dates as text
    return out
