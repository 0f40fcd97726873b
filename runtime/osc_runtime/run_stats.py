"""How the job is doing: runs per hour by status and duration percentiles, over the last day.

Computed in SQL over the run store (one GROUP BY for the counts, nearest-rank OFFSET queries for
the percentiles on the finished runs), so the cost does not depend on Python walking the runs.
Runs are counted in the hour they arrived (created_at); durations are those of finished runs
that finished in the window (the last attempt's, as `duration_seconds` in the API).
"""

from __future__ import annotations

import math
import time
from typing import Any

HOUR = 3600
PERCENTILES = (50, 90, 99)


def run_stats(db: Any, now: float, finished: frozenset[str], hours: int = 24,
              integer_floor: str = "CAST({} AS INTEGER)") -> dict[str, Any]:
    """The counts per hour (the current hour last) and the duration percentiles.
    `integer_floor`: the database's SQL for ⌊x⌋ (SQLite's CAST truncates, PostgreSQL's rounds)."""
    first_hour = (math.floor(now / HOUR) - hours + 1) * HOUR
    rows = db.execute(
        f"SELECT {integer_floor.format('(created_at - ?) / ?')} AS bucket, status,"
        " COUNT(*) AS runs"
        " FROM runs WHERE created_at >= ? GROUP BY bucket, status",
        (first_hour, HOUR, first_hour),
    ).fetchall()
    buckets = [{"start": _iso(first_hour + index * HOUR), "counts": {}} for index in range(hours)]
    totals: dict[str, int] = {}
    for bucket, status, runs in rows:
        if 0 <= bucket < hours:  # a clock set back can leave runs "in the future"
            buckets[bucket]["counts"][status] = runs
            totals[status] = totals.get(status, 0) + runs
    return {
        "since": _iso(first_hour), "until": _iso(now), "bucket_seconds": HOUR,
        "buckets": buckets, "totals": totals,
        "duration_seconds": _durations(db, first_hour, finished),
    }


def _durations(db: Any, since: float, finished: frozenset[str]) -> dict[str, Any]:
    marks = ",".join("?" * len(finished))
    where = (f"FROM runs WHERE status IN ({marks}) AND finished_at >= ?"
             " AND started_at IS NOT NULL AND finished_at >= started_at")
    params = (*sorted(finished), since)
    count = db.execute(f"SELECT COUNT(*) {where}", params).fetchone()[0]
    result: dict[str, Any] = {"count": count}
    for percentile in PERCENTILES:
        value = None
        if count:
            rank = max(math.ceil(percentile / 100 * count), 1)  # nearest rank, 1-based
            row = db.execute(f"SELECT finished_at - started_at AS duration {where}"
                             " ORDER BY duration LIMIT 1 OFFSET ?", (*params, rank - 1)).fetchone()
            value = round(row[0], 3)
        result[f"p{percentile}"] = value
    return result


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
