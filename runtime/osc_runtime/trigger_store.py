"""TriggerStore: what triggers keep durably, in the same database as the runs (the SQLite
file, or PostgreSQL: see store/).

- `callbacks`: one row per flow hand-off (upstream run attempt × downstream target). A row is
  written `held` before the run's outcome is recorded and becomes `pending` once the run is
  really finished with that attempt (a retried attempt's rows are dropped), so a crash between
  the two loses nothing and sends nothing early. The sender moves it to `delivered` or `failed`.
- `run_upstreams`: where a flow-triggered run came from (`X-OSC-Upstream`).
- `carried_state`: the last successful run's final state (scrubbed), the start of the next cron
  tick; kept apart from the runs so that retention cannot take a job's cursor away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osc_runtime.store import Clock, Database, SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    target TEXT NOT NULL,
    on_outcome TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_at REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    delivered_at REAL,
    UNIQUE (run_id, attempt, target)
);
CREATE INDEX IF NOT EXISTS callbacks_by_status ON callbacks (status, next_at);
CREATE TABLE IF NOT EXISTS run_upstreams (run_id TEXT PRIMARY KEY, upstream TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS carried_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT NOT NULL, state TEXT NOT NULL, at REAL
);
"""

HELD, PENDING, DELIVERED, FAILED = "held", "pending", "delivered", "failed"


@dataclass(frozen=True)
class Callback:
    id: int
    run_id: str
    attempt: int
    target: str
    on_outcome: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    next_at: float
    created_at: float
    delivered_at: float | None

    def to_json(self) -> dict[str, Any]:
        delivered = None
        if self.delivered_at is not None:
            delivered = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.delivered_at))
        return {"target": self.target, "on": self.on_outcome, "attempt": self.attempt,
                "status": self.status, "attempts": self.attempts,
                "last_error": self.last_error, "delivered_at": delivered}


# On a shared database, the replica that takes due hand-offs holds them this long before another
# may take them (a send that outlives it is harmless: the Idempotency-Key dedupes downstream).
SEND_LEASE_SECONDS = 60


class TriggerStore:
    def __init__(self, where: Path | Database, clock: Clock = time.time, *,
                 shared: bool = False) -> None:
        """`where`: the SQLite file, or the PostgreSQL database the runs are in (`shared`:
        several runtimes send from it)."""
        self.clock = clock
        self.shared = shared
        self._owns_database = isinstance(where, Path)
        self._db = SqliteDatabase(where, SCHEMA) if isinstance(where, Path) else where

    def close(self) -> None:
        if self._owns_database:
            self._db.close()

    def _transaction(self):  # noqa: ANN202 (the database's write transaction)
        return self._db.transaction()

    # flow callbacks

    def hold(self, run_id: str, attempt: int, targets: list[tuple[str, str]], body: str) -> None:
        """Write `held` rows for (target, on) pairs, before the run's outcome is recorded."""
        now = self.clock()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO callbacks (run_id, attempt, target, on_outcome, body,"
                " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(run_id, attempt, target, on, body, HELD, now) for target, on in targets])

    def release(self, run_id: str, attempt: int, *, send: bool) -> None:
        """The attempt's outcome is recorded: send its held rows, or drop them (retried)."""
        with self._transaction() as db:
            if send:
                db.execute("UPDATE callbacks SET status = ? WHERE run_id = ? AND attempt = ?"
                           " AND status = ?", (PENDING, run_id, attempt, HELD))
            else:
                db.execute("DELETE FROM callbacks WHERE run_id = ? AND attempt = ? AND status = ?",
                           (run_id, attempt, HELD))

    def held(self) -> list[Callback]:
        return self._select("SELECT * FROM callbacks WHERE status = ?", (HELD,))

    def due(self, limit: int = 50) -> list[Callback]:
        """Pending hand-offs whose time has come. On a shared database they are taken (for
        SEND_LEASE_SECONDS) so that two replicas do not send the same one at once."""
        now = self.clock()
        if not self.shared:
            return self._select("SELECT * FROM callbacks WHERE status = ? AND next_at <= ?"
                                " ORDER BY next_at, id LIMIT ?", (PENDING, now, limit))
        with self._transaction() as db:
            rows = db.execute(
                "UPDATE callbacks SET next_at = ? WHERE id IN (SELECT id FROM callbacks"
                " WHERE status = ? AND next_at <= ? ORDER BY next_at, id LIMIT ?"
                " FOR UPDATE SKIP LOCKED) RETURNING *",
                (now + SEND_LEASE_SECONDS, PENDING, now, limit)).fetchall()
        return sorted((Callback(**dict(row)) for row in rows), key=lambda c: c.id)

    def next_due_at(self) -> float | None:
        with self._db.read() as db:
            row = db.execute("SELECT MIN(next_at) FROM callbacks WHERE status = ?",
                             (PENDING,)).fetchone()
        return row[0]

    def pending_count(self) -> int:
        with self._db.read() as db:
            return db.execute("SELECT COUNT(*) FROM callbacks WHERE status = ?",
                              (PENDING,)).fetchone()[0]

    def delivered(self, callback_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE callbacks SET status = ?, attempts = attempts + 1, last_error = NULL,"
                       " delivered_at = ? WHERE id = ?", (DELIVERED, self.clock(), callback_id))

    def attempt_failed(self, callback_id: int, error: str, *, retry_in: float | None) -> None:
        """Record a failed attempt: retried after `retry_in` seconds, or `failed` for good."""
        status, next_at = (FAILED, 0.0) if retry_in is None else (PENDING, self.clock() + retry_in)
        with self._transaction() as db:
            db.execute("UPDATE callbacks SET status = ?, attempts = attempts + 1, last_error = ?,"
                       " next_at = ? WHERE id = ?", (status, error[:500], next_at, callback_id))

    def for_run(self, run_id: str) -> list[Callback]:
        return self._select("SELECT * FROM callbacks WHERE run_id = ? AND status != ?"
                            " ORDER BY attempt, id", (run_id, HELD))

    def _select(self, sql: str, params: tuple) -> list[Callback]:
        with self._db.read() as db:
            rows = db.execute(sql, params).fetchall()
        return [Callback(**dict(row)) for row in rows]

    # where flow runs came from, and the carried cron state

    def set_upstream(self, run_id: str, upstream: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO run_upstreams (run_id, upstream) VALUES (?, ?)"
                       " ON CONFLICT (run_id) DO UPDATE SET upstream = excluded.upstream",
                       (run_id, upstream))

    def upstream(self, run_id: str) -> str | None:
        with self._db.read() as db:
            row = db.execute("SELECT upstream FROM run_upstreams WHERE run_id = ?",
                             (run_id,)).fetchone()
        return row[0] if row else None

    def carry(self, run_id: str, state_json: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO carried_state (id, run_id, state, at) VALUES (1, ?, ?, ?)"
                       " ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id,"
                       " state = excluded.state, at = excluded.at",
                       (run_id, state_json, self.clock()))

    def carried(self) -> str | None:
        with self._db.read() as db:
            row = db.execute("SELECT state FROM carried_state WHERE id = 1").fetchone()
        return row[0] if row else None

    def forget_runs_gone(self) -> None:
        """Drop finished callbacks and origins of runs that retention has deleted."""
        with self._transaction() as db:
            for table in ("callbacks", "run_upstreams"):
                extra = f" AND status IN ('{DELIVERED}', '{FAILED}')" if table == "callbacks" else ""
                db.execute(f"DELETE FROM {table} WHERE run_id NOT IN (SELECT run_id FROM runs)"
                           + extra)
