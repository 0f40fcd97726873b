"""Jobs run by real OpenFn core: success, failure, a promise that never settles, a timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import start_runtime
from runtime_server import JOBS, RuntimeProcess, post_run, wait_run


def test_hello_job_runs_and_transforms_the_payload(hello: RuntimeProcess) -> None:
    with hello.client() as client:
        answer = post_run(client, {"name": "Ada", "items": [{"amount": 3}, {"amount": 4.5}]})
        assert answer.status_code == 202
        body = answer.json()
        assert body["status"] == "queued" and body["attempt"] == 1 and body["trigger"] == "webhook"
        assert answer.headers["location"] == f"/runs/{body['run_id']}"

        run = wait_run(client, body["run_id"])
        assert run["status"] == "success", run
        assert run["exit_code"] == 0 and run["error"] is None
        assert run["final_state"]["data"] == {"greeting": "Hello, Ada!", "itemCount": 2, "total": 7.5}
        # {...state} keeps how the run was called (state.request) in the final state.
        assert set(run["final_state"]) == {"data", "request"}
        assert run["final_state"]["request"]["path"] == "/inbox"
        assert run["duration_seconds"] > 0
        assert run["created_at"] <= run["started_at"] <= run["finished_at"]

        log = client.get(f"/runs/{body['run_id']}/log")
        assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
        assert "@openfn/core" in log.text and "Finished." in log.text


def test_runs_are_listed_newest_first_with_paging_and_a_status_filter(hello: RuntimeProcess) -> None:
    with hello.client() as client:
        ids = [post_run(client, {"name": str(n)}).json()["run_id"] for n in range(3)]
        for run_id in ids:
            wait_run(client, run_id)
        first = client.get("/runs", params={"limit": 2}).json()
        assert [run["run_id"] for run in first["runs"]] == ids[::-1][:2]
        assert "final_state" not in first["runs"][0]
        second = client.get("/runs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert second["runs"][0]["run_id"] == ids[0]
        success = client.get("/runs", params={"status": "success", "limit": 500}).json()["runs"]
        assert {run["status"] for run in success} == {"success"} and set(ids) <= {r["run_id"] for r in success}
        assert client.get("/runs", params={"status": "failed"}).json()["runs"] == []
        assert client.get("/runs", params={"status": "nonsense"}).status_code == 400


def test_a_job_that_throws_fails_with_its_error(behaviours: RuntimeProcess) -> None:
    with behaviours.client() as client:
        run_id = post_run(client, {"action": "throw", "message": "no such patient"}).json()["run_id"]
        run = wait_run(client, run_id)
        assert run["status"] == "failed", run
        assert run["exit_code"] == 1
        assert "no such patient" in run["error"]
        assert "final_state" not in run
        assert "no such patient" in client.get(f"/runs/{run_id}/log").text


def test_a_job_whose_promise_never_settles_is_not_success(behaviours: RuntimeProcess) -> None:
    with behaviours.client() as client:
        run = wait_run(client, post_run(client, {"action": "hang"}).json()["run_id"])
        assert run["status"] in {"failed", "timed_out"}, run
        assert "final_state" not in run


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    """behaviours.js with one run at a time: the one node process that holds a job is this
    run's (core: the `core execute` of the run; warm: the pool's only worker)."""
    runtime = start_runtime(
        tmp_path_factory, engine, "one-at-a-time", OSC_JOB_PATH=str(JOBS / "behaviours.js"),
        OSC_ADAPTOR="@openfn/language-common", OSC_RUN_TIMEOUT_SECONDS="4", OSC_CONCURRENCY="1",
    )
    yield runtime
    runtime.stop()


def test_a_job_past_the_timeout_is_timed_out_and_its_node_is_killed(
        one_at_a_time: RuntimeProcess) -> None:
    work_dir = str((one_at_a_time.data_dir / "work").resolve())
    with one_at_a_time.client() as client:
        run_id = post_run(client, {"action": "sleep", "ms": 120_000}).json()["run_id"]
        running = wait_run(client, run_id, until={"running"})
        assert running["status"] == "running"
        assert _wait_for(lambda: _node_processes(work_dir)), "node never started"
        ran_the_job = _node_processes(work_dir)
        assert len(ran_the_job) == 1, ran_the_job
        run = wait_run(client, run_id, timeout=60)
        assert run["status"] == "timed_out", run
        assert "4 s" in run["error"]
        assert run["duration_seconds"] >= 4
        # The node process that ran the job is gone (the warm engine may start a fresh worker).
        assert _wait_for(lambda: not ran_the_job.keys() & _node_processes(work_dir).keys()), \
            _node_processes(work_dir)


def _wait_for(condition, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _node_processes(path: str) -> dict[int, str]:
    """PID → command line of live processes that mention `path` (node runs with files under
    it: core's state and output files, a warm worker's work dir)."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (cmdline.parent / "status").read_text()
        except OSError:
            continue
        if path in text and "State:\tZ" not in status:
            found[int(cmdline.parent.name)] = text
    return found


def test_sync_true_answers_201_with_the_final_state(hello: RuntimeProcess) -> None:
    with hello.client() as client:
        answer = post_run(client, {"name": "Grace"}, sync="true")
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "success"
        assert answer.json()["final_state"]["data"]["greeting"] == "Hello, Grace!"


def test_sync_true_answers_502_for_a_failing_job(behaviours: RuntimeProcess) -> None:
    with behaviours.client() as client:
        answer = post_run(client, {"action": "throw"}, sync="true")
        assert answer.status_code == 502, answer.text
        assert answer.json()["status"] == "failed" and "final_state" not in answer.json()
