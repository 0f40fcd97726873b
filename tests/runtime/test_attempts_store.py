"""Attempts in the store: one record per ended attempt, and data dirs from before them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from osc_runtime.store import RunStore, Status

OLD_SCHEMA = """
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1, trigger TEXT NOT NULL, input TEXT NOT NULL,
    body_sha256 TEXT, idempotency_key TEXT, exit_code INTEGER, error TEXT, outcome TEXT,
    final_state TEXT, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    not_before REAL NOT NULL DEFAULT 0
);
INSERT INTO runs (run_id, status, attempt, trigger, input, exit_code, error, outcome,
                  created_at, started_at, finished_at)
VALUES ('a' || hex(randomblob(15)), 'dead', 3, 'webhook', '{}', 1, 'boom', 'failed', 1, 2, 3),
       ('b' || hex(randomblob(15)), 'queued', 2, 'webhook', '{}', NULL, NULL, NULL, 1, NULL, NULL);
"""


def test_a_data_dir_from_before_attempts_gets_the_last_attempt_of_finished_runs(tmp_path: Path):
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    store = RunStore(path)
    dead, queued = store.list(limit=10)[::-1]
    assert [(row["attempt"], row["outcome"], row["error"]) for row in store.attempts(dead.run_id)] \
        == [(3, "failed", "boom")]
    assert store.attempts(queued.run_id) == []
    store.close()
    assert len(RunStore(path).attempts(dead.run_id)) == 1  # opened again: nothing added twice


def test_a_retried_attempt_is_recorded_and_the_run_shows_the_next_one(backend):
    store = backend.runs()
    run, _ = store.add("{}")
    store.claim_next()
    store.requeue(run.run_id, outcome="failed", exit_code=1, error="first")
    queued = store.get(run.run_id)
    assert (queued.attempt, queued.exit_code, queued.error, queued.outcome) == (2, None, None, None)
    store.claim_next()
    store.finish(run.run_id, Status.SUCCESS, outcome="success", exit_code=0, error=None,
                 final_state="{}")
    assert store.requeue(run.run_id, from_statuses=frozenset({Status.SUCCESS}))  # by hand
    assert [(row["attempt"], row["outcome"], row["error"]) for row in store.attempts(run.run_id)] \
        == [(1, "failed", "first"), (2, "success", None)]
