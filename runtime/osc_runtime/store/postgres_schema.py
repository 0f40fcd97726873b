"""The run store's tables on PostgreSQL, as numbered migrations.

At start-up each runtime applies the migrations its database has not had yet, under a session
advisory lock, so replicas starting together (or two versions during a rolling update) apply
each one exactly once. Migrations only add: a replica of the previous version keeps working on
a schema a newer one has moved on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("osc_runtime.store")

MIGRATION_LOCK = 0x05C0_0001  # pg_advisory_lock keys: osc's own, by purpose

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
CREATE TABLE runs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_owner TEXT,  -- the replica running the current attempt
    lease_expires_at DOUBLE PRECISION  -- renewed while it runs; past it, the run is recovered
);
CREATE INDEX runs_by_status ON runs (status, seq);
CREATE INDEX runs_by_lease ON runs (lease_expires_at) WHERE status = 'running';
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE run_requests (
    run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    auth TEXT NOT NULL,
    content_type TEXT,
    raw_body BYTEA NOT NULL,
    request TEXT NOT NULL
);
CREATE TABLE run_attempts (
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE callbacks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    target TEXT NOT NULL,
    on_outcome TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    UNIQUE (run_id, attempt, target)
);
CREATE INDEX callbacks_by_status ON callbacks (status, next_at);
CREATE TABLE run_upstreams (run_id TEXT PRIMARY KEY, upstream TEXT NOT NULL);
CREATE TABLE carried_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT NOT NULL, state TEXT NOT NULL,
    at DOUBLE PRECISION
);
CREATE TABLE health (id INTEGER PRIMARY KEY, at DOUBLE PRECISION);
CREATE TABLE run_logs (
    run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    text TEXT NOT NULL
);
"""),
    (2, """
CREATE TABLE run_steps (run_id TEXT PRIMARY KEY, steps TEXT NOT NULL);
"""),  # the steps of a workflow run's last attempt (workflow/step_store.py)
]


def migrate(connection: Any) -> int:
    """Apply the missing migrations (a psycopg connection, autocommit); return the version."""
    connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS osc_schema_migrations"
                           " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
        row = connection.execute("SELECT MAX(version) FROM osc_schema_migrations").fetchone()
        current = row[0] or 0
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            with connection.transaction():
                connection.execute(sql)
                connection.execute("INSERT INTO osc_schema_migrations (version, applied_at)"
                                   " VALUES (%s, %s)", (version, time.time()))
            log.info("database schema migrated to version %d", version)
            current = version
        if current > MIGRATIONS[-1][0]:
            log.info("database schema version %d is newer than this runtime's %d (kept)",
                     current, MIGRATIONS[-1][0])
        return current
    finally:
        connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
