"""SIGTERM (what Kubernetes sends): stop accepting, let running runs finish, keep queued ones."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import httpx

from runtime_server import API_KEY, JOBS, RuntimeProcess, post_run, wait_run


def test_sigterm_drains_then_the_next_start_runs_what_was_left(tmp_path: Path, engine: str) -> None:
    env = {"OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "behaviours.js"),
           "OSC_ADAPTOR": "@openfn/language-common", "OSC_CONCURRENCY": "2",
           "OSC_SHUTDOWN_GRACE_SECONDS": "8", "OSC_RUN_TIMEOUT_SECONDS": "60"}
    first = RuntimeProcess(tmp_path / "data", env).start()
    with first.client() as client:
        short = post_run(client, {"action": "sleep", "ms": 2500}).json()["run_id"]
        long = post_run(client, {"action": "sleep", "ms": 120_000}).json()["run_id"]
        queued = [post_run(client, {"action": "echo", "n": n}).json()["run_id"] for n in range(3)]
        for run_id in (short, long):
            assert wait_run(client, run_id, until={"running"})["status"] == "running"

        first.send(signal.SIGTERM)
        _wait_for_status(first.url + "/readyz", 503)
        refused = client.post("/inbox", json={"action": "echo"})
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
        assert refused.json()["error"]
        assert first.process.wait(60) == 0

    with sqlite3.connect(tmp_path / "data" / "runs.db") as db:
        at_exit = dict(db.execute("SELECT run_id, status FROM runs"))
    assert len(at_exit) == 5, "the refused request created a run"
    assert at_exit[short] == "success", "a running run was not allowed to finish"
    assert at_exit[long] == "running", "a run past the grace period was not left to recover"
    assert [at_exit[run_id] for run_id in queued] == ["queued"] * 3

    env["OSC_SHUTDOWN_GRACE_SECONDS"] = "1"  # the long run's next attempt need not finish
    second = RuntimeProcess(tmp_path / "data", env, port=first.port).start()
    try:
        with second.client() as client:
            for run_id in queued:
                run = wait_run(client, run_id)
                assert run["status"] == "success" and run["attempt"] == 1, run
            long_run = wait_run(client, long, until={"running"})
            assert long_run["attempt"] == 2 and long_run["status"] == "running", long_run
    finally:
        second.stop()


def _wait_for_status(url: str, status: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(url, headers={"X-API-Key": API_KEY}).status_code != status:
        assert time.monotonic() < deadline, f"{url} never answered {status}"
        time.sleep(0.05)
