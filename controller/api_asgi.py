"""ASGI middleware in front of the API: the bearer token and the body size, both checked before
a byte of the body is read or parsed.

`BearerAuth` answers 401 to a request under /v1 without the right `Authorization: Bearer` token
from its headers alone (constant-time compare, `controller.auth.token_matches`); the body it
never reads is discarded by the server. `BodyLimit` answers 413 to a body over the limit, from
`Content-Length` when declared, else while it streams in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from controller.auth import token_matches

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNAUTHORIZED = "missing or wrong bearer token; send Authorization: Bearer <token>"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


class BearerAuth:
    """401 (with `WWW-Authenticate: Bearer`) for a request under `prefix` without the token."""

    def __init__(self, app: ASGIApp, token: str, prefix: str = "/v1") -> None:
        self.app, self.token, self.prefix = app, token, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guarded(str(scope.get("path", ""))):
            header = _header(scope, b"authorization")
            given = header.decode("latin-1") if header is not None else None
            if not token_matches(self.token, given):
                headers = {"WWW-Authenticate": "Bearer"}
                await JSONResponse({"detail": UNAUTHORIZED}, 401, headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _guarded(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


class BodyLimit:
    """Refuse request bodies larger than `limit` bytes with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await too_large(self.limit)(scope, receive, send)


class BodyTooLarge(HTTPException):
    """Raised from `receive` while a streamed body grows past the limit (FastAPI keeps it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_text(limit))


def too_large_text(limit: int) -> str:
    return f"request body over {limit} bytes; split it"


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": too_large_text(limit)}, 413)
