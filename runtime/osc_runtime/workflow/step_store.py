"""StepStore: the steps of a workflow run's last attempt, in the same database as the runs (the
SQLite file, or PostgreSQL: see store/), so any replica's GET /runs/{id} shows them.

Kept apart from the `runs` table so that a single job's store and every list of runs stay as
they are; GET /runs/{id} adds them (`RunEvents.describe`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from osc_runtime.store import Database, SqliteDatabase
from osc_runtime.workflow.outcome import StepRecord

SCHEMA = "CREATE TABLE IF NOT EXISTS run_steps (run_id TEXT PRIMARY KEY, steps TEXT NOT NULL);"


class StepStore:
    def __init__(self, where: Path | Database) -> None:
        """`where`: the SQLite file, or the PostgreSQL database the runs are in (its table
        comes from the store's migrations, postgres_schema.py)."""
        self._owned = isinstance(where, Path)
        self._db = SqliteDatabase(where, SCHEMA) if isinstance(where, Path) else where

    def close(self) -> None:
        if self._owned:  # a shared database is closed by the run store
            self._db.close()

    def record(self, run_id: str, steps: list[StepRecord]) -> None:
        """The steps of the attempt that just ended (an earlier attempt's are replaced)."""
        text = json.dumps([step.stored() for step in steps])
        with self._db.transaction() as db:
            db.execute("INSERT INTO run_steps (run_id, steps) VALUES (?, ?)"
                       " ON CONFLICT (run_id) DO UPDATE SET steps = excluded.steps",
                       (run_id, text))

    def steps_of(self, run_id: str) -> list[dict[str, Any]]:
        with self._db.read() as db:
            row = db.execute("SELECT steps FROM run_steps WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return []
        return [StepRecord.from_json(item).to_json() for item in json.loads(row[0])]

    def forget_runs_gone(self) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM run_steps WHERE run_id NOT IN (SELECT run_id FROM runs)")
