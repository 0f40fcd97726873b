"""What came in with each run: the raw body, its content type, how it was called and which
authentication method accepted it. Stored beside `runs` (same file, same transaction).

A table of its own, so data dirs made before it existed keep working: it is created when
missing, and runs stored before it simply have no row (their jobs get no `state.request`).
A run's row goes when the run is deleted (the trigger below).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS run_requests (
    run_id TEXT PRIMARY KEY,
    auth TEXT NOT NULL,
    content_type TEXT,
    raw_body BLOB NOT NULL,
    request TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS run_requests_follow_runs AFTER DELETE ON runs
BEGIN
    DELETE FROM run_requests WHERE run_id = OLD.run_id;
END;
"""


@dataclass(frozen=True)
class RunRequest:
    auth: str  # the method's name ("api-key", "basic", …), never what was presented
    content_type: str | None
    raw_body: bytes
    request: dict[str, Any]  # state.request: method, path, query, headers, contentType


def insert(db: Any, run_id: str, request: RunRequest) -> None:
    db.execute("INSERT INTO run_requests (run_id, auth, content_type, raw_body, request)"
               " VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET auth = excluded.auth,"
               " content_type = excluded.content_type, raw_body = excluded.raw_body,"
               " request = excluded.request",
               (run_id, request.auth, request.content_type, request.raw_body,
                _text(request.request)))


def _text(request: dict[str, Any]) -> str:
    try:
        return orjson.dumps(request).decode()
    except TypeError:  # a value orjson will not write (a lone surrogate)
        return json.dumps(request, separators=(",", ":"))


def select(db: Any, run_id: str) -> RunRequest | None:
    row = db.execute("SELECT auth, content_type, raw_body, request FROM run_requests"
                     " WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    return RunRequest(row[0], row[1], bytes(row[2]), json.loads(row[3]))
