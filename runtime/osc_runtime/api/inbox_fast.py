"""POST /inbox without the framework's per-request work, for the requests that need none of it.

FastAPI's route (`inbox.accept`) validates the `sync` query parameter and three optional headers
with pydantic, resolves a dependency and goes through the router and the exception middleware:
most of a 202's time besides the commit. A webhook delivery rarely has anything to validate, so
this pure ASGI middleware answers it itself, calling the same `inbox.accept_delivery` the route
calls: authentication, body limits, parsing, idempotency, the store, the answer and the
`run_accepted` event cannot differ between the two.

It takes a request only when FastAPI would accept its parameters as they are: no `sync` in the
query (nor any `%`), each optional header at most once and matching the route's own pattern and
length. Any other request (a bad header, `?sync=`, a repeated header) goes on to the documented route,
which answers it exactly as before (a 422 with `detail`, a sync wait, …). It sits inside the
request counter, header limits and slash handling, so those see every request as before.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from osc_runtime.api.errors import http_error_response
from osc_runtime.api.inbox import (IDEMPOTENCY_KEY_PATTERN, TRIGGER_PATTERN, UPSTREAM_PATTERN,
                                   accept_delivery)

# Header (as the ASGI scope spells it) → (pattern, max length), as the route declares them.
OPTIONAL_HEADERS = {
    b"idempotency-key": (re.compile(IDEMPOTENCY_KEY_PATTERN), None),
    b"x-osc-trigger": (re.compile(TRIGGER_PATTERN), None),
    b"x-osc-upstream": (re.compile(UPSTREAM_PATTERN), 300),
}
NOT_PLAIN = object()  # the request needs the route's validation


class InboxFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/inbox" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = plain_headers(scope)
        if headers is NOT_PLAIN or may_name_sync(scope.get("query_string", b"")):
            await self.app(scope, receive, send)  # the documented route validates and answers
            return
        request = Request(scope, receive)
        try:
            response = await accept_delivery(
                request, request.app.state.runtime, None, headers.get(b"idempotency-key"),
                headers.get(b"x-osc-trigger"), headers.get(b"x-osc-upstream"))
        except HTTPException as error:
            response = http_error_response(error)
        await response(scope, receive, send)


def may_name_sync(query: bytes) -> bool:
    """Whether the query might hold `sync` (also percent-encoded): then the route parses it."""
    return b"sync" in query or b"%" in query


def plain_headers(scope: Scope) -> dict[bytes, str] | object:
    """The optional headers' values if each is valid as the route would see it, else NOT_PLAIN.

    Starlette decodes header values as latin-1; pydantic's pattern check is then made on that
    text. A value with a line break (which HTTP parsers refuse anyway) is left to the route,
    since `$` in Python also matches before a final newline.
    """
    found: dict[bytes, str] = {}
    for name, raw in scope["headers"]:
        rule = OPTIONAL_HEADERS.get(name)
        if rule is None:
            continue
        value = raw.decode("latin-1")
        pattern, longest = rule
        if name in found or "\n" in value or not pattern.match(value) \
                or (longest is not None and len(value) > longest):
            return NOT_PLAIN
        found[name] = value
    return found
