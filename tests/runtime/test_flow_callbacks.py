"""Flow between two jobs: real upstream and downstream runtimes on loopback.

The upstream `fetch` hands its outcome to `load` on success and to `alert` on failure; `alert`
is down at first, so its hand-off waits in the upstream's store until it comes up.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_server import API_KEY, JOBS, RuntimeProcess, free_port, post_run, wait_run

TOKEN = "flow-secret-token-3b9d"
BEHAVIOURS = {"OSC_JOB_PATH": str(JOBS / "behaviours.js"), "OSC_ADAPTOR": "@openfn/language-common"}


def make(tmp_path_factory: pytest.TempPathFactory, engine: str, name: str, *,
         port: int | None = None, **env: str) -> RuntimeProcess:
    data_dir = tmp_path_factory.mktemp(name) / "data"
    return RuntimeProcess(data_dir, BEHAVIOURS | {"OSC_ENGINE": engine, "OSC_JOB_NAME": name} | env,
                          port=port)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[dict]:
    key_path = tmp_path_factory.mktemp("flow-keys") / "api-key"
    key_path.write_text(API_KEY)
    key_path.chmod(0o400)
    load = make(tmp_path_factory, engine, "load", OSC_TRIGGER="flow").start()
    alert = make(tmp_path_factory, engine, "alert", port=free_port(), OSC_TRIGGER="flow")
    targets = [
        {"name": "load", "on": "success", "url": f"{load.url}/inbox", "key_path": str(key_path)},
        {"name": "alert", "on": "failure", "url": f"{alert.url}/inbox", "key_path": str(key_path)},
    ]
    fetch = make(tmp_path_factory, engine, "fetch", OSC_FLOW_TARGETS=json.dumps(targets),
                 OSC_CREDENTIAL=json.dumps({"token": TOKEN}),
                 OSC_FLOW_RETRY_BACKOFF_SECONDS="0.2", OSC_FLOW_RETRY_MAX_BACKOFF_SECONDS="1").start()
    yield {"fetch": fetch, "load": load, "alert": alert}
    for runtime in (fetch, load, alert):
        runtime.stop()


def wait_callbacks(runtime: RuntimeProcess, run_id: str, done, timeout: float = 60) -> list[dict]:
    """Poll the upstream run until `done(callbacks)` holds."""
    deadline = time.monotonic() + timeout
    with runtime.client() as client:
        while True:
            callbacks = client.get(f"/runs/{run_id}").json()["callbacks"]
            if done(callbacks) or time.monotonic() > deadline:
                return callbacks
            time.sleep(0.2)


def flow_runs(runtime: RuntimeProcess) -> list[dict]:
    with runtime.client() as client:
        runs = client.get("/runs", params={"limit": 500}).json()["runs"]
        return [wait_run(client, run["run_id"]) for run in runs if run["trigger"] == "flow"]


def test_success_hands_the_final_state_to_the_success_flow(jobs: dict) -> None:
    with jobs["fetch"].client() as client:
        run_id = post_run(client, {"action": "echo", "n": 1}).json()["run_id"]
        upstream = wait_run(client, run_id)
    assert upstream["status"] == "success"
    callbacks = wait_callbacks(jobs["fetch"], run_id, lambda items: items and all(
        item["status"] == "delivered" for item in items))
    assert [(item["target"], item["on"], item["status"]) for item in callbacks] == [
        ("load", "success", "delivered")]
    assert callbacks[0]["attempts"] == 1 and callbacks[0]["delivered_at"]

    [downstream] = flow_runs(jobs["load"])
    assert downstream["status"] == "success"
    # `load` echoes its data: the upstream's final state, exactly.
    assert downstream["final_state"]["data"]["echoed"] == upstream["final_state"]
    with jobs["load"].client() as client:
        assert client.get(f"/runs/{downstream['run_id']}").json()["upstream"] == f"fetch/{run_id}"


def test_failure_reaches_a_downstream_that_comes_up_later_exactly_once(jobs: dict) -> None:
    body = {"action": "throw", "message": "upstream broke", "token_hint": TOKEN}
    with jobs["fetch"].client() as client:
        run_id = post_run(client, body).json()["run_id"]
        assert wait_run(client, run_id)["status"] == "failed"
    waiting = wait_callbacks(jobs["fetch"], run_id, lambda items: items and items[0]["attempts"] >= 2)
    assert [(item["target"], item["status"]) for item in waiting] == [("alert", "pending")]
    assert "cannot reach" in waiting[0]["last_error"] and API_KEY not in waiting[0]["last_error"]

    jobs["alert"].start()
    delivered = wait_callbacks(jobs["fetch"], run_id,
                               lambda items: items[0]["status"] == "delivered")
    assert delivered[0]["status"] == "delivered", delivered

    [downstream] = flow_runs(jobs["alert"])
    report = downstream["final_state"]["data"]["echoed"]
    assert report["run_id"] == run_id and report["outcome"] == "failed" and report["attempt"] == 1
    assert "upstream broke" in report["error"]
    # The failed run's input, with the upstream's credential masked.
    assert report["input"] == body | {"token_hint": "***"}
    assert len(flow_runs(jobs["load"])) == 1  # the success flow did not fire on a failure


def test_a_repeated_hand_off_creates_no_second_run(jobs: dict) -> None:
    [downstream] = flow_runs(jobs["alert"])
    upstream_run = downstream["final_state"]["data"]["echoed"]["run_id"]
    with jobs["fetch"].client() as client:
        callback = client.get(f"/runs/{upstream_run}").json()["callbacks"][0]
    assert callback["attempt"] == 1
    # What the upstream would send again after a crash between POST and bookkeeping.
    key = f"fetch:{upstream_run}:1:alert"
    resent = jobs["alert"].client(**{"Idempotency-Key": key, "X-OSC-Trigger": "flow"})
    with resent:
        answer = resent.post("/inbox", content=_failure_body(jobs, upstream_run),
                             headers={"Content-Type": "application/json"})
    # The same key and body: the downstream answers with the run it already has.
    assert answer.status_code == 200 and answer.json()["run_id"] == downstream["run_id"]
    assert len(flow_runs(jobs["alert"])) == 1


def _failure_body(jobs: dict, run_id: str) -> bytes:
    """The stored hand-off body, read from the upstream's store (the exact bytes it sends)."""
    with sqlite3.connect(Path(jobs["fetch"].data_dir) / "runs.db") as db:
        return db.execute("SELECT body FROM callbacks WHERE run_id = ?", (run_id,)).fetchone()[0].encode()
