"""A workflow run's steps live in the runs' database: on PostgreSQL another replica's store
reads the same steps (GET /runs/{id} on any pod), a new attempt replaces the steps of the one
before, and the steps of runs that retention deleted go with them — on both backends."""

from __future__ import annotations

from pathlib import Path

from osc_runtime.workflow.outcome import StepRecord
from osc_runtime.workflow.step_store import StepStore


def steps_store(backend, runs) -> StepStore:  # noqa: ANN001
    store = StepStore(runs.database if backend.kind == "postgres" else Path(backend.where))
    backend._opened.append(store)
    return store


def test_steps_are_read_back_replaced_by_a_new_attempt_and_forgotten_with_the_run(backend) -> None:
    runs = backend.runs()
    kept, gone = runs.add("{}")[0], runs.add("{}")[0]
    writer = steps_store(backend, runs)
    writer.record(kept.run_id, [StepRecord("fetch", "failed", 100.0, 101.5, "HTTP 502")])
    writer.record(kept.run_id, [StepRecord("fetch", "success", 200.0, 201.0),
                                StepRecord("upload", "success", 201.0, 202.25)])
    writer.record(gone.run_id, [StepRecord("fetch", "success", 300.0, 301.0)])

    reader = steps_store(backend, backend.runs())  # another process's view of the database
    assert reader.steps_of(kept.run_id) == [
        {"name": "fetch", "status": "success", "started_at": "1970-01-01T00:03:20.000Z",
         "finished_at": "1970-01-01T00:03:21.000Z", "error": None},
        {"name": "upload", "status": "success", "started_at": "1970-01-01T00:03:21.000Z",
         "finished_at": "1970-01-01T00:03:22.250Z", "error": None}]
    assert reader.steps_of("0" * 32) == []

    with runs.database.transaction() as db:  # as retention deletes a finished run
        db.execute("DELETE FROM runs WHERE run_id = ?", (gone.run_id,))
    reader.forget_runs_gone()
    assert writer.steps_of(gone.run_id) == []
    assert [step["name"] for step in writer.steps_of(kept.run_id)] == ["fetch", "upload"]
