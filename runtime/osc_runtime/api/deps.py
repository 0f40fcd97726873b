"""What every route shares: the runtime's parts, the API-key check and JSON errors."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from osc_runtime.dispatcher import Dispatcher
from osc_runtime.group_commit import GroupCommit
from osc_runtime.settings import AuthMode, Settings
from osc_runtime.store import RunStore

log = logging.getLogger("osc_runtime.api")


class Readiness(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass
class AdaptorStatus:
    state: Readiness = Readiness.PENDING
    reason: str | None = "resolving the adaptor"
    version: str | None = None
    permanent: bool = False  # FAILED for good (npm: no such package or version), not retried


@dataclass
class Runtime:
    """The parts of one running service, built by the app's lifespan."""

    settings: Settings
    store: RunStore
    dispatcher: Dispatcher
    keys: list[bytes]
    inbox_writer: GroupCommit  # the inbox's runs, committed in shared transactions
    adaptor: AdaptorStatus = field(default_factory=AdaptorStatus)
    draining: bool = False
    job_error: str | None = None  # the job does not compile: the compiler's message
    exit_code: int = 0  # what `serve` exits with once stopped (see invalid_job.py)

    def cannot_run(self) -> str | None:
        """Why no run can ever succeed as things are (the inbox then refuses), or None."""
        if self.job_error is not None:
            return f"the job is invalid: {self.job_error}"
        if self.adaptor.state is Readiness.FAILED and self.adaptor.permanent:
            return f"the adaptor cannot be installed: {self.adaptor.reason}"
        return None


# The dependencies are async: FastAPI would run plain functions in a thread, a hop per request.
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def require_key(request: Request, runtime: RuntimeDep) -> None:
    """`Authorization: Bearer <key>` or `X-API-Key: <key>`, compared in constant time."""
    if runtime.settings.auth is AuthMode.NONE:
        return
    presented = _presented_key(request)
    # Compare against every key, so the time taken does not tell which one nearly matched.
    matches = [hmac.compare_digest(presented, key) for key in runtime.keys]
    if presented and any(matches):
        return
    client = request.client.host if request.client else "?"
    log.warning("authentication failed", extra={"client": client, "path": request.url.path})
    raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key> or "
                             "X-API-Key: <key>)", headers={"WWW-Authenticate": 'Bearer realm="osc"'})


def _presented_key(request: Request) -> bytes:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip().encode("utf-8", "replace")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip().encode("utf-8", "replace")
    return b""


Authenticated = Depends(require_key)
