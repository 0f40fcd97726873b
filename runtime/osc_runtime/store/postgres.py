"""PostgresRunStore: the run store on PostgreSQL, shared by every replica of a job.

Differences from SQLite (base.py holds the SQL both run):
- a run is claimed with `SELECT … FOR UPDATE SKIP LOCKED` under a lease (`lease_owner`,
  `lease_expires_at`) that a thread renews while this process runs it; a run whose lease has
  expired (its replica died) is `interrupted()` and queued again as a new attempt by whichever
  replica recovers it first;
- an attempt is ended only by its lease's holder, and only if it is still that attempt: a
  replica that lost its lease never records a result over a newer attempt;
- OSC_MAX_QUEUED is exact across replicas: the inbox counts queued runs in its transaction,
  under a transaction advisory lock; an idempotency key is locked likewise before it is looked up;
- housekeeping (retention) is done by one replica at a time (a try-lock);
- a database that cannot be reached raises StoreUnavailable (the inbox answers 503); the pool
  reconnects by itself once it is back.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from osc_runtime.store.base import BaseRunStore
from osc_runtime.store.model import Clock, Run, Status, StoreUnavailable, _to_run
from osc_runtime.store.postgres_schema import migrate

log = logging.getLogger("osc_runtime.store")

QUEUE_LOCK = 0x05C0_0002  # pg_advisory_xact_lock keys (see postgres_schema.MIGRATION_LOCK)
SERIAL_LOCK = 0x05C0_0003
HOUSEKEEPING_LOCK = 0x05C0_0004
CONNECT_TIMEOUT_SECONDS = 5
# How long a caller waits for a pooled connection; once the database has failed, only a moment
# (the pool reconnects in the background meanwhile), so that callers on the event loop (the
# dispatcher) never hold it up while the database is away.
WAIT_SECONDS, WAIT_WHILE_DOWN_SECONDS = 3.0, 0.05
SUBMISSION_ERRORS = (ValueError, psycopg.DataError, psycopg.IntegrityError)


class Row(tuple):
    """A row by position or by column name, as sqlite3.Row (dict(row) gives the columns)."""

    def __new__(cls, values: tuple, index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._index[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    index = {column.name: at for at, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _values(params: Any) -> tuple:
    return tuple(str(value) if isinstance(value, Enum) else value for value in params)


class PostgresConnection:
    """A pooled connection speaking base.py's SQL (`?` placeholders)."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Any = ()) -> Any:
        if not params:
            return self._connection.execute(sql)
        return self._connection.execute(_placeholders(sql), _values(params))

    def executemany(self, sql: str, rows: Any) -> Any:
        cursor = self._connection.cursor()
        cursor.executemany(_placeholders(sql), [_values(row) for row in rows])
        return cursor


class PostgresDatabase:
    submission_errors = SUBMISSION_ERRORS
    integer_floor = "CAST(FLOOR({}) AS INTEGER)"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.down = False  # the last attempt to use the database failed
        self.pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, timeout=WAIT_SECONDS,
            kwargs={"row_factory": _row_factory, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
            check=ConnectionPool.check_connection, name="osc-store")
        try:
            self.pool.open(wait=True, timeout=30)
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
                self.schema_version = migrate(connection)
        except (psycopg.OperationalError, PoolTimeout) as error:
            self.pool.close()
            raise StoreUnavailable(f"cannot reach the database: {_reason(error)}") from None

    @contextmanager
    def transaction(self) -> Iterator[PostgresConnection]:
        wait = WAIT_WHILE_DOWN_SECONDS if self.down else WAIT_SECONDS
        try:
            with self.pool.connection(timeout=wait) as connection, connection.transaction():
                yield PostgresConnection(connection)
        except (psycopg.OperationalError, PoolTimeout) as error:
            self.down = True
            raise StoreUnavailable(f"the database is unavailable: {_reason(error)}") from None
        self.down = False

    read = transaction  # a read is a (short) transaction too

    def close(self) -> None:
        self.pool.close()


