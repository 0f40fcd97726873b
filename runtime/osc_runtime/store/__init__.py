"""The run store: every accepted run, durably. SQLite under the data dir by default (sqlite.py);
PostgreSQL when OSC_DATABASE_URL or OSC_DATABASE_URL_PATH names a database (postgres.py), so
that several runtimes share one job's runs. One interface (base.py), one set of tests."""

from osc_runtime.store.base import BaseRunStore, Connection, Database
from osc_runtime.store.model import (
    FINISHED, LIST_ERROR_CHARS, SUMMARY_COLUMNS, Clock, QueueFull, Run, Status, StoreUnavailable,
    Submission, SubmissionRefused, _iso, _to_run, new_run_id,
)
from osc_runtime.store.sqlite import (
    SCHEMA, SUBMISSION_ERRORS, RunStore, SqliteDatabase, immediate_transaction, open_database,
)

__all__ = [
    "FINISHED", "LIST_ERROR_CHARS", "SCHEMA", "SUBMISSION_ERRORS", "SUMMARY_COLUMNS", "BaseRunStore", "Clock",
    "Connection", "Database", "QueueFull", "Run", "RunStore", "SqliteDatabase", "Status",
    "StoreUnavailable", "Submission", "SubmissionRefused", "_iso", "_to_run", "immediate_transaction",
    "new_run_id", "open_database",
]
