"""What the run store keeps and answers, whichever database holds it (sqlite.py, postgres.py)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from osc_runtime.run_requests import RunRequest

Clock = Callable[[], float]


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CRASHED = "crashed"
    DEAD = "dead"  # attempts exhausted: the dead-letter state


FINISHED = frozenset({Status.SUCCESS, Status.FAILED, Status.TIMED_OUT, Status.CRASHED, Status.DEAD})

# What a list of runs reads: not the input body nor the final state (each may be megabytes, and
# a list shows neither), and no more of an error than a list shows. A page of 500 runs then
# stays small whatever was stored.
LIST_ERROR_CHARS = 2000
SUMMARY_COLUMNS = (
    "seq, run_id, status, attempt, trigger, NULL AS input, body_sha256, idempotency_key,"
    f" exit_code, substr(error, 1, {LIST_ERROR_CHARS}) AS error, outcome, NULL AS final_state,"
    " created_at, started_at, finished_at, not_before"
)


class QueueFull(Exception):
    """As many runs as allowed are already queued."""


class SubmissionRefused(ValueError):
    """The database would not take this submission (a value it cannot store); nothing was stored."""


class StoreUnavailable(RuntimeError):
    """The database cannot be reached now (PostgreSQL down or restarting); retry shortly."""


@dataclass(frozen=True)
class Submission:
    """A run to add: the body as JSON text and how the inbox received it."""

    input_json: str
    trigger: str = "webhook"
    body_sha256: str | None = None
    idempotency_key: str | None = None
    keys_since: float = 0  # an idempotency key used before this moment is forgotten
    request: RunRequest | None = None  # raw body, content type, state.request, auth method


@dataclass(frozen=True)
class Run:
    seq: int
    run_id: str
    status: Status
    attempt: int
    trigger: str
    input: str | None  # the request body as JSON text (None in a list: see SUMMARY_COLUMNS)
    body_sha256: str | None
    idempotency_key: str | None
    exit_code: int | None
    error: str | None
    outcome: str | None  # the last attempt's outcome (tells why a run is dead)
    final_state: str | None  # JSON text, scrubbed; only on success
    created_at: float
    started_at: float | None
    finished_at: float | None
    not_before: float

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self, *, with_state: bool = True) -> dict[str, Any]:
        """The run as the API shows it (the input body and keys stay private)."""
        duration = None
        if self.started_at is not None and self.finished_at is not None:
            duration = round(self.finished_at - self.started_at, 3)
        record: dict[str, Any] = {
            "run_id": self.run_id,
            "status": str(self.status),
            "attempt": self.attempt,
            "trigger": self.trigger,
            "exit_code": self.exit_code,
            "error": self.error,
            "outcome": self.outcome,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": duration,
        }
        if with_state and self.status is Status.SUCCESS and self.final_state is not None:
            record["final_state"] = json.loads(self.final_state)
        return record


RUN_FIELDS = tuple(field.name for field in fields(Run))


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"


def new_run_id() -> str:
    """32 hex digits: the time in milliseconds (12), then 80 random bits (20), as in a version 7
    UUID. New ids sort after the older ones, so the indexes on run ids grow at their end: a
    batch of runs changes one or two of their pages, not one page per run (random ids made
    each commit write about three times as many pages, and the inbox ~20 % slower)."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def _to_run(row: Any) -> Run | None:
    """A row of `runs` as a Run (columns the Run does not show, such as a lease, are left out)."""
    if row is None:
        return None
    values = {name: row[name] for name in RUN_FIELDS}
    values["status"] = Status(values["status"])
    return Run(**values)
