"""Signed deliveries: an HMAC of the raw body bytes in a header (GitHub, Shopify, Stripe, any).

OSC_SIGNATURE is a preset (`github`, `shopify`, `stripe`) or
`hmac:<header>:<sha1|sha256|sha512>:<hex|base64>[:<prefix>]`; OSC_SIGNATURE_SECRET_PATH holds
one secret per line, so a new secret can be added before the sender switches to it. The
signature is checked over the bytes as received, before anything parses them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

STRIPE_TOLERANCE_SECONDS = 300  # Stripe's own libraries refuse older timestamps
ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
ENCODINGS = ("hex", "base64")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Every header a known sender signs with: never shown to a job, whichever preset is on.
SIGNATURE_HEADERS = frozenset({"x-hub-signature", "x-hub-signature-256", "x-shopify-hmac-sha256",
                               "stripe-signature"})


@dataclass(frozen=True)
class SignatureSpec:
    header: str
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    stripe: bool = False  # `t=<unix>,v1=<hex>` over "<t>.<body>", with a freshness check


PRESETS = {
    "github": SignatureSpec("X-Hub-Signature-256", prefix="sha256="),
    "shopify": SignatureSpec("X-Shopify-Hmac-Sha256", encoding="base64"),
    "stripe": SignatureSpec("Stripe-Signature", stripe=True),
}


def parse_signature(text: str) -> SignatureSpec:
    """A preset name or `hmac:<header>:<algorithm>:<hex|base64>[:<prefix>]`; ValueError if not."""
    if text in PRESETS:
        return PRESETS[text]
    kind, *parts = text.split(":", 4)
    if kind != "hmac" or len(parts) < 3 or not parts[0].strip():
        raise ValueError(f"{text[:80]!r}: use github, shopify, stripe or "
                         "hmac:<header>:<sha1|sha256|sha512>:<hex|base64>[:<prefix>]")
    header, algorithm, encoding, *prefix = parts
    if not HEADER_NAME.match(header.strip()):
        raise ValueError(f"{header[:80]!r} is not a header name")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    if encoding not in ENCODINGS:
        raise ValueError(f"{encoding!r} is not hex or base64")
    return SignatureSpec(header.strip(), algorithm, encoding, prefix[0] if prefix else "")


class SignatureMethod:
    name = "signature"
    needs_body = True
    challenge = None

    def __init__(self, spec: SignatureSpec, secrets: list[str],
                 clock: Callable[[], float]) -> None:
        self.spec = spec
        self.secrets = [secret.encode("utf-8") for secret in secrets]
        self.clock = clock
        self.hint = f"a valid {spec.header} signature of the body"
        self.credential_headers = SIGNATURE_HEADERS | {spec.header.lower()}

    def authenticate(self, request: Request, raw_body: bytes | None) -> str | None:
        value = request.headers.get(self.spec.header, "").strip()
        if not value or raw_body is None:
            return None
        if self.spec.stripe:
            signed, presented = self._stripe(value, raw_body)
        else:
            signed, presented = raw_body, _decode(value, self.spec)
        if not presented:
            return None
        digest = ALGORITHMS[self.spec.algorithm]
        expected = [hmac.new(secret, signed, digest).digest() for secret in self.secrets]
        # Every pair compared: the time taken does not tell which secret nearly matched.
        results = [hmac.compare_digest(want, got) for want in expected for got in presented]
        return self.name if any(results) else None

    def _stripe(self, value: str, raw_body: bytes) -> tuple[bytes, list[bytes]]:
        """Stripe signs "<t>.<body>"; a stale (or far future) `t` is refused: a replay."""
        items = [item.strip().partition("=") for item in value.split(",")]
        stamps = [item for key, _, item in items if key == "t"]
        if len(stamps) != 1 or not stamps[0].isdigit():
            return b"", []
        if abs(self.clock() - int(stamps[0])) > STRIPE_TOLERANCE_SECONDS:
            return b"", []
        presented = [_unhex(item) for key, _, item in items if key == "v1"]
        return stamps[0].encode() + b"." + raw_body, [item for item in presented if item]


def _decode(value: str, spec: SignatureSpec) -> list[bytes]:
    if spec.prefix:
        if not value.startswith(spec.prefix):
            return []
        value = value[len(spec.prefix):]
    if spec.encoding == "hex":
        decoded = _unhex(value)
    else:
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
    return [decoded] if decoded else []


def _unhex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""
