"""What every route shares: the runtime's parts, the API-key check and JSON errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from osc_runtime.auth import Authenticator
from osc_runtime.dispatcher import Dispatcher
from osc_runtime.group_commit import GroupCommit
from osc_runtime.settings import Settings
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
    auth: Authenticator  # OSC_API_KEYS, OSC_BASIC_AUTH_PATH, OSC_SIGNATURE, …
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


async def require_key(request: Request, runtime: RuntimeDep) -> str:
    """Any configured method that needs no body (API key, Basic, query parameter); returns
    its name. Signatures prove a delivery to the inbox, which checks them over the body."""
    method = runtime.auth.authenticate(request, None)
    if method is None:
        message, headers = runtime.auth.refusal(request)
        raise HTTPException(401, message, headers=headers)
    return method


Authenticated = Depends(require_key)
