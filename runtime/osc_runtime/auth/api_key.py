"""API keys: in an `Authorization: <scheme> <key>` header, a key header, or a query parameter."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from starlette.requests import Request


def matches_any(presented: bytes, keys: list[bytes]) -> bool:
    """Compared with every key, so the time taken does not tell which one nearly matched."""
    results = [hmac.compare_digest(presented, key) for key in keys]
    return bool(presented) and any(results)


class ApiKeyMethod:
    name = "api-key"
    needs_body = False

    def __init__(self, keys: list[bytes], schemes: list[str], header: str) -> None:
        self.keys = keys
        self.schemes = {scheme.lower() for scheme in schemes}
        self.header = header.lower()
        self._header_bytes = self.header.encode("latin-1")
        self.credential_headers = frozenset({"authorization", self.header})
        self.challenge = f'{schemes[0]} realm="osc"' if schemes else None
        shown = " or ".join(f"Authorization: {scheme} <key>" for scheme in schemes)
        self.hint = f"{shown} or {header}: <key>" if shown else f"{header}: <key>"

    def authenticate(self, request: Request, raw_body: bytes | None) -> str | None:
        return self.name if matches_any(self._presented(request), self.keys) else None

    def _presented(self, request: Request) -> bytes:
        # What `request.headers.get` gives (the first of each, latin-1), in one pass over the
        # raw headers: asked on every request, and Headers.get raises inside for a missing one.
        own = authorization = None
        for name, raw in request.scope["headers"]:
            if name == self._header_bytes and own is None:
                own = raw
            elif name == b"authorization" and authorization is None:
                authorization = raw
        value = own.decode("latin-1").strip() if own is not None else ""
        if not value:
            text = authorization.decode("latin-1") if authorization is not None else ""
            scheme, _, token = text.strip().partition(" ")
            value = token.strip() if scheme.lower() in self.schemes else ""
        return value.encode("utf-8", "replace")


class QueryParamMethod:
    """`?<param>=<key>`, for senders that can set nothing else (some DHIS2 routes). The value
    never reaches a log line: the access log masks it (see `logs.configure_logging`)."""

    name = "query-param"
    needs_body = False
    challenge = None
    credential_headers: frozenset[str] = frozenset()

    def __init__(self, keys: list[bytes], param: str) -> None:
        self.keys = keys
        self.param = param
        self.hint = f"?{param}=<key>"

    def authenticate(self, request: Request, raw_body: bytes | None) -> str | None:
        query = request.scope.get("query_string", b"").decode("latin-1")
        values = [value for name, value in parse_qsl(query, keep_blank_values=True)
                  if name == self.param]
        # One value only: with two, which one did the sender mean?
        if len(values) == 1 and matches_any(values[0].encode("utf-8", "replace"), self.keys):
            return self.name
        return None
