"""The store with an injected clock: retention, the idempotency window, retry backoff (on
SQLite and on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osc_runtime.dispatcher import Dispatcher
from osc_runtime.retention import sweep
from osc_runtime.settings import load
from osc_runtime.store import RunStore, Status

DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def settings(tmp_path: Path, **overrides):
    return load(job="fn(s => s);", adaptor="@openfn/language-common", api_keys="k",
                data_dir=tmp_path, **overrides)


def finished_run(store: RunStore, logs: Path, status: Status = Status.SUCCESS) -> str:
    run, _ = store.add("{}")
    assert store.claim_next().run_id == run.run_id
    store.finish(run.run_id, status, outcome=str(status), exit_code=0, error=None, final_state="{}")
    (logs / f"{run.run_id}.log").write_text("output\n")
    return run.run_id


def test_finished_runs_and_their_logs_go_after_the_retention_days(tmp_path: Path, backend) -> None:
    clock, logs = Clock(), tmp_path / "runs"
    logs.mkdir()
    store = backend.runs(clock)
    unfinished, _ = store.add("{}")
    assert store.claim_next().run_id == unfinished.run_id  # old, but still running
    old = [finished_run(store, logs), finished_run(store, logs, Status.FAILED)]
    clock.now += 6 * DAY
    recent = finished_run(store, logs)
    clock.now += 1.5 * DAY
    assert sweep(store, logs, settings(tmp_path, retention_days=7)) == 2
    assert [store.get(run_id) for run_id in old] == [None, None]
    assert not any((logs / f"{run_id}.log").exists() for run_id in old)
    assert store.get(recent) is not None and (logs / f"{recent}.log").exists()
    assert store.get(unfinished.run_id).status is Status.RUNNING, "an unfinished run was deleted"


def test_only_the_newest_runs_are_kept_beyond_max_runs(tmp_path: Path, backend) -> None:
    clock, logs = Clock(), tmp_path / "runs"
    logs.mkdir()
    store = backend.runs(clock)
    ids = [finished_run(store, logs) for _ in range(5)]
    assert sweep(store, logs, settings(tmp_path, retention_max_runs=2)) == 3
    assert [run.run_id for run in store.list()] == [ids[4], ids[3]]
    assert sorted(path.stem for path in logs.iterdir()) == sorted(ids[3:])


def test_an_idempotency_key_is_kept_for_its_window_only(backend) -> None:
    clock = Clock()
    store = backend.runs(clock)
    first, created = store.add("{}", idempotency_key="k", keys_since=clock.now - 60)
    assert created
    clock.now += 30
    again, created = store.add("{}", idempotency_key="k", keys_since=clock.now - 60)
    assert not created and again.run_id == first.run_id
    clock.now += 60
    later, created = store.add("{}", idempotency_key="k", keys_since=clock.now - 60)
    assert created and later.run_id != first.run_id


@pytest.mark.parametrize("attempt", [1, 2, 3, 10])
def test_backoff_grows_exponentially_with_jitter_and_a_cap(tmp_path: Path, attempt: int) -> None:
    dispatcher = Dispatcher(settings(tmp_path, retry_backoff_seconds=2, retry_max_backoff_seconds=30),
                            RunStore(tmp_path / "runs.db"))
    ceiling = min(2 * 2 ** (attempt - 1), 30)
    delays = {dispatcher.backoff(attempt) for _ in range(50)}
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(delays) > 1, "no jitter"
