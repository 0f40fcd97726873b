"""BaseRunStore: the run store's logic in SQL that SQLite and PostgreSQL both speak.

The two stores (sqlite.py, postgres.py) differ only where their databases do: how a write
transaction starts, how many runs are queued (SQLite: one writer, counted in memory; PostgreSQL:
counted in the transaction, under a lock), how a run is claimed (PostgreSQL: `FOR UPDATE SKIP
LOCKED`, under a lease) and who may end an attempt (PostgreSQL: only the lease's holder).
Placeholders are `?`; postgres.py turns them into psycopg's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from osc_runtime import attempts, run_requests
from osc_runtime.run_requests import RunRequest
from osc_runtime.run_stats import run_stats
from osc_runtime.store.model import (
    FINISHED, SUMMARY_COLUMNS, Clock, QueueFull, Run, Status, Submission, SubmissionRefused,
    _to_run, new_run_id,
)


INSERT_RUN = ("INSERT INTO runs (run_id, status, trigger, input, body_sha256, idempotency_key,"
              " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")


class Connection(Protocol):
    def execute(self, sql: str, params: Any = ()) -> Any: ...
    def executemany(self, sql: str, rows: Any) -> Any: ...


class Database(Protocol):
    """Where a store's tables live: a write transaction, a read, the dialect's few differences."""

    submission_errors: tuple[type[BaseException], ...]  # a value this database refuses
    integer_floor: str  # SQL for ⌊x⌋ as an integer, `{}` standing for x

    def transaction(self) -> AbstractContextManager[Connection]: ...
    def read(self) -> AbstractContextManager[Connection]: ...
    def close(self) -> None: ...


class BaseRunStore:
    shared = False  # several runtimes may use the same database (PostgreSQL)

    def __init__(self, database: Database, clock: Clock) -> None:
        self.clock = clock
        self._db = database

    @property
    def database(self) -> Database:
        return self._db

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[Connection]:
        return self._db.transaction()

    # hooks the two stores fill in

    def _queued_before(self, db: Connection, exact: bool) -> int:
        raise NotImplementedError

    def _count_queued(self, db: Connection, change: int) -> None:
        """`change` runs were queued (or taken off the queue) by this transaction."""

    def _lock_key(self, db: Connection, key: str) -> None:
        """Hold off other writers of the same idempotency key until this transaction ends."""

    def _next_queued(self, db: Connection, now: float, skip_trigger: str | None) -> Any:
        skip = "" if skip_trigger is None else " AND trigger != ?"
        return db.execute(
            f"SELECT run_id, attempt, trigger FROM runs WHERE status = ? AND not_before <= ?{skip}"
            " ORDER BY seq LIMIT 1", (Status.QUEUED, now, *([skip_trigger] if skip_trigger else [])),
        ).fetchone()

    def _claim(self, db: Connection, run_id: str, now: float) -> None:
        db.execute("UPDATE runs SET status = ?, started_at = ?, finished_at = NULL WHERE run_id = ?",
                   (Status.RUNNING, now, run_id))

    def _ownership(self, run_id: str, now: float) -> tuple[str, tuple]:
        """An extra condition on ending the run's running attempt (SQL, params)."""
        return "", ()

    def _insert_run(self, db: Connection, values: tuple) -> int:
        """Insert a run's row (INSERT_RUN's columns); its seq."""
        return db.execute(f"{INSERT_RUN} RETURNING seq", values).fetchone()[0]

    def _ended(self, run_id: str) -> None:
        """The attempt this process was running has been recorded."""

    # adding runs

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

        A submission the database refuses fails alone (SubmissionRefused in its place) and the
        others are committed. The batch is first written plainly (two statements per new run);
        only if the database refuses one is that transaction rolled back as a whole and the
        batch written again with a savepoint per submission.
        """
        try:
            return self._add_batch(submissions, max_queued, isolated=False)
        except self._db.submission_errors:  # nothing of that transaction was kept
            return self._add_batch(submissions, max_queued, isolated=True)

    def _add_batch(self, submissions: list[Submission], max_queued: int | None, *,
                   isolated: bool) -> list[tuple[Run, bool] | QueueFull | SubmissionRefused]:
        results: list[tuple[Run, bool] | QueueFull | SubmissionRefused] = []
        with self._transaction() as db:
            queued, added = self._queued_before(db, max_queued is not None), 0
            for submission in submissions:
                if max_queued is not None and queued + added >= max_queued:
                    results.append(QueueFull())
                    continue
                result = self._add_one(db, submission) if isolated else self._insert(db, submission)
                added += isinstance(result, tuple) and result[1]
                results.append(result)
            self._count_queued(db, added)
        return results

    def _add_one(self, db: Connection, submission: Submission) -> tuple[Run, bool] | SubmissionRefused:
        db.execute("SAVEPOINT submission")
        try:
            added = self._insert(db, submission)
        except self._db.submission_errors as error:
            db.execute("ROLLBACK TO SAVEPOINT submission")
            db.execute("RELEASE SAVEPOINT submission")
            return SubmissionRefused(f"the run cannot be stored: {error}")
        db.execute("RELEASE SAVEPOINT submission")
        return added

    def _insert(self, db: Connection, submission: Submission) -> tuple[Run, bool]:
        if submission.idempotency_key is not None:
            self._lock_key(db, submission.idempotency_key)
        existing = _run_with_key(db, submission.idempotency_key, submission.keys_since)
        if existing is not None:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (existing,)).fetchone()
            return _to_run(row), False
        run_id, created_at = new_run_id(), self.clock()
        seq = self._insert_run(db, (run_id, Status.QUEUED, submission.trigger,
                                    submission.input_json, submission.body_sha256,
                                    submission.idempotency_key, created_at))
        if submission.request is not None:
            run_requests.insert(db, run_id, submission.request)
        # The row as stored, the other columns at their defaults, without reading it back
        # (`test_group_commit` checks that the two are equal).
        return Run(seq=seq, run_id=run_id, status=Status.QUEUED, attempt=1,
                   trigger=submission.trigger, input=submission.input_json,
                   body_sha256=submission.body_sha256, idempotency_key=submission.idempotency_key,
                   exit_code=None, error=None, outcome=None, final_state=None,
                   created_at=created_at, started_at=None, finished_at=None, not_before=0), True

    # reading runs

    def get(self, run_id: str) -> Run | None:
        with self._db.read() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _to_run(row)

    def request_of(self, run_id: str) -> RunRequest | None:
        """What came in with the run (None for runs stored before this was kept)."""
        with self._db.read() as db:
            return run_requests.select(db, run_id)

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
        with self._db.read() as db:
            rows = db.execute(sql, (*params, limit)).fetchall()
        return [_to_run(row) for row in rows]

    def stats(self, hours: int = 24) -> dict[str, Any]:
        """Runs per hour by status and duration percentiles over the last `hours` (see run_stats)."""
        with self._db.read() as db:
            return run_stats(db, self.clock(), FINISHED, hours, self._db.integer_floor)

    def count(self, status: Status) -> int:
        with self._db.read() as db:
            return db.execute("SELECT COUNT(*) FROM runs WHERE status = ?", (status,)).fetchone()[0]

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """The run's ended attempts, oldest first (see attempts.py)."""
        with self._db.read() as db:
            return attempts.attempts_of(db, run_id)

    def next_due_at(self, *, skip_trigger: str | None = None) -> float | None:
        """When the earliest queued run becomes due (for retry backoff), or None."""
        skip = "" if skip_trigger is None else " AND trigger != ?"
        with self._db.read() as db:
            row = db.execute(f"SELECT MIN(not_before) FROM runs WHERE status = ?{skip}",
                             (Status.QUEUED, *([skip_trigger] if skip_trigger else []))).fetchone()
        return row[0]

    def interrupted(self) -> list[Run]:
        """Runs left `running` by a previous process (call before any worker starts)."""
        return self.list(statuses=[Status.RUNNING], limit=1_000_000, bodies=True)

    # running runs

    def claim_next(self, *, skip_trigger: str | None = None) -> Run | None:
        """Mark the oldest due queued run running and return it (None when nothing is due).
        `skip_trigger`: leave runs of that trigger queued (one of them is running already)."""
        now = self.clock()
        with self._transaction() as db:
            row = self._next_queued(db, now, skip_trigger)
            if row is None:
                return None
            self._claim(db, row["run_id"], now)
            self._count_queued(db, -1)
        return self.get(row["run_id"])

    def finish(self, run_id: str, status: Status, *, outcome: str, exit_code: int | None,
               error: str | None, final_state: str | None) -> bool:
        """Record the running attempt's end; False if it was not ours to end (any more)."""
        now = self.clock()
        owned, owned_params = self._ownership(run_id, now)
        with self._transaction() as db:
            attempts.record_ended(db, run_id, outcome=outcome, exit_code=exit_code, error=error,
                                  finished_at=now, condition=owned, params=owned_params)
            cursor = db.execute(
                "UPDATE runs SET status = ?, outcome = ?, exit_code = ?, error = ?, final_state = ?,"
                f" finished_at = ? WHERE run_id = ? AND status = ?{owned}",
                (status, outcome, exit_code, error, final_state, now, run_id, Status.RUNNING,
                 *owned_params),
            )
        self._ended(run_id)
        return cursor.rowcount == 1

    def requeue(self, run_id: str, *, not_before: float = 0, outcome: str | None = None,
                exit_code: int | None = None, error: str | None = None,
                from_statuses: frozenset[Status] = frozenset({Status.RUNNING})) -> bool:
        """Queue a run again as its next attempt (same input); False if it was not in
        `from_statuses`. A running attempt ends here with `outcome`, `exit_code` and `error`
        (kept in its attempt's record); the run's own fields then describe the new attempt."""
        marks = ",".join("?" * len(from_statuses))
        now = self.clock()
        owned, owned_params = ("", ()) if Status.RUNNING not in from_statuses else \
            self._ownership(run_id, now)
        with self._transaction() as db:
            if outcome is not None:
                attempts.record_ended(db, run_id, outcome=outcome, exit_code=exit_code,
                                      error=error, finished_at=now, condition=owned,
                                      params=owned_params)
            cursor = db.execute(
                "UPDATE runs SET status = ?, attempt = attempt + 1, not_before = ?, outcome = NULL,"
                " exit_code = NULL, error = NULL, final_state = NULL, started_at = NULL,"
                f" finished_at = NULL WHERE run_id = ? AND status IN ({marks}){owned}",
                (Status.QUEUED, not_before, run_id, *from_statuses, *owned_params),
            )
            if Status.QUEUED not in from_statuses:
                self._count_queued(db, cursor.rowcount)
        self._ended(run_id)
        return cursor.rowcount == 1

    # housekeeping

    def delete_finished(self, *, older_than: float, keep_newest: int) -> list[str]:
        """Delete finished runs created before `older_than` or not among the newest
        `keep_newest` runs; return their ids."""
        finished = ",".join("?" * len(FINISHED))
        with self._transaction() as db:
            if not self._housekeeper(db):
                return []
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

    def append_log(self, run_id: str, text: str, max_chars: int) -> None:
        """Keep an attempt's log output in the database (PostgreSQL: any replica serves it);
        SQLite's runs have their log file in the data dir, next to the database."""

    def log_of(self, run_id: str) -> str | None:
        """The run's log as the database keeps it (None: it keeps none, see append_log)."""
        return None

    def _housekeeper(self, db: Connection) -> bool:
        """Whether this process does the shared housekeeping now (one replica at a time)."""
        return True

    def check_writable(self) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO health (id, at) VALUES (1, ?)"
                       " ON CONFLICT (id) DO UPDATE SET at = excluded.at", (self.clock(),))


def _run_with_key(db: Connection, key: str | None, since: float) -> str | None:
    if key is None:
        return None
    row = db.execute("SELECT run_id, created_at FROM runs WHERE idempotency_key = ?", (key,)).fetchone()
    if row is not None and row["created_at"] >= since:
        return row["run_id"]
    db.execute("UPDATE runs SET idempotency_key = NULL WHERE idempotency_key = ?", (key,))
    return None


