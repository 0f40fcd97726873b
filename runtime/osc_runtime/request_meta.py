"""How a run was called, as the job sees it in `state.request`, with every credential removed.

`{method, path, query, headers, contentType}`: `query` and `headers` map a name to its value
(a list when repeated); header names are lower-case. Headers that carry a credential
(Authorization, Cookie, the API key header, signature headers) and the API key query
parameter are left out, so a job that copies `state.request` into its output leaks nothing.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request

from osc_runtime.form_body import grouped

# Whatever is configured: a signature header from a sender osc does not check is still one.
ALWAYS_HIDDEN = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key",
                           "x-hub-signature", "x-hub-signature-256", "x-shopify-hmac-sha256",
                           "stripe-signature"})
MASK = "***"


def describe_request(request: Request, hidden_headers: frozenset[str],
                     hidden_params: frozenset[str]) -> dict[str, Any]:
    hidden = _hidden(hidden_headers)
    # The scope's headers as Starlette decodes them (latin-1), without building Headers twice.
    headers = grouped((name, value) for name, value in
                      ((name.decode("latin-1"), value.decode("latin-1"))
                       for name, value in request.scope["headers"])
                      if name.lower() not in hidden)
    query = request.scope.get("query_string", b"").decode("latin-1")
    params = grouped((name, value) for name, value in parse_qsl(query, keep_blank_values=True)
                     if name not in hidden_params) if query else {}
    return {"method": request.method, "path": _path(request), "query": params,
            "headers": headers, "contentType": request.headers.get("content-type")}


def _path(request: Request) -> str:
    """`request.url.path`; the inbox's own path as it is, without building and parsing a URL."""
    path = request.scope["path"]
    return path if path == "/inbox" else request.url.path


@functools.lru_cache(maxsize=8)
def _hidden(configured: frozenset[str]) -> frozenset[str]:
    return ALWAYS_HIDDEN | configured


def mask_query(path: str, params: frozenset[str]) -> str:
    """`/inbox?token=abc&x=1` → `/inbox?token=***&x=1`: for log lines."""
    base, sep, query = path.partition("?")
    if not sep or not params:
        return path
    pieces = []
    for piece in query.split("&"):
        name, eq, _ = piece.partition("=")
        pieces.append(f"{name}={MASK}" if eq and unquote_plus(name) in params else piece)
    return f"{base}?{'&'.join(pieces)}"
