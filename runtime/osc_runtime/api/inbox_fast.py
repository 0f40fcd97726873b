"""POST /inbox without the framework's per-request work, for the requests that need none of it.

FastAPI's route (`inbox.accept`) validates the `sync` query parameter and three optional headers
with pydantic, resolves a dependency and goes through the router, the exception middleware and
FastAPI's own telemetry and body-limit layers: most of a 202's time besides the commit. A
webhook delivery rarely has anything to validate, so `RuntimeApp` answers it on a short stack
of its own, calling the same `inbox.accept_delivery` the route calls: authentication, body
limits, parsing, idempotency, the store, the answer and the `run_accepted` event cannot differ
between the two. That stack is built from the app's own middleware list (the request counter,
header limits, slash handling: whatever `add_middleware` added) inside Starlette's
`ServerErrorMiddleware` with the app's 500 handler, so every middleware sees both paths alike.

A request takes the short stack only when FastAPI would accept its parameters as they are: no
`sync` in the query (nor any `%`), each optional header at most once, matching the route's own
pattern and length. Any other request (a bad header, `?sync=`, a repeated header) goes to the
documented route, which answers it exactly as before (a 422 with `detail`, a sync wait, …).
FastAPI's native telemetry, when configured, does not see the short stack's requests.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
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


class RuntimeApp(FastAPI):
    _inbox_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"].rstrip("/") == "/inbox" and is_plain(scope):
            scope["app"] = self
            if self._inbox_stack is None:
                self._inbox_stack = self._build_inbox_stack()
            await self._inbox_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _build_inbox_stack(self) -> ASGIApp:
        stack: ASGIApp = answer
        for cls, args, kwargs in reversed(self.user_middleware):
            stack = cls(stack, *args, **kwargs)
        handler = self.exception_handlers.get(Exception) or self.exception_handlers.get(500)
        return ServerErrorMiddleware(stack, handler=handler, debug=self.debug)


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    headers = {name: value.decode("latin-1") for name, value in scope["headers"]
               if name in OPTIONAL_HEADERS}
    try:
        response = await accept_delivery(
            request, request.app.state.runtime, None, headers.get(b"idempotency-key"),
            headers.get(b"x-osc-trigger"), headers.get(b"x-osc-upstream"))
    except HTTPException as error:
        response = http_error_response(error)
    await response(scope, receive, send)


def is_plain(scope: Scope) -> bool:
    """Whether the route would take the request's parameters as they are.

    Starlette decodes header values as latin-1; pydantic's pattern check is then made on that
    text. A value with a line break (which HTTP parsers refuse anyway) is left to the route,
    since `$` in Python also matches before a final newline. A query that might name `sync`
    (also percent-encoded) is left to the route, which parses it.
    """
    query = scope.get("query_string", b"")
    if b"sync" in query or b"%" in query:
        return False
    seen: set[bytes] = set()
    for name, raw in scope["headers"]:
        rule = OPTIONAL_HEADERS.get(name)
        if rule is None:
            continue
        value = raw.decode("latin-1")
        pattern, longest = rule
        if name in seen or "\n" in value or not pattern.match(value) \
                or (longest is not None and len(value) > longest):
            return False
        seen.add(name)
    return True
