"""The query KEDA's ScaledObject runs (the operator's autoscaling.QUEUED_RUNS) against the run
store's own tables on a real PostgreSQL: it counts the runs waiting to start, not the running
or finished ones, as the runtime's replicas would leave them."""

from __future__ import annotations

from osc_operator.autoscaling import QUEUED_RUNS
from osc_runtime.store import Status, Submission
from osc_runtime.store.postgres import PostgresRunStore


def test_the_queue_query_counts_the_runs_waiting_to_start(postgres_url: str) -> None:
    store = PostgresRunStore(postgres_url)
    try:
        store.add_many([Submission("{}") for _ in range(5)])
        running = store.claim_next()
        finished = store.claim_next()
        assert running is not None and finished is not None
        assert store.finish(finished.run_id, Status.SUCCESS, outcome="success", exit_code=0,
                            error=None, final_state="{}")
        with store.database.read() as db:
            [(queued,)] = db.execute(QUEUED_RUNS).fetchall()
        assert queued == 3
    finally:
        store.close()
