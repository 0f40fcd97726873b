"""Two stores on one PostgreSQL database, as two replicas see it: claims, leases, the queue limit,
idempotency keys, housekeeping and logs (the processes themselves: test_postgres_replicas.py)."""

from __future__ import annotations

import threading

import pytest

from osc_runtime.store import QueueFull, Status, Submission
from osc_runtime.store.postgres import PostgresRunStore
from osc_runtime.store.postgres_schema import MIGRATIONS


class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replicas(postgres_url: str):
    clock = Clock()
    opened = [PostgresRunStore(postgres_url, clock, lease_seconds=30) for _ in range(2)]
    yield clock, opened
    for store in opened:
        store.close()


def test_concurrent_claims_take_each_run_exactly_once(replicas) -> None:
    _, (one, two) = replicas
    one.add_many([Submission("{}") for _ in range(200)])
    taken: list[list[str]] = [[], [], [], []]

    def claim_all(store: PostgresRunStore, into: list[str]) -> None:
        while (run := store.claim_next()) is not None:
            into.append(run.run_id)

    threads = [threading.Thread(target=claim_all, args=(store, into))
               for store, into in zip((one, two, one, two), taken)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [run_id for into in taken for run_id in into]
    assert len(everything) == 200 and len(set(everything)) == 200
    assert taken[1] and taken[3], "the second replica took no run"


def test_an_expired_lease_is_recovered_and_the_old_holder_cannot_record(replicas) -> None:
    clock, (dead, alive) = replicas
    run, _ = dead.add("{}")
    assert dead.claim_next().run_id == run.run_id
    assert alive.interrupted() == []  # the lease holds
    clock.now += 31  # and no one renews it
    [interrupted] = alive.interrupted()
    assert alive.requeue(run.run_id, outcome="crashed", error="lease expired")
    again = alive.claim_next()
    assert (again.run_id, again.attempt) == (run.run_id, 2)
    # the first replica comes back and tries to record its (old) attempt
    assert not dead.finish(run.run_id, Status.SUCCESS, outcome="success", exit_code=0,
                           error=None, final_state='{"old": true}')
    assert alive.finish(run.run_id, Status.SUCCESS, outcome="success", exit_code=0, error=None,
                        final_state='{"new": true}')
    final = alive.get(run.run_id)
    assert (final.attempt, final.final_state) == (2, '{"new": true}')
    assert [(row["attempt"], row["outcome"]) for row in alive.attempts(run.run_id)] \
        == [(1, "crashed"), (2, "success")]


def test_a_renewed_lease_is_not_recovered(replicas) -> None:
    clock, (holder, other) = replicas
    run, _ = holder.add("{}")
    holder.claim_next()
    clock.now += 20
    assert holder.renew_leases() == 1
    clock.now += 20  # 40 s after the claim, 20 after the renewal
    assert other.interrupted() == []
    assert not other.requeue(run.run_id, outcome="crashed")  # not expired: not its to take


def test_the_queue_limit_is_exact_across_replicas(replicas) -> None:
    _, (one, two) = replicas
    results: list = []

    def submit(store: PostgresRunStore) -> None:
        for _ in range(10):
            results.extend(store.add_many([Submission("{}") for _ in range(5)], max_queued=30))

    threads = [threading.Thread(target=submit, args=(store,)) for store in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(result, tuple) for result in results) == 30
    assert sum(isinstance(result, QueueFull) for result in results) == 70
    assert one.count(Status.QUEUED) == 30


def test_one_idempotency_key_from_two_replicas_at_once_makes_one_run(replicas) -> None:
    _, (one, two) = replicas
    results: list = []
    barrier = threading.Barrier(8)

    def submit(store: PostgresRunStore) -> None:
        barrier.wait()
        results.append(store.add("{}", idempotency_key="order-7")[0].run_id)

    threads = [threading.Thread(target=submit, args=(store,)) for store in (one, two) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert one.count(Status.QUEUED) == 1


def test_retention_is_done_by_one_replica_at_a_time(replicas) -> None:
    clock, (one, two) = replicas
    for _ in range(3):
        run, _ = one.add("{}")
        one.claim_next()
        one.finish(run.run_id, Status.SUCCESS, outcome="success", exit_code=0, error=None,
                   final_state="{}")
    with one.database.transaction() as db:  # one replica is sweeping now
        assert one._housekeeper(db)
        assert two.delete_finished(older_than=clock.now + 1, keep_newest=10) == []
    assert len(two.delete_finished(older_than=clock.now + 1, keep_newest=10)) == 3


def test_logs_are_kept_in_the_database_tail_first(replicas) -> None:
    _, (one, two) = replicas
    run, _ = one.add("{}")
    one.append_log(run.run_id, "attempt 1\n", 1000)
    two.append_log(run.run_id, "attempt 2 " + "x" * 2000 + "\n", 1000)
    text = one.log_of(run.run_id)
    assert len(text) == 1000 and text.endswith("x\n")
    assert two.log_of("no-such-run") is None


def test_migrations_are_applied_once_and_recorded(replicas, postgres_url: str) -> None:
    _, (one, _) = replicas
    third = PostgresRunStore(postgres_url)  # a third replica starting: nothing to apply
    try:
        with third.database.read() as db:
            versions = [row[0] for row in db.execute(
                "SELECT version FROM osc_schema_migrations ORDER BY version").fetchall()]
        assert versions == [version for version, _ in MIGRATIONS]
        assert third.database.schema_version == one.database.schema_version == MIGRATIONS[-1][0]
    finally:
        third.close()
