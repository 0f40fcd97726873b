"""Who may call: authentication methods behind one small interface.

Every method answers one question, `authenticate(request, raw_body)`: the name of the method if
the request proves it may call, else None. Several methods may be on at once (OSC_API_KEYS,
OSC_BASIC_AUTH_PATH, OSC_API_KEY_QUERY_PARAM, OSC_SIGNATURE); any one that matches
authenticates. The name is recorded with the run (`"auth": "basic"`), never what was presented.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

if TYPE_CHECKING:
    from osc_runtime.settings import Settings

log = logging.getLogger("osc_runtime.api")

NO_AUTH = "none"  # what a run records when OSC_AUTH=none let it in


class AuthMethod(Protocol):
    name: str  # recorded with each run it accepts
    needs_body: bool  # a signature is over the raw body: checked once the body is read
    challenge: str | None  # its WWW-Authenticate challenge, if it has one
    hint: str  # how to authenticate, shown in a 401
    credential_headers: frozenset[str]  # lower-case headers that carry its credential

    def authenticate(self, request: Request, raw_body: bytes | None) -> str | None: ...


@dataclass(frozen=True)
class Authenticator:
    """The configured methods, tried in turn; `open` when OSC_AUTH=none."""

    methods: tuple[AuthMethod, ...] = ()
    open: bool = False
    hidden_query_params: frozenset[str] = field(default_factory=frozenset)

    @property
    def needs_body(self) -> bool:
        return any(method.needs_body for method in self.methods)

    def authenticate(self, request: Request, raw_body: bytes | None) -> str | None:
        """The accepting method's name; with `raw_body=None` only the header methods try."""
        if self.open:
            return NO_AUTH
        for method in self.methods:
            if method.needs_body and raw_body is None:
                continue
            accepted = method.authenticate(request, raw_body)
            if accepted is not None:
                return accepted
        return None

    def credential_headers(self) -> frozenset[str]:
        return self._credential_headers

    @functools.cached_property
    def _credential_headers(self) -> frozenset[str]:  # asked for on every request
        return frozenset().union(*(method.credential_headers for method in self.methods))

    def refusal(self, request: Request) -> tuple[str, dict[str, str]]:
        """The 401's message and headers; logs the failure without anything presented."""
        client = request.client.host if request.client else "?"
        log.warning("authentication failed", extra={"client": client, "path": request.url.path})
        hints = "; ".join(method.hint for method in self.methods)
        challenges = [method.challenge for method in self.methods if method.challenge]
        headers = {"WWW-Authenticate": ", ".join(dict.fromkeys(challenges))} if challenges else {}
        return f"authentication required: {hints}", headers


def build_authenticator(settings: Settings, clock: Callable[[], float]) -> Authenticator:
    """The methods the settings turn on (read from their files once, at start-up)."""
    from osc_runtime.auth.api_key import ApiKeyMethod, QueryParamMethod
    from osc_runtime.auth.basic import BasicMethod
    from osc_runtime.auth.signature import SignatureMethod, parse_signature
    from osc_runtime.settings import AuthMode

    if settings.auth is AuthMode.NONE:
        return Authenticator(open=True)
    methods: list[AuthMethod] = []
    keys = [key.encode() for key in settings.keys()]
    if keys:
        methods.append(ApiKeyMethod(keys, settings.api_key_scheme_list(), settings.api_key_header))
    if settings.basic_auth_path is not None:
        methods.append(BasicMethod(settings.basic_auth_lines()))
    hidden: frozenset[str] = frozenset()
    if keys and settings.api_key_query_param:
        methods.append(QueryParamMethod(keys, settings.api_key_query_param))
        hidden = frozenset({settings.api_key_query_param})
    if settings.signature is not None:
        spec = parse_signature(settings.signature)
        methods.append(SignatureMethod(spec, settings.signature_secrets(), clock))
    return Authenticator(tuple(methods), hidden_query_params=hidden)


def secret_values(settings: Settings) -> list[str]:
    """Every secret value a body might echo: the credential's, the keys, passwords, secrets."""
    from osc_runtime.scrub import credential_values

    values = credential_values(settings.credentials_to_mask()) + settings.keys()
    if settings.basic_auth_path is not None:
        values += [line.partition(":")[2] for line in settings.basic_auth_lines()]
    if settings.signature is not None:
        values += settings.signature_secrets()
    return values
