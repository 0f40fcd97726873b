"""StepStore: the steps of a workflow run's last attempt, in the same SQLite file as the runs.

Kept apart from the `runs` table so that a single job's store and every list of runs stay as
they are; GET /runs/{id} adds them (`RunEvents.describe`)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from osc_runtime.store import immediate_transaction, open_database
from osc_runtime.workflow.outcome import StepRecord

SCHEMA = "CREATE TABLE IF NOT EXISTS run_steps (run_id TEXT PRIMARY KEY, steps TEXT NOT NULL);"


class StepStore:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._db) as db:
            yield db

    def record(self, run_id: str, steps: list[StepRecord]) -> None:
        """The steps of the attempt that just ended (an earlier attempt's are replaced)."""
        text = json.dumps([step.stored() for step in steps])
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO run_steps (run_id, steps) VALUES (?, ?)",
                       (run_id, text))

    def steps_of(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            row = self._db.execute("SELECT steps FROM run_steps WHERE run_id = ?",
                                   (run_id,)).fetchone()
        if row is None:
            return []
        return [StepRecord.from_json(item).to_json() for item in json.loads(row[0])]

    def forget_runs_gone(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM run_steps WHERE run_id NOT IN (SELECT run_id FROM runs)")
