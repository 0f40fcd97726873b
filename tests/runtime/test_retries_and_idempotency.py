"""Retries with backoff, the dead-letter state, retry by hand, Idempotency-Key and backpressure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from receiver import Receiver
from runtime_server import JOBS, RuntimeProcess, post_run, run_count, wait_run


@pytest.fixture(scope="module")
def receiver(engine: str) -> Iterator[Receiver]:
    """One per engine: each engine's runs are counted apart."""
    with Receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def retrying(tmp_path_factory, engine: str, receiver: Receiver) -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("retrying") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "record.js"),
        "OSC_ADAPTOR": "@openfn/language-http", "OSC_CREDENTIAL": json.dumps({"baseUrl": receiver.url}),
        "OSC_CONCURRENCY": "2", "OSC_MAX_ATTEMPTS": "3", "OSC_RETRY_BACKOFF_SECONDS": "0.2",
        "OSC_RETRY_MAX_BACKOFF_SECONDS": "1", "OSC_MAX_QUEUED": "3",
    }).start()
    yield runtime
    runtime.stop()


def test_a_failing_run_is_retried_until_it_succeeds(retrying: RuntimeProcess, receiver: Receiver) -> None:
    with retrying.client() as client:
        run_id = post_run(client, {"n": "flaky", "fail_times": 2}).json()["run_id"]
        run = wait_run(client, run_id)
        assert run["status"] == "success" and run["attempt"] == 3, run
        assert receiver.count("flaky") == 3
        log = client.get(f"/runs/{run_id}/log").text
        assert [f"attempt {n}" in log for n in (1, 2, 3)] == [True] * 3


def test_a_run_that_exhausts_its_attempts_is_dead_and_can_be_retried_by_hand(
        retrying: RuntimeProcess, receiver: Receiver) -> None:
    with retrying.client() as client:
        run_id = post_run(client, {"n": "broken", "fail_times": 3}).json()["run_id"]
        dead = wait_run(client, run_id)
        assert dead["status"] == "dead" and dead["attempt"] == 3 and dead["outcome"] == "failed", dead
        assert dead["error"] and "final_state" not in dead
        assert receiver.count("broken") == 3
        assert [run["run_id"] for run in client.get("/runs", params={"status": "dead"}).json()["runs"]] == [run_id]

        retried = client.post(f"/runs/{run_id}/retry")
        assert retried.status_code == 202 and retried.headers["location"] == f"/runs/{run_id}"
        assert retried.json()["status"] == "queued" and retried.json()["attempt"] == 4
        # The fourth post is the first one the receiver accepts: the same input ran again.
        run = wait_run(client, run_id)
        assert run["status"] == "success" and run["attempt"] == 4, run
        assert receiver.count("broken") == 4


def test_only_a_finished_run_can_be_retried(retrying: RuntimeProcess) -> None:
    with retrying.client() as client:
        run_id = post_run(client, {"n": "slow", "delay": 2}).json()["run_id"]
        answer = client.post(f"/runs/{run_id}/retry")
        assert answer.status_code == 409 and answer.json()["error"]
        assert client.post(f"/runs/{'f' * 32}/retry").status_code == 404
        assert wait_run(client, run_id)["attempt"] == 1


def test_idempotency_key_same_body_same_run_other_body_409(retrying: RuntimeProcess) -> None:
    with retrying.client() as client:
        key = {"Idempotency-Key": "order-4711"}
        first = client.post("/inbox", json={"n": "once", "amount": 10}, headers=key)
        assert first.status_code == 202
        count = run_count(client)
        again = client.post("/inbox", content=b'{ "amount": 10, "n": "once" }',
                            headers=key | {"Content-Type": "application/json"})
        assert again.status_code == 200 and again.json()["run_id"] == first.json()["run_id"]
        assert again.headers["location"] == first.headers["location"]
        other = client.post("/inbox", json={"n": "once", "amount": 11}, headers=key)
        assert other.status_code == 409 and other.json()["error"]
        assert run_count(client) == count
        assert client.post("/inbox", json={"n": "x"}, headers={"Idempotency-Key": "k" * 300}).status_code == 422


def test_the_inbox_answers_429_above_max_queued_and_stores_nothing(retrying: RuntimeProcess) -> None:
    with retrying.client() as client:
        busy = [post_run(client, {"n": f"busy{n}", "delay": 2.5}).json()["run_id"] for n in range(2)]
        for run_id in busy:
            wait_run(client, run_id, until={"running"})
        waiting = [post_run(client, {"n": f"wait{n}"}) for n in range(3)]
        assert [answer.status_code for answer in waiting] == [202] * 3
        count = run_count(client)
        started = time.monotonic()
        refused = post_run(client, {"n": "refused"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert time.monotonic() - started < 5
        assert run_count(client) == count
        for answer in waiting:
            assert wait_run(client, answer.json()["run_id"])["status"] == "success"
        assert post_run(client, {"n": "later"}).status_code == 202


def test_each_attempt_keeps_its_own_outcome(retrying: RuntimeProcess, receiver: Receiver) -> None:
    with retrying.client() as client:
        run_id = post_run(client, {"n": "slow-flaky", "fail_times": 1, "delay": 1.5}).json()["run_id"]
        second = wait_run(client, run_id, until={"running", "success", "failed", "dead"},
                          timeout=30)
        while second["attempt"] < 2 or second["status"] != "running":
            assert second["status"] in ("queued", "running"), second
            second = client.get(f"/runs/{run_id}").json()
            time.sleep(0.05)
        done = wait_run(client, run_id)
        listed = client.get("/runs", params={"limit": 500}).json()["runs"]
    # while attempt 2 runs, the run shows attempt 2 only; attempt 1's failure is in `attempts`
    assert (second["exit_code"], second["error"], second["outcome"]) == (None, None, None)
    first, current = second["attempts"]
    assert (first["attempt"], first["outcome"], first["exit_code"]) == (1, "failed", 1)
    assert "returned 500" in first["error"] and first["finished_at"]
    assert (current["attempt"], current["status"], current["error"]) == (2, "running", None)
    assert done["status"] == "success" and (done["exit_code"], done["error"]) == (0, None)
    assert [(item["attempt"], item["outcome"]) for item in done["attempts"]] == [
        (1, "failed"), (2, "success")]
    assert all("attempts" not in item for item in listed)  # only GET /runs/{id} has them
