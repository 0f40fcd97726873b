"""The runs API: list, inspect, read the input and the log, retry by hand, the last day's stats."""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from osc_runtime import attempts
from osc_runtime.api.deps import Authenticated, Runtime, RuntimeDep
from osc_runtime.auth import secret_values
from osc_runtime.scrub import Scrubber
from osc_runtime.store import FINISHED, Run, Status

router = APIRouter(dependencies=[Authenticated])

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
STATUSES = ", ".join(status.value for status in Status)


@router.get("/runs", summary="List runs, newest first")
def list_runs(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(description=f"Comma-separated: {STATUSES}")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict:
    wanted = [part.strip() for part in (status or "").split(",") if part.strip()]
    unknown = [part for part in wanted if part not in Status.__members__.values()]
    if unknown:
        raise HTTPException(400, f"unknown status {unknown[0][:40]!r}; use {STATUSES}")
    if cursor is not None and not (cursor.isdigit() and len(cursor) < 19):
        raise HTTPException(400, "cursor must be the next_cursor of a previous page")
    runs = runtime.store.list(statuses=wanted or None, limit=limit,
                              before_seq=int(cursor) if cursor else None)
    next_cursor = str(runs[-1].seq) if len(runs) == limit else None
    return {"runs": [run.to_json(with_state=False) for run in runs], "next_cursor": next_cursor}


@router.get("/runs/stats", summary="The last day: runs per hour by status, duration percentiles")
def run_stats(runtime: RuntimeDep) -> dict:
    return runtime.store.stats()


@router.get("/runs/{run_id}", summary="One run: status, attempt, times, error, final state")
def get_run(run_id: str, runtime: RuntimeDep) -> dict:
    run = _find(runtime, run_id)
    record = runtime.dispatcher.events.describe(run)
    if (came_in := runtime.store.request_of(run.run_id)) is not None:
        record |= {"auth": came_in.auth, "content_type": came_in.content_type}
    current = None if run.finished else {"attempt": run.attempt, "status": str(run.status),
                                         "started_at": run.started_at}
    record["attempts"] = attempts.describe(runtime.store.attempts(run.run_id), current)
    return record


@router.get("/runs/{run_id}/input", response_class=Response,
            summary="A run's input: the body as received, credential values masked")
def get_input(run_id: str, runtime: RuntimeDep) -> Response:
    """The stored raw body with its Content-Type; credential, key and secret values masked."""
    run = _find(runtime, run_id)
    came_in = runtime.store.request_of(run.run_id)
    if came_in is None:  # stored before raw bodies were kept: its JSON is all there is
        raw, content_type = run.input.encode(), "application/json"
    else:
        raw, content_type = came_in.raw_body, came_in.content_type or "application/octet-stream"
    scrubber = Scrubber(secret_values(runtime.settings))
    media_type = content_type.split(";")[0].strip().lower()
    text = raw.decode("utf-8", "replace")
    if media_type == "application/json" or media_type.endswith("+json"):
        # Masked as a value, not as text: a secret with a quote or a backslash is escaped there.
        body = json.dumps(scrubber.value(json.loads(text)), ensure_ascii=False)
    else:
        body = scrubber.text(text)
    return Response(body, media_type=content_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/runs/{run_id}/log", response_class=PlainTextResponse, summary="A run's log")
def get_log(run_id: str, runtime: RuntimeDep) -> PlainTextResponse:
    run = _find(runtime, run_id)
    path = runtime.dispatcher.log_path(run.run_id)
    text = runtime.store.log_of(run.run_id)  # PostgreSQL: any replica's attempts
    if text is None:
        text = path.read_bytes().decode("utf-8", "replace") if path.is_file() else ""
    return PlainTextResponse(text)


@router.post("/runs/{run_id}/retry", status_code=202, summary="Queue a finished run again")
def retry_run(run_id: str, runtime: RuntimeDep) -> JSONResponse:
    if runtime.draining:
        raise HTTPException(503, "the service is shutting down; retry shortly",
                            headers={"Retry-After": "5"})
    run = _find(runtime, run_id)
    if not runtime.store.requeue(run.run_id, from_statuses=FINISHED, outcome=run.outcome,
                                 exit_code=run.exit_code, error=run.error):
        raise HTTPException(409, f"the run is {runtime.store.get(run.run_id).status}, not finished")
    runtime.dispatcher.wake()
    retried = runtime.store.get(run.run_id)
    return JSONResponse(retried.to_json(), 202, headers={"Location": f"/runs/{run.run_id}"})


def _find(runtime: Runtime, run_id: str) -> Run:
    run = runtime.store.get(run_id) if RUN_ID.match(run_id) else None
    if run is None:
        raise HTTPException(404, "no such run")
    return run
