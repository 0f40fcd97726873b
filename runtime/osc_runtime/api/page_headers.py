"""The headers of the pages a browser renders (the console, the API docs) and their assets.

Set per route, not by a middleware: the API's hot path (POST /inbox) pays nothing for them.
Each page loads only this runtime's own files (no CDN), may not be framed, and sends no
referrer; a Content-Security-Policy says so to the browser as well.
"""

from __future__ import annotations

_COMMON = ("default-src 'none'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
           "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
CONSOLE_POLICY = f"{_COMMON}; style-src 'self'"
# Swagger UI sets style attributes on the elements it renders.
DOCS_POLICY = f"{_COMMON}; style-src 'self' 'unsafe-inline'"


def page_headers(policy: str = CONSOLE_POLICY, *, cache: str = "no-store") -> dict[str, str]:
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
        "Referrer-Policy": "no-referrer",
        "Cache-Control": cache,
    }
