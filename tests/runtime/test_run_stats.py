"""RunStore.stats: runs per hour by status and duration percentiles, on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

from osc_runtime.store import RunStore, Status

NOON = 1_764_590_400.0  # 2025-12-01T12:00:00Z, on the hour


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def finished_run(store: RunStore, clock: Clock, at: float, seconds: float, status: Status) -> None:
    clock.now = at
    run, _ = store.add('{"n": 1}')
    claimed = store.claim_next()
    assert claimed.run_id == run.run_id
    clock.now = at + seconds
    store.finish(run.run_id, status, outcome=status, exit_code=0, error=None, final_state=None)


def test_counts_per_hour_by_status_and_percentiles(tmp_path: Path) -> None:
    clock = Clock(NOON)
    store = RunStore(tmp_path / "runs.db", clock)
    for index in range(10):  # 10:xx: durations 1..10 s, the last two failed
        status = Status.FAILED if index >= 8 else Status.SUCCESS
        finished_run(store, clock, NOON - 2 * 3600 + 60 * index, index + 1, status)
    finished_run(store, clock, NOON - 30 * 3600, 500, Status.SUCCESS)  # a day and more ago
    clock.now = NOON + 1800
    store.add('{"queued": true}')

    stats = store.stats()

    assert len(stats["buckets"]) == 24
    assert stats["buckets"][-1]["start"] == "2025-12-01T12:00:00Z"
    assert stats["since"] == "2025-11-30T13:00:00Z"
    by_start = {bucket["start"]: bucket["counts"] for bucket in stats["buckets"]}
    assert by_start["2025-12-01T10:00:00Z"] == {"success": 8, "failed": 2}
    assert by_start["2025-12-01T12:00:00Z"] == {"queued": 1}
    assert by_start["2025-12-01T11:00:00Z"] == {}
    assert stats["totals"] == {"success": 8, "failed": 2, "queued": 1}  # the old run is outside
    assert stats["duration_seconds"] == {"count": 10, "p50": 5.0, "p90": 9.0, "p99": 10.0}


def test_an_empty_store_has_empty_buckets_and_no_percentiles(tmp_path: Path) -> None:
    stats = RunStore(tmp_path / "runs.db", Clock(NOON)).stats()
    assert all(bucket["counts"] == {} for bucket in stats["buckets"])
    assert stats["duration_seconds"] == {"count": 0, "p50": None, "p90": None, "p99": None}
