"""What stands between the HTTP API and bad input: a body size limit, upload file names, and errors
that are always JSON, name what was wrong and are listed in the OpenAPI document.

* 404 an unknown campaign or contact; 409 a command the state does not allow now (a duplicate
  key, a contact in a call, another writer first); 413 a body over the limit; 422 an invalid
  value; 503 the store cannot be reached; 500 a fault of ours, with an id to find it in the log.
* A request's input is never echoed back in an error (it may be huge, binary or not JSON at all).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from dialer_domain.model.errors import ConcurrencyError, DomainError, InvalidValue, NotAllowed, NotFound
from dialer_domain.model.text import check_text

log = logging.getLogger("dialer.api")

#: bodies larger than this are refused with 413 (``DIALER_API_MAX_UPLOAD_BYTES`` for list uploads)
MAX_JSON_BYTES = 1 << 20
MAX_UPLOAD_BYTES = int(os.environ.get("DIALER_API_MAX_UPLOAD_BYTES", str(200 << 20)))


class ErrorOut(BaseModel):
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such campaign or contact."},
    409: {"model": ErrorOut, "description": "Not allowed in the current state, or another writer changed it first."},
    413: {"model": ErrorOut, "description": "The body is larger than the limit."},
    422: {"model": ErrorOut, "description": "An invalid value; the message names it."},
    503: {"model": ErrorOut, "description": "The store cannot be reached."},
}


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: a body over the limit (declared or streamed) ends the request with 413
    before the application reads it all."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = MAX_UPLOAD_BYTES if path.endswith("/imports") else MAX_JSON_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send, limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = JSONResponse({"detail": f"the body is larger than {limit} bytes"}, status_code=413).body
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def upload_name(name: str | None) -> str:
    """The uploaded file's own name, as the import history records it, or a clear 422."""
    raw = name or "upload.csv"
    check_text("upload file name", raw, 255, allow_empty=False)
    base = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", ".."):
        raise InvalidValue(f"upload file name {raw!r} names no file")
    return base


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, ConcurrencyError):
            detail = "another writer changed this at the same moment; nothing of this request was stored: read it again and retry"
            return JSONResponse({"detail": detail}, status_code=409)
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, NotAllowed) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {e.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(problems[:20]) or "invalid request"}, status_code=422)

    from entrypoints.bootstrap import StoreUnavailable

    @app.exception_handler(StoreUnavailable)
    def unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(Exception)
    def fault(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.exception("error %s on %s %s", error_id, request.method, request.url.path)
        return JSONResponse({"detail": f"internal error {error_id}: it is in the server's log"}, status_code=500)