def _reason(error: Exception) -> str:
    """The error's first line; a URL (and its password) is never part of it."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


class PostgresRunStore(BaseRunStore):
    shared = True

    def __init__(self, url: str, clock: Clock = time.time, *, lease_seconds: float = 30,
                 pool_size: int = 10) -> None:
        super().__init__(PostgresDatabase(url, pool_size=pool_size), clock)
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, int] = {}  # run id -> the attempt this process holds
        self._running_lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_forever, name="osc-lease", daemon=True)
        self._renewer.start()

    def close(self) -> None:
        self._stop.set()
        self._renewer.join(timeout=5)
        super().close()

    @property
    def queued(self) -> int:
        return self.count(Status.QUEUED)

    def _queued_before(self, db: Any, exact: bool) -> int:
        if not exact:
            return 0
        db.execute("SELECT pg_advisory_xact_lock(?)", (QUEUE_LOCK,))  # until this commits
        return db.execute("SELECT COUNT(*) FROM runs WHERE status = ?",
                          (Status.QUEUED,)).fetchone()[0]

    def _lock_key(self, db: Any, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    def _next_queued(self, db: Any, now: float, skip_trigger: str | None) -> Any:
        row = self._select_queued(db, now, skip_trigger)
        if row is None or row["trigger"] != "cron" or self._may_run_serial(db):
            return row
        return self._select_queued(db, now, "cron")  # a cron run is running on another replica

    def _select_queued(self, db: Any, now: float, skip_trigger: str | None) -> Any:
        skip = "" if skip_trigger is None else " AND trigger != ?"
        return db.execute(
            f"SELECT run_id, attempt, trigger FROM runs WHERE status = ? AND not_before <= ?{skip}"
            " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED",
            (Status.QUEUED, now, *([skip_trigger] if skip_trigger else [])),
        ).fetchone()

    def _may_run_serial(self, db: Any) -> bool:
        """Cron runs run one at a time across replicas: the lock orders the claims, and a claim
        made under it by another replica is committed (and visible) before it is released."""
        if not db.execute("SELECT pg_try_advisory_xact_lock(?)", (SERIAL_LOCK,)).fetchone()[0]:
            return False
        return db.execute("SELECT NOT EXISTS (SELECT 1 FROM runs WHERE trigger = 'cron'"
                          " AND status = ?)", (Status.RUNNING,)).fetchone()[0]

    def _claim(self, db: Any, run_id: str, now: float) -> None:
        row = db.execute(
            "UPDATE runs SET status = ?, started_at = ?, finished_at = NULL, lease_owner = ?,"
            " lease_expires_at = ? WHERE run_id = ? RETURNING attempt",
            (Status.RUNNING, now, self.owner, now + self.lease_seconds, run_id)).fetchone()
        with self._running_lock:
            self._running[run_id] = row[0]

    def _ownership(self, run_id: str, now: float) -> tuple[str, tuple]:
        with self._running_lock:
            attempt = self._running.get(run_id)
        if attempt is not None:  # ours: only while the lease and the attempt are still ours
            return " AND lease_owner = ? AND attempt = ?", (self.owner, attempt)
        return " AND lease_expires_at < ?", (now,)  # another's: only once its lease expired

    def _ended(self, run_id: str) -> None:
        with self._running_lock:
            self._running.pop(run_id, None)

    def interrupted(self) -> list[Run]:
        """Running runs whose lease has expired: their replica is gone (or cut off)."""
        with self._db.read() as db:
            rows = db.execute("SELECT * FROM runs WHERE status = ? AND lease_expires_at < ?"
                              " ORDER BY seq", (Status.RUNNING, self.clock())).fetchall()
        return [_to_run(row) for row in rows]

    def append_log(self, run_id: str, text: str, max_chars: int) -> None:
        """Add an attempt's output to the run's log; past `max_chars` the head goes."""
        with self._db.transaction() as db:
            db.execute("INSERT INTO run_logs (run_id, text) VALUES (?, right(?, ?))"
                       " ON CONFLICT (run_id) DO UPDATE SET"
                       " text = right(run_logs.text || excluded.text, ?)",
                       (run_id, text, max_chars, max_chars))

    def log_of(self, run_id: str) -> str | None:
        with self._db.read() as db:
            row = db.execute("SELECT text FROM run_logs WHERE run_id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def _housekeeper(self, db: Any) -> bool:
        return db.execute("SELECT pg_try_advisory_xact_lock(?)",
                          (HOUSEKEEPING_LOCK,)).fetchone()[0]

    def renew_leases(self) -> int:
        """Push back the expiry of every lease this process holds; how many there were."""
        with self._running_lock:
            held = list(self._running.items())
        if not held:
            return 0
        with self._db.transaction() as db:
            renewed = 0
            for run_id, attempt in held:
                renewed += db.execute(
                    "UPDATE runs SET lease_expires_at = ? WHERE run_id = ? AND lease_owner = ?"
                    " AND attempt = ? AND status = ?",
                    (self.clock() + self.lease_seconds, run_id, self.owner, attempt,
                     Status.RUNNING)).rowcount
        return renewed

    def _renew_forever(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                self.renew_leases()
            except Exception as error:  # the database is away: the next round tries again
                log.warning("cannot renew run leases: %s", error)

