"""A trailing slash is served, not redirected.

Starlette's own answer to `GET /runs/` is a 307 to an absolute URL built from the request's
`Host` header, which anyone can set: the service would send clients wherever that header says.
Here the slash is dropped before routing (`/runs/` is `/runs`), so no Location is ever built
from the request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class TrailingSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)
