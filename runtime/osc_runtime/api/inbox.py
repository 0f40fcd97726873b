"""POST /inbox: authenticate, validate, store durably, answer. Never waits for a job unless asked."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from osc_runtime.api.deps import Authenticated, Runtime, RuntimeDep
from osc_runtime.payload import PayloadError, parse_payload
from osc_runtime.settings import EndpointStyle
from osc_runtime.store import QueueFull, Run, Status, Submission, SubmissionRefused

router = APIRouter()

BODY_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
}
TRIGGER_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as HTTP headers should be
UPSTREAM_PATTERN = r"^[A-Za-z0-9._-]+/[0-9a-f]{32}$"  # <upstream job>/<run id>


@router.post("/inbox", status_code=202, dependencies=[Authenticated],
             openapi_extra={"requestBody": BODY_SCHEMA}, summary="Accept a payload as a new run")
async def accept(
    request: Request,
    runtime: RuntimeDep,
    sync: Annotated[bool | None, Query(description="Wait for the run (default: OSC_ENDPOINT_STYLE)")] = None,
    idempotency_key: Annotated[str | None, Header(pattern=IDEMPOTENCY_KEY_PATTERN)] = None,
    x_osc_trigger: Annotated[str | None, Header(pattern=TRIGGER_PATTERN)] = None,
    x_osc_upstream: Annotated[str | None, Header(max_length=300, pattern=UPSTREAM_PATTERN)] = None,
) -> JSONResponse:
    if runtime.draining:
        raise HTTPException(503, "the service is shutting down; retry shortly",
                            headers={"Retry-After": "5"})
    _require_json(request)
    raw = await _read_body(request, runtime.settings.max_body_bytes,
                           runtime.settings.body_timeout_seconds)
    try:
        payload = parse_payload(raw)
    except PayloadError as error:
        raise HTTPException(400, str(error)) from None
    if (unmatched := request.app.state.message_filter.mismatch(payload)) is not None:
        return _not_matched(request, unmatched)
    try:
        run, verdict = await _store(runtime, payload, idempotency_key, x_osc_trigger or "webhook")
    except QueueFull:
        raise HTTPException(429, "too many runs are waiting; retry later",
                            headers={"Retry-After": "10"}) from None
    except SubmissionRefused as refused:
        raise HTTPException(400, str(refused)[:300]) from None
    if verdict == 409:
        raise HTTPException(409, "this Idempotency-Key was already used with a different body")
    if verdict == 200:  # the same key and body again: the earlier run, nothing new
        return _answer(run, 200)
    runtime.dispatcher.events.accepted(run, x_osc_upstream)
    runtime.dispatcher.wake()
    if sync if sync is not None else runtime.settings.endpoint_style is EndpointStyle.SYNC:
        return await _wait(runtime, run)
    return _answer(run, 202)


def _not_matched(request: Request, path: str) -> JSONResponse:
    """OSC_FILTER said no: not an error, so 200, and no run."""
    request.app.state.metrics.filtered.inc()
    return JSONResponse({"matched": False, "run_id": None,
                         "reason": f"the body does not match the filter at {path!r}"}, 200)


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise HTTPException(415, "the body must be JSON (Content-Type: application/json)")


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    too_large = HTTPException(413, f"the body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):  # a body sent a byte at a time holds a connection
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise too_large
    except TimeoutError:
        raise HTTPException(408, f"the body did not arrive within {timeout:g} s",
                            headers={"Connection": "close"}) from None
    return bytes(body)


async def _store(runtime: Runtime, payload: object, key: str | None,
                 trigger: str) -> tuple[Run, int]:
    """The run and the answer's status: 202 new, 200 a repeat (same key and body), 409 a clash."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    # The same JSON value counts as the same body, whatever its key order or spacing.
    canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    since = runtime.store.clock() - runtime.settings.idempotency_window_seconds
    run, created = await runtime.inbox_writer.add(Submission(text, trigger, digest, key, since))
    if created:
        return run, 202
    return run, 200 if run.body_sha256 == digest else 409


async def _wait(runtime: Runtime, run: Run) -> JSONResponse:
    finished = await runtime.dispatcher.wait_finished(run.run_id, runtime.settings.sync_wait_seconds)
    if finished is None or not finished.finished:
        return _answer(finished or run, 202)
    return _answer(finished, 201 if finished.status is Status.SUCCESS else 502)


def _answer(run: Run, status_code: int) -> JSONResponse:
    return JSONResponse(run.to_json(), status_code, headers={"Location": f"/runs/{run.run_id}"})
