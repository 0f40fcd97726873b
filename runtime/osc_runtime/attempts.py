"""Each attempt's own outcome, kept apart from the run's current state.

A run's row in `runs` describes its current attempt (a retried run that is running attempt 2
shows no exit code or error yet); `run_attempts` keeps one row per ended attempt, written in the
same transaction that ends it. Data dirs from before this table get one row per finished run
(its last attempt, which is all the old schema kept) the first time they are opened.
"""

from __future__ import annotations

import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS run_attempts (
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (run_id, attempt)
);
"""
FINISHED_STATUSES = ("success", "failed", "timed_out", "crashed", "dead")


def backfill(db: Any) -> None:
    """Give finished runs stored before this table their last attempt (idempotent)."""
    marks = ",".join("?" * len(FINISHED_STATUSES))
    db.execute(
        "INSERT INTO run_attempts (run_id, attempt, outcome, exit_code, error,"
        " started_at, finished_at) SELECT run_id, attempt, outcome, exit_code, error, started_at,"
        f" finished_at FROM runs WHERE status IN ({marks}) AND outcome IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM run_attempts a WHERE a.run_id = runs.run_id)"
        " ON CONFLICT (run_id, attempt) DO NOTHING", FINISHED_STATUSES)


def record_ended(db: Any, run_id: str, *, outcome: str, exit_code: int | None,
                 error: str | None, finished_at: float, condition: str = "",
                 params: tuple = ()) -> None:
    """The run's current attempt (it is `running`, and `condition` holds) ended with this
    outcome. The casts tell PostgreSQL the parameters' types (a NULL has none of its own)."""
    db.execute(
        "INSERT INTO run_attempts (run_id, attempt, outcome, exit_code, error,"
        " started_at, finished_at) SELECT run_id, attempt, CAST(? AS TEXT), CAST(? AS INTEGER),"
        " CAST(? AS TEXT), started_at, CAST(? AS DOUBLE PRECISION) FROM runs"
        f" WHERE run_id = ? AND status = 'running'{condition}"
        " ON CONFLICT (run_id, attempt) DO UPDATE SET outcome = excluded.outcome,"
        " exit_code = excluded.exit_code, error = excluded.error,"
        " started_at = excluded.started_at, finished_at = excluded.finished_at",
        (str(outcome), exit_code, error, finished_at, run_id, *params))


def attempts_of(db: Any, run_id: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM run_attempts WHERE run_id = ? ORDER BY attempt",
                      (run_id,)).fetchall()
    return [dict(row) for row in rows]


def describe(rows: list[dict[str, Any]], current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The attempts as GET /runs/{id} shows them; `current` is the attempt under way (queued or
    running: `{"attempt", "status", "started_at"}`), listed last without an outcome."""
    shown = [{"attempt": row["attempt"], "status": row["outcome"], "outcome": row["outcome"],
              "exit_code": row["exit_code"], "error": row["error"],
              "started_at": _iso(row["started_at"]), "finished_at": _iso(row["finished_at"])}
             for row in rows]
    if current is not None and all(row["attempt"] != current["attempt"] for row in rows):
        shown.append({"attempt": current["attempt"], "status": current["status"], "outcome": None,
                      "exit_code": None, "error": None,
                      "started_at": _iso(current["started_at"]), "finished_at": None})
    return shown


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    millis = int(moment % 1 * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"
