"""Sender-side deduplication (OSC_IDEMPOTENCY_FROM): a delivery id the sender already sends.

`header:<name>` (e.g. `header:X-GitHub-Delivery`, `header:X-Shopify-Webhook-Id`) or
`json:<path>` into the parsed body (e.g. `json:$._uuid` for Kobo, `json:$.id` for Stripe; an
XML or form body is looked up in its JSON form). The value is used as the Idempotency-Key of a
request that carries none, so a redelivery finds the first run instead of making a second.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from osc_runtime.filters import MISSING, lookup, parse_path

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # what an Idempotency-Key header may hold


@dataclass(frozen=True)
class IdempotencySource:
    header: str | None = None
    path: tuple[str | int, ...] = ()

    def key_of(self, request: Request, data: Any) -> str | None:
        """The delivery's key, or None when the request does not carry one."""
        if self.header is not None:
            value: Any = request.headers.get(self.header, "").strip() or None
        else:
            value = lookup(data, self.path)
        if value is MISSING or value is None or isinstance(value, dict | list | bool):
            return None
        text = str(value)
        # A value no header could carry (spaces, non-ASCII, long) still dedups, by its hash.
        return text if KEY_PATTERN.match(text) else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse_idempotency_from(text: str) -> IdempotencySource:
    kind, _, rest = text.partition(":")
    if kind == "header" and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", rest):
        return IdempotencySource(header=rest)
    if kind == "json" and rest:
        return IdempotencySource(path=parse_path(rest))
    raise ValueError(f"{text[:80]!r}: use header:<name> (e.g. header:X-GitHub-Delivery) or "
                     "json:<path> (e.g. json:$._uuid)")
