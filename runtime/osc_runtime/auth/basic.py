"""HTTP Basic authentication against `username:password` lines (OSC_BASIC_AUTH_PATH)."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from osc_runtime.auth.api_key import matches_any


class BasicMethod:
    name = "basic"
    needs_body = False
    challenge = 'Basic realm="osc", charset="UTF-8"'
    hint = "Authorization: Basic <username:password>"
    credential_headers = frozenset({"authorization"})

    def __init__(self, lines: list[str]) -> None:
        self.pairs = [line.encode("utf-8") for line in lines]

    def authenticate(self, request: Request, raw_body: bytes | None) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            presented = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        return self.name if b":" in presented and matches_any(presented, self.pairs) else None
