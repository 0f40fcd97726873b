"""POST /inbox: authenticate, validate, store durably, answer. Never waits for a job unless asked.

The body may be JSON, a form or XML (`bodies.py`); it is authenticated by any configured
method (`auth/`), a signature over the raw bytes before anything parses them. The raw body,
its content type, how it was called and which method accepted it stay with the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from osc_runtime.api.deps import Runtime, RuntimeDep
from osc_runtime.api.replies import ReplyError, accept_answer, job_answer, run_answer
from osc_runtime.bodies import ACCEPTED, BodyError, check_media_type, parse_body
from osc_runtime.connections import BODY_RECEIVED
from osc_runtime.idempotency import parse_idempotency_from
from osc_runtime.request_meta import describe_request
from osc_runtime.run_requests import RunRequest
from osc_runtime.settings import EndpointStyle
from osc_runtime.store import QueueFull, Run, Status, StoreUnavailable, Submission, SubmissionRefused

router = APIRouter()

BODY_SCHEMA = {
    "required": True,
    "description": f"JSON, a form or XML: {ACCEPTED}",
    "content": {"application/json": {"schema": {"type": ["object", "array"]}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}}},
}
TRIGGER_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as HTTP headers should be
UPSTREAM_PATTERN = r"^[A-Za-z0-9._-]+/[0-9a-f]{32}$"  # <upstream job>/<run id>


@router.post("/inbox", status_code=202, openapi_extra={"requestBody": BODY_SCHEMA},
             summary="Accept a payload as a new run")
async def accept(
    request: Request,
    runtime: RuntimeDep,
    sync: Annotated[bool | None, Query(description="Wait for the run (default: OSC_ENDPOINT_STYLE)")] = None,
    idempotency_key: Annotated[str | None, Header(pattern=IDEMPOTENCY_KEY_PATTERN)] = None,
    x_osc_trigger: Annotated[str | None, Header(pattern=TRIGGER_PATTERN)] = None,
    x_osc_upstream: Annotated[str | None, Header(max_length=300, pattern=UPSTREAM_PATTERN)] = None,
) -> Response:
    # The documented route. Most requests never reach it: `inbox_fast` answers those whose
    # parameters need no validation beyond its own, through the same `accept_delivery`.
    return await accept_delivery(request, runtime, sync, idempotency_key, x_osc_trigger,
                                 x_osc_upstream)


async def accept_delivery(request: Request, runtime: Runtime, sync: bool | None,
                          idempotency_key: str | None, trigger: str | None,
                          upstream: str | None) -> Response:
    """Everything POST /inbox does once its parameters are valid; raises HTTPException."""
    auth, raw, payload = await _authenticated_body(request, runtime)
    if (unmatched := request.app.state.message_filter.mismatch(payload)) is not None:
        return _not_matched(request, unmatched)
    came_in = _came_in(request, runtime, auth, raw)
    key = idempotency_key or _sender_key(request, runtime, payload)
    try:
        run, verdict = await _store(runtime, payload, key, trigger or "webhook", came_in)
    except QueueFull:
        raise HTTPException(429, "too many runs are waiting; retry later",
                            headers={"Retry-After": "10"}) from None
    except SubmissionRefused as refused:
        raise HTTPException(400, str(refused)[:300]) from None
    except StoreUnavailable:  # nothing was stored: the sender keeps the delivery and retries
        raise HTTPException(503, "the run store is unavailable; retry shortly",
                            headers={"Retry-After": "5"}) from None
    if verdict == 409:
        raise HTTPException(409, "this Idempotency-Key was already used with a different body")
    if verdict == 200:  # the same key and body again: the earlier run, nothing new
        return accept_answer(runtime.settings, run, 200, auth)
    runtime.dispatcher.events.accepted(run, upstream, auth=auth)
    runtime.dispatcher.wake()
    if sync if sync is not None else runtime.settings.endpoint_style is EndpointStyle.SYNC:
        return await _wait(runtime, run, auth)
    return accept_answer(runtime.settings, run, 202, auth)


async def _authenticated_body(request: Request, runtime: Runtime) -> tuple[str, bytes, object]:
    """(method, raw body, data): header methods first, so most refusals read no body; a
    signature is checked over the raw bytes before they are parsed."""
    auth = runtime.auth.authenticate(request, None)
    if auth is None and not runtime.auth.needs_body:
        _refuse(request, runtime)
    if runtime.draining:
        raise HTTPException(503, "the service is shutting down; retry shortly",
                            headers={"Retry-After": "5"})
    if (problem := runtime.cannot_run()) is not None:  # queued runs could only wait or fail
        raise HTTPException(503, f"{problem}; no run is accepted until it is fixed")
    content_type = request.headers.get("content-type", "")
    try:
        check_media_type(content_type)
        raw = await _read_body(request, runtime.settings.max_body_bytes,
                               runtime.settings.body_timeout_seconds)
        if auth is None and (auth := runtime.auth.authenticate(request, raw)) is None:
            _refuse(request, runtime)
        return auth, raw, parse_body(content_type, raw)
    except BodyError as error:
        raise HTTPException(error.status, str(error)) from None


def _refuse(request: Request, runtime: Runtime) -> None:
    message, headers = runtime.auth.refusal(request)
    raise HTTPException(401, message, headers=headers)


def _came_in(request: Request, runtime: Runtime, auth: str, raw: bytes) -> RunRequest:
    meta = describe_request(request, runtime.auth.credential_headers(),
                            runtime.auth.hidden_query_params)
    return RunRequest(auth, request.headers.get("content-type"), raw, meta)


def _sender_key(request: Request, runtime: Runtime, payload: object) -> str | None:
    """OSC_IDEMPOTENCY_FROM: the sender's own delivery id, when the request has no key."""
    source = runtime.settings.idempotency_from
    return parse_idempotency_from(source).key_of(request, payload) if source else None


