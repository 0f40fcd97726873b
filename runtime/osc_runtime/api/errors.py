"""Every error is JSON: `{"error": "<what went wrong>"}` (plus `detail` for invalid fields).

That includes requests refused for carrying too many or too large headers (431).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from osc_runtime.store import StoreUnavailable

log = logging.getLogger("osc_runtime.api")

MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(HeaderLimits)


class HeaderLimits:
    """Refuse a header flood before any route reads it (the HTTP parser itself allows more)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", []) if scope["type"] == "http" else []
        size = sum(len(name) + len(value) for name, value in headers)
        if len(headers) > MAX_HEADERS or size > MAX_HEADER_BYTES:
            message = f"too many or too large headers (at most {MAX_HEADERS}, {MAX_HEADER_BYTES} bytes)"
            await JSONResponse({"error": message}, 431)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return http_error_response(error)


def http_error_response(error: HTTPException) -> JSONResponse:
    """The JSON answer to an HTTPException (also used by the inbox's fast path)."""
    message = error.detail if isinstance(error.detail, str) else "request failed"
    return JSONResponse({"error": message}, error.status_code, headers=error.headers)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    detail = [
        {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg", ""))}
        for item in error.errors()
    ]
    return JSONResponse({"error": "invalid request", "detail": detail}, 422)


async def _store_unavailable(request: Request, error: StoreUnavailable) -> JSONResponse:
    """PostgreSQL is away (restarting, failing over): a moment's wait, not a server error."""
    log.warning("run store unavailable on %s %s: %s", request.method, request.url.path, error)
    return JSONResponse({"error": "the run store is unavailable; retry shortly"}, 503,
                        headers={"Retry-After": "5"})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error"}, 500)
