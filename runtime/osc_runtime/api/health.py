"""Probes: /healthz (the process answers) and /readyz (it can run jobs). No key needed."""

from __future__ import annotations

import sqlite3

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from osc_runtime.api.deps import Readiness, RuntimeDep
from osc_runtime.store import Status, StoreUnavailable

router = APIRouter()


@router.get("/healthz", summary="Alive")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready to run jobs: adaptor, node and core resolved, store writable")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks = {"adaptor": runtime.adaptor.state.value, "store": "ok",
              "job": "invalid" if runtime.job_error else "ok",
              "accepting": runtime.cannot_run() is None}
    reasons = []
    if runtime.job_error is not None:
        reasons.append(f"job invalid: {runtime.job_error}")
    elif runtime.adaptor.state is not Readiness.READY:
        reasons.append(f"adaptor {runtime.adaptor.state.value}: {runtime.adaptor.reason}")
    try:
        runtime.store.check_writable()
        queued = runtime.store.count(Status.QUEUED)
    except (sqlite3.Error, StoreUnavailable) as error:
        checks["store"] = "failed"
        reasons.append(f"store not writable: {error}")
        queued = None
    if runtime.draining:
        checks["accepting"] = False
        reasons.append("shutting down")
    body = {
        "status": "ready" if not reasons else "not ready",
        "reason": "; ".join(reasons) or None,
        "checks": checks,
        "adaptor": {"name": runtime.settings.adaptor_name(), "version": runtime.adaptor.version},
        "queued": queued,
        "running": runtime.dispatcher.running,
    }
    return JSONResponse(body, 200 if not reasons else 503)