def _not_matched(request: Request, path: str) -> JSONResponse:
    """OSC_FILTER said no: not an error, so 200, and no run."""
    request.app.state.metrics.filtered.inc()
    return JSONResponse({"matched": False, "run_id": None,
                         "reason": f"the body does not match the filter at {path!r}"}, 200)


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    too_large = HTTPException(413, f"the body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    # A body sent a byte at a time holds a connection; one already whole needs no timer.
    bound = contextlib.nullcontext() if request.scope.get(BODY_RECEIVED) else asyncio.timeout(timeout)
    try:
        async with bound:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise too_large
    except TimeoutError:
        raise HTTPException(408, f"the body did not arrive within {timeout:g} s",
                            headers={"Connection": "close"}) from None
    return bytes(body)


async def _store(runtime: Runtime, payload: object, key: str | None,
                 trigger: str, came_in: RunRequest) -> tuple[Run, int]:
    """The run and the answer's status: 202 new, 200 a repeat (same key and body), 409 a clash."""
    try:
        text = orjson.dumps(payload).decode()
    except TypeError:  # an integer past 64 bits
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    # Compared only with a later use of the same key. The same JSON value counts as the same
    # body, whatever its key order or spacing.
    digest = None if key is None else hashlib.sha256(
        json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()).hexdigest()
    since = runtime.store.clock() - runtime.settings.idempotency_window_seconds
    run, created = await runtime.inbox_writer.add(
        Submission(text, trigger, digest, key, since, came_in))
    if created:
        return run, 202
    return run, 200 if run.body_sha256 == digest else 409


async def _wait(runtime: Runtime, run: Run, auth: str) -> Response:
    finished = await runtime.dispatcher.wait_finished(run.run_id, runtime.settings.sync_wait_seconds)
    if finished is None or not finished.finished:
        return run_answer(finished or run, 202, auth)
    try:
        reply = job_answer(finished)
    except ReplyError as error:  # the run succeeded; only its reply is unusable
        return JSONResponse({"error": str(error), "run_id": run.run_id}, 502)
    if reply is not None:
        return reply
    return run_answer(finished, 201 if finished.status is Status.SUCCESS else 502, auth)
