"""RunStore: every accepted run, durably, in SQLite (WAL) under the data dir.

A run is committed (and fsynced) before the inbox answers 202, so an accepted run survives a
crash. Workers claim runs with one UPDATE, so two workers never take the same run. The number
of queued runs is kept in memory (this process is the only writer), so the inbox's back-pressure
check costs no query.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from osc_runtime import attempts, run_requests
from osc_runtime.run_requests import RunRequest
from osc_runtime.run_stats import run_stats
from osc_runtime.runlog import PRIVATE_FILE_MODE

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

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    trigger TEXT NOT NULL,
    input TEXT NOT NULL,
    body_sha256 TEXT,
    idempotency_key TEXT,
    exit_code INTEGER,
    error TEXT,
    outcome TEXT,
    final_state TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    not_before REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, seq);
CREATE UNIQUE INDEX IF NOT EXISTS runs_by_idempotency_key ON runs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"""


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
    """SQLite would not take this submission (a value it cannot store); nothing was stored."""


# Errors that belong to one submission's values, not to the database: they fail only it.
SUBMISSION_ERRORS = (ValueError, sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError)


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


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"


def new_run_id() -> str:
    return uuid.uuid4().hex


def open_database(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the store's SQLite file (WAL), creating `schema` where it is missing."""
    _make_private(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: a 202 means the run is on disk, not only in the OS cache.
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(schema)
    return db


def _make_private(path: Path) -> None:
    """runs.db holds every run's input and final state: mode 0600. SQLite gives the -wal and
    -shm files it creates the database file's mode, so creating the file first covers them;
    files an older version left with a wider mode are narrowed."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", PRIVATE_FILE_MODE)


@contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Commit what the block wrote, or roll it all back; writers queue at BEGIN."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class RunStore:
    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._db = open_database(path, SCHEMA + run_requests.SCHEMA + attempts.SCHEMA)
        with immediate_transaction(self._db) as db:
            attempts.backfill(db)  # a data dir from before attempts were kept
        self.queued = self._db.execute("SELECT COUNT(*) FROM runs WHERE status = ?",
                                       (Status.QUEUED,)).fetchone()[0]
        self._queued_change = 0  # by the open transaction; applied once it commits

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._queued_change = 0
            with immediate_transaction(self._db) as db:
                yield db
            self.queued += self._queued_change

    def add(self, input_json: str, *, trigger: str = "webhook", body_sha256: str | None = None,
            idempotency_key: str | None = None, keys_since: float = 0) -> tuple[Run, bool]:
        """Store a new queued run; return it and True.

        With an idempotency key already used by a run created at or after `keys_since`, store
        nothing and return that run and False. An older use of the key is forgotten.
        """
        submission = Submission(input_json, trigger, body_sha256, idempotency_key, keys_since)
        return self.add_many([submission])[0]  # type: ignore[return-value] (no limit given)

    def add_many(self, submissions: list[Submission], max_queued: int | None = None
                 ) -> list[tuple[Run, bool] | QueueFull | SubmissionRefused]:
        """`add` each submission, in order, in one transaction (one fsync for them all);
        QueueFull for those that would make more than `max_queued` runs queued.

        A submission that SQLite refuses fails alone (SubmissionRefused in its place) and the
        others are committed. The batch is first written plainly (two statements per new run);
        only if SQLite refuses one is that attempt rolled back as a whole and the batch written
        again with a savepoint per submission.
        """
        try:
            return self._add_batch(submissions, max_queued, isolated=False)
        except SUBMISSION_ERRORS:  # nothing of that attempt was kept
            return self._add_batch(submissions, max_queued, isolated=True)

    def _add_batch(self, submissions: list[Submission], max_queued: int | None, *,
                   isolated: bool) -> list[tuple[Run, bool] | QueueFull | SubmissionRefused]:
        results: list[tuple[Run, bool] | QueueFull | SubmissionRefused] = []
        with self._transaction() as db:
            for submission in submissions:
                if max_queued is not None and self.queued + self._queued_change >= max_queued:
                    results.append(QueueFull())
                elif isolated:
                    results.append(self._add_one(db, submission))
                else:
                    results.append(self._insert(db, submission))
        return results

    def _add_one(self, db: sqlite3.Connection,
                 submission: Submission) -> tuple[Run, bool] | SubmissionRefused:
        queued_before = self._queued_change
        db.execute("SAVEPOINT submission")
        try:
            added = self._insert(db, submission)
        except SUBMISSION_ERRORS as error:
            db.execute("ROLLBACK TO submission")
            db.execute("RELEASE submission")
            self._queued_change = queued_before
            return SubmissionRefused(f"the run cannot be stored: {error}")
        db.execute("RELEASE submission")
        return added

    def _insert(self, db: sqlite3.Connection, submission: Submission) -> tuple[Run, bool]:
        existing = _run_with_key(db, submission.idempotency_key, submission.keys_since)
        if existing is not None:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (existing,)).fetchone()
            return _to_run(row), False
        run_id, created_at = new_run_id(), self.clock()
        cursor = db.execute(
            "INSERT INTO runs (run_id, status, trigger, input, body_sha256,"
            " idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, Status.QUEUED, submission.trigger, submission.input_json,
             submission.body_sha256, submission.idempotency_key, created_at),
        )
        if submission.request is not None:
            run_requests.insert(db, run_id, submission.request)
        self._queued_change += 1
        # The row as stored, the other columns at their defaults, without reading it back
        # (`test_group_commit` checks that the two are equal).
        return Run(seq=cursor.lastrowid, run_id=run_id, status=Status.QUEUED, attempt=1,
                   trigger=submission.trigger, input=submission.input_json,
                   body_sha256=submission.body_sha256, idempotency_key=submission.idempotency_key,
                   exit_code=None, error=None, outcome=None, final_state=None,
                   created_at=created_at, started_at=None, finished_at=None, not_before=0), True

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _to_run(row)

    def request_of(self, run_id: str) -> RunRequest | None:
        """What came in with the run (None for runs stored before this was kept)."""
        with self._lock:
            return run_requests.select(self._db, run_id)

    def list(self, *, statuses: list[str] | None = None, before_seq: int | None = None,
             limit: int = 50, bodies: bool = False) -> list[Run]:
        """Newest first; `before_seq` pages on from the last run of the previous page.

        Without `bodies`, summaries: no input, no final state, the error cut (SUMMARY_COLUMNS).
        """
        clauses, params = [], []
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        columns = "*" if bodies else SUMMARY_COLUMNS
        sql = f"SELECT {columns} FROM runs {where} ORDER BY seq DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*params, limit)).fetchall()
        return [_to_run(row) for row in rows]

    def stats(self, hours: int = 24) -> dict[str, Any]:
        """Runs per hour by status and duration percentiles over the last `hours` (see run_stats)."""
        with self._lock:
            return run_stats(self._db, self.clock(), FINISHED, hours)

    def count(self, status: Status) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM runs WHERE status = ?", (status,)).fetchone()[0]

    def claim_next(self, *, skip_trigger: str | None = None) -> Run | None:
        """Mark the oldest due queued run running and return it (None when nothing is due).
        `skip_trigger`: leave runs of that trigger queued (one of them is running already)."""
        now = self.clock()
        skip = "" if skip_trigger is None else " AND trigger != ?"
        with self._transaction() as db:
            row = db.execute(
                f"SELECT run_id FROM runs WHERE status = ? AND not_before <= ?{skip}"
                " ORDER BY seq LIMIT 1",
                (Status.QUEUED, now, *([skip_trigger] if skip_trigger else [])),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE runs SET status = ?, started_at = ?, finished_at = NULL WHERE run_id = ?",
                (Status.RUNNING, now, row["run_id"]),
            )
            self._queued_change -= 1
        return self.get(row["run_id"])

    def next_due_at(self, *, skip_trigger: str | None = None) -> float | None:
        """When the earliest queued run becomes due (for retry backoff), or None."""
        skip = "" if skip_trigger is None else " AND trigger != ?"
        with self._lock:
            row = self._db.execute(
                f"SELECT MIN(not_before) FROM runs WHERE status = ?{skip}",
                (Status.QUEUED, *([skip_trigger] if skip_trigger else [])),
            ).fetchone()
        return row[0]

    def finish(self, run_id: str, status: Status, *, outcome: str, exit_code: int | None,
               error: str | None, final_state: str | None) -> None:
        now = self.clock()
        with self._transaction() as db:
            attempts.record_ended(db, run_id, outcome=outcome, exit_code=exit_code, error=error,
                                  finished_at=now)
            db.execute(
                "UPDATE runs SET status = ?, outcome = ?, exit_code = ?, error = ?, final_state = ?,"
                " finished_at = ? WHERE run_id = ? AND status = ?",
                (status, outcome, exit_code, error, final_state, now, run_id, Status.RUNNING),
            )

    def requeue(self, run_id: str, *, not_before: float = 0, outcome: str | None = None,
                exit_code: int | None = None, error: str | None = None,
                from_statuses: frozenset[Status] = frozenset({Status.RUNNING})) -> bool:
        """Queue a run again as its next attempt (same input); False if it was not in
        `from_statuses`. A running attempt ends here with `outcome`, `exit_code` and `error`
        (kept in its attempt's record); the run's own fields then describe the new attempt."""
        marks = ",".join("?" * len(from_statuses))
        now = self.clock()
        with self._transaction() as db:
            if outcome is not None:
                attempts.record_ended(db, run_id, outcome=outcome, exit_code=exit_code,
                                      error=error, finished_at=now)
            cursor = db.execute(
                "UPDATE runs SET status = ?, attempt = attempt + 1, not_before = ?, outcome = NULL,"
                " exit_code = NULL, error = NULL, final_state = NULL, started_at = NULL,"
                f" finished_at = NULL WHERE run_id = ? AND status IN ({marks})",
                (Status.QUEUED, not_before, run_id, *from_statuses),
            )
            if Status.QUEUED not in from_statuses:
                self._queued_change += cursor.rowcount
        return cursor.rowcount == 1

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """The run's ended attempts, oldest first (see attempts.py)."""
        with self._lock:
            return attempts.attempts_of(self._db, run_id)

    def interrupted(self) -> list[Run]:
        """Runs left `running` by a previous process (call before any worker starts)."""
        return self.list(statuses=[Status.RUNNING], limit=1_000_000, bodies=True)

    def delete_finished(self, *, older_than: float, keep_newest: int) -> list[str]:
        """Delete finished runs created before `older_than` or not among the newest
        `keep_newest` runs; return their ids."""
        finished = ",".join("?" * len(FINISHED))
        with self._transaction() as db:
            newest = db.execute("SELECT seq FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?",
                                (keep_newest - 1,)).fetchone()
            floor = newest[0] if newest else 0
            rows = db.execute(
                f"SELECT run_id FROM runs WHERE status IN ({finished})"
                " AND (created_at < ? OR seq < ?)", (*FINISHED, older_than, floor),
            ).fetchall()
            ids = [row[0] for row in rows]
            db.executemany("DELETE FROM runs WHERE run_id = ?", [(run_id,) for run_id in ids])
        return ids

    def check_writable(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at REAL)")
            db.execute("INSERT OR REPLACE INTO health (id, at) VALUES (1, ?)", (self.clock(),))


def _run_with_key(db: sqlite3.Connection, key: str | None, since: float) -> str | None:
    if key is None:
        return None
    row = db.execute("SELECT run_id, created_at FROM runs WHERE idempotency_key = ?", (key,)).fetchone()
    if row is not None and row["created_at"] >= since:
        return row["run_id"]
    db.execute("UPDATE runs SET idempotency_key = NULL WHERE idempotency_key = ?", (key,))
    return None


def _to_run(row: sqlite3.Row | None) -> Run | None:
    if row is None:
        return None
    values = dict(row)
    values["status"] = Status(values["status"])
    return Run(**values)
