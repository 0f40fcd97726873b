"""Cron runs carry state over from the previous success, so they run one after another, each
from the previous one's final state, whatever OSC_CONCURRENCY is (a real runtime, real jobs)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from runtime_server import JOBS, RuntimeProcess, wait_run

TICKS = 10


def test_ticks_posted_at_once_give_consecutive_cursors(tmp_path_factory, engine: str) -> None:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("cursor") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "cursor.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_TRIGGER": "cron",
        "OSC_CONCURRENCY": "4", "OSC_CREDENTIAL": json.dumps({"token": "t0ken"}),
    }).start()
    try:
        with runtime.client(**{"X-OSC-Trigger": "cron"}) as client:
            def post_tick(_: int) -> str:
                answer = client.post("/inbox", json={"start": 0})
                assert answer.status_code == 202, answer.text
                return answer.json()["run_id"]

            with ThreadPoolExecutor(TICKS) as pool:
                run_ids = list(pool.map(post_tick, range(TICKS)))
            runs = [wait_run(client, run_id) for run_id in run_ids]
            webhook = client.post("/inbox", json={"cursor": 41}, headers={"X-OSC-Trigger": "webhook"})
            other = wait_run(client, webhook.json()["run_id"])
    finally:
        runtime.stop()
    assert [run["status"] for run in runs] == ["success"] * TICKS
    by_start = sorted(runs, key=lambda run: run["started_at"])
    assert [run["final_state"]["data"]["cursor"] for run in by_start] == list(range(1, TICKS + 1))
    assert [run["final_state"]["ticks"] for run in by_start] == list(range(1, TICKS + 1))
    for earlier, later in zip(by_start, by_start[1:]):
        assert earlier["finished_at"] <= later["started_at"]  # one after another
    assert other["final_state"]["data"]["cursor"] == 42  # a webhook run starts from its body
