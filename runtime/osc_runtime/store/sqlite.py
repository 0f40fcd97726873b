"""RunStore: every accepted run, durably, in SQLite (WAL) under the data dir (the default).

A run is committed (and fsynced) before the inbox answers 202, so an accepted run survives a
crash. Workers claim runs with one UPDATE, so two workers never take the same run. The number
of queued runs is kept in memory (this process is the only writer), so the inbox's back-pressure
check costs no query. The SQL itself is shared with PostgreSQL (base.py).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from osc_runtime import attempts, run_requests
from osc_runtime.runlog import PRIVATE_FILE_MODE
from osc_runtime.store.base import INSERT_RUN, BaseRunStore
from osc_runtime.store.model import Clock, Status

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
CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at REAL);
"""

# Errors that belong to one submission's values, not to the database: they fail only it.
SUBMISSION_ERRORS = (ValueError, sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError)


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


class SqliteDatabase:
    """One connection to the file, one user at a time (the store's threads share it)."""

    submission_errors = SUBMISSION_ERRORS
    integer_floor = "CAST({} AS INTEGER)"  # truncates: callers pass values >= 0

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection = open_database(path, schema)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._connection) as db:
            yield db

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class RunStore(BaseRunStore):
    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(SqliteDatabase(path, SCHEMA + run_requests.SCHEMA + attempts.SCHEMA),
                         clock)
        self.path = path
        with self._db.transaction() as db:
            attempts.backfill(db)  # a data dir from before attempts were kept
        self.queued = self.count(Status.QUEUED)
        self._queued_change = 0  # by the open transaction; applied once it commits

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db.transaction() as db:  # one transaction at a time: the lock is held
            self._queued_change = 0
            yield db
            change = self._queued_change
        self.queued += change

    def _insert_run(self, db: sqlite3.Connection, values: tuple) -> int:
        return db.execute(INSERT_RUN, values).lastrowid  # seq is the rowid (no RETURNING: faster)

    def _queued_before(self, db: sqlite3.Connection, exact: bool) -> int:
        return self.queued

    def _count_queued(self, db: sqlite3.Connection, change: int) -> None:
        self._queued_change += change
