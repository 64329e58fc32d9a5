"""The API's OpenAPI document: every status a route can answer, with its real body.

Routes declare their statuses with `errors(...)` and their JSON bodies with `body(Model)`
(the API reads and validates bodies itself, off the event loop, so FastAPI does not see them);
`install(app)` generates the document once, adds the request-body schemas and the bearer
security scheme.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from controller.api_models import ErrorBody, InvalidBody

REF = "#/components/schemas/{model}"

ERRORS: dict[int, str] = {
    401: "No `Authorization: Bearer <token>` header, or the wrong token (checked before the "
    "body is read).",
    404: "No such intent or revision.",
    409: "The intent exists (create), or moved past the version given (`If-Match` or "
    "`version`): re-read it and retry.",
    413: "The request body is over the limit (8 MiB by default): split it.",
    422: "The body, a parameter or a header is invalid, or names a node the topology does not "
    "have: `detail` is the first problem, `errors` lists each field.",
    503: "Too many plans running or waiting: retry after `Retry-After` seconds.",
}

_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
}

DESCRIPTION = """\
Intents, plans, what-ifs and the network of a netpilot controller.

Everything under `/v1` needs `Authorization: Bearer <token>` (401 otherwise, answered from the
headers alone). Bodies are JSON; a body over the size limit gets 413, a bad one 422 with
`{"detail": "field: message", "errors": [{"field", "message"}]}`. Intent fields take shorthands:
`"src": "DC1"` for `{"node": "DC1"}`, `"10.1.0.0/16"` for a prefix, `"bandwidth": "10M"`,
`"max_latency": "150ms"`. Node names must exist in the controller's topology (`GET /v1/topology`).
See docs/api.md.
"""


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route for these error statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "model": InvalidBody if code == 422 else ErrorBody,
            "description": ERRORS[code],
        }
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


def body(model: type[BaseModel], description: str = "") -> dict[str, Any]:
    """The `openapi_extra=` of a route whose JSON body is `model`."""
    return {
        "requestBody": {
            "required": True,
            "description": description or (model.__doc__ or "").strip().split("\n")[0],
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    }


def install(app: FastAPI, bodies: list[type[BaseModel]]) -> None:
    """Make `app.openapi()` return the full document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, bodies)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI, bodies: list[type[BaseModel]]) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=DESCRIPTION,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema([(m, "validation") for m in bodies], ref_template=REF)
    for name, schema in defs.get("$defs", {}).items():
        # the same model may be there from a response (serialization mode): keep the request's
        if (
            name in schemas
            and schemas[name].get("properties", {}).keys() != schema.get("properties", {}).keys()
        ):
            raise RuntimeError(f"OpenAPI: two different schemas named {name!r}")
        schemas[name] = schema
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template=REF))
    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, item in doc.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("413", _error_response(413))  # any body over the limit
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}]
                responses.setdefault("401", _error_response(401))
    return doc


def _error_response(code: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
    }
    if code in _HEADERS:
        out["headers"] = _HEADERS[code]
    return out


def status_table_markdown(doc: dict[str, Any]) -> str:
    """Every route and the statuses it answers, as Markdown (docs/api.md embeds it; a test keeps
    them equal)."""
    rows = ["| method and path | answers |", "| --- | --- |"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            codes = ", ".join(sorted(operation["responses"]))
            rows.append(f"| `{method.upper()} {path}` | {codes} |")
    return "\n".join(rows)
