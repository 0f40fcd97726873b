"""A workflow job's cron carry-over and flow hand-offs, as for a single job: a cron tick starts
from the last step's final state, and a success hands that final state to the next OpenFnJob
(real runtimes on loopback, both engines)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_server import API_KEY, JOBS, RuntimeProcess, wait_run

TOKEN = "cron-step-secret-77"
COUNT = ("fn(state => ({ ...state, data: { ...state.data, action: 'echo', cursor: "
         "(state.data.cursor === undefined ? 0 : state.data.cursor) + 1, "
         "tokenLength: state.configuration.token.length } }));\n")
LAST = ("fn(state => ({ ...state, data: { ...state.data, lastSaw: state.data.cursor, "
        "lastKeys: Object.keys(state.configuration || {}) } }));\n")


def write_plan(folder: Path) -> Path:
    (folder / "count.js").write_text(COUNT)
    (folder / "last.js").write_text(LAST)
    (folder / "count.json").write_text(json.dumps({"token": TOKEN}))
    plan = folder / "workflow.json"
    plan.write_text(json.dumps({
        "steps": [{"name": "count", "adaptor": "@openfn/language-common", "file": "count.js",
                   "credential": "count.json"},
                  {"name": "last", "adaptor": "@openfn/language-common", "file": "last.js"}],
        "edges": [{"from": "trigger", "to": "count"},
                  {"from": "count", "to": "last", "condition": "on_success"}]}))
    return plan


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[dict]:
    key_path = tmp_path_factory.mktemp("keys") / "api-key"
    key_path.write_text(API_KEY)
    load = RuntimeProcess(tmp_path_factory.mktemp("load") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_NAME": "load", "OSC_TRIGGER": "flow",
        "OSC_JOB_PATH": str(JOBS / "behaviours.js"),
        "OSC_ADAPTOR": "@openfn/language-common"}).start()
    targets = [{"name": "load", "on": "success", "url": f"{load.url}/inbox",
                "key_path": str(key_path)}]
    ticker = RuntimeProcess(tmp_path_factory.mktemp("ticker") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_NAME": "ticker", "OSC_TRIGGER": "cron",
        "OSC_WORKFLOW_PATH": str(write_plan(tmp_path_factory.mktemp("ticker-plan"))),
        "OSC_FLOW_TARGETS": json.dumps(targets)}).start()
    yield {"ticker": ticker, "load": load}
    ticker.stop()
    load.stop()


def test_cron_ticks_carry_the_last_steps_state_and_hand_it_on(jobs: dict) -> None:
    with jobs["ticker"].client(**{"X-OSC-Trigger": "cron"}) as client:
        runs = [wait_run(client, client.post("/inbox", json={}).json()["run_id"], 120)
                for _ in range(3)]
    assert [run["status"] for run in runs] == ["success"] * 3, runs
    assert [run["final_state"]["data"]["cursor"] for run in runs] == [1, 2, 3]
    assert [run["final_state"]["data"]["lastSaw"] for run in runs] == [1, 2, 3]
    last = runs[-1]["final_state"]["data"]
    assert last["tokenLength"] == len(TOKEN) and last["lastKeys"] == []
    deadline = time.monotonic() + 60
    with jobs["load"].client() as client:
        while time.monotonic() < deadline:
            handed = [run for run in client.get("/runs", params={"limit": 50}).json()["runs"]
                      if run["trigger"] == "flow"]
            if len(handed) == 3:
                break
            time.sleep(0.3)
        finals = [wait_run(client, run["run_id"])["final_state"] for run in handed]
    echoed = sorted(final["data"]["echoed"]["data"]["cursor"] for final in finals)
    assert echoed == [1, 2, 3]
    assert TOKEN not in json.dumps(finals)
