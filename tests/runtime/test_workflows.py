"""A workflow (OSC_WORKFLOW_PATH) run as one run on both engines, with real node and OpenFn:
the right steps run along their edges' conditions, each with its own credential and no other,
the run's status follows Lightning's rule, and the run's record and log show every step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import start_runtime
from runtime_server import RuntimeProcess, post_run, wait_run

# Each step writes the names of the configuration keys it sees and its token reversed: a value
# derived from its own credential (the token itself would be masked) that names whose it is.
SEEN = ("fn(state => ({ ...state, data: { ...state.data, STEP: { "
        "keys: Object.keys(state.configuration || {}), "
        "token: String((state.configuration || {}).KEY || '').split('').reverse().join(''), "
        "errors: Object.keys(state.errors || {}) } } }));\n")
STEPS = {
    "fetch": ("fetchToken", "fetch-secret-4711",
              "fn(state => { if (state.data.fail) throw new Error('upstream said no'); "
              "console.log('fetch uses ' + state.configuration.fetchToken); return state; });\n"),
    "store": ("storeToken", "store-secret-0815", ""),
    "alert": ("alertToken", "alert-secret-9999",
              "fn(state => { if (state.data.alertFails) throw new Error('pager down'); "
              "return state; });\n"),
    "big": (None, None, ""),
}
EDGES = [{"from": "trigger", "to": "fetch"},
         {"from": "fetch", "to": "store", "condition": "on_success"},
         {"from": "fetch", "to": "alert", "condition": "on_failure"},
         {"from": "store", "to": "big", "condition": "js", "expression": "state.data.total > 100"},
         {"from": "store", "to": "alert", "condition": "always", "enabled": False}]
TOKENS = [token for _, token, _ in STEPS.values() if token]


def write_plan(folder: Path) -> Path:
    steps = []
    for name, (key, token, extra) in STEPS.items():
        (folder / f"step-{name}.js").write_text(
            extra + SEEN.replace("STEP", name).replace("KEY", key or "none"), encoding="utf-8")
        step: dict[str, Any] = {"name": name, "adaptor": "@openfn/language-common",
                                "file": f"step-{name}.js"}
        if key:
            (folder / f"{name}.json").write_text(json.dumps({key: token}), encoding="utf-8")
            step["credential"] = f"{name}.json"
        steps.append(step)
    plan = folder / "workflow.json"
    plan.write_text(json.dumps({"steps": steps, "edges": EDGES}), encoding="utf-8")
    return plan


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    plan = write_plan(tmp_path_factory.mktemp("plan"))
    runtime = start_runtime(tmp_path_factory, engine, "workflow", OSC_WORKFLOW_PATH=str(plan),
                            OSC_RUN_TIMEOUT_SECONDS="60")
    yield runtime
    runtime.stop()


def run_of(runtime: RuntimeProcess, payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    with runtime.client() as client:
        run_id = post_run(client, payload).json()["run_id"]
        run = wait_run(client, run_id, timeout=120)
        log = client.get(f"/runs/{run_id}/log").text
    text = json.dumps(run) + log
    assert not [token for token in TOKENS if token in text], "a credential leaked"
    return run, log


def statuses(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["name"], step["status"]) for step in run["steps"]]


def test_each_step_runs_with_its_own_credential_along_its_edges(workflow: RuntimeProcess) -> None:
    run, log = run_of(workflow, {"total": 150})
    assert run["status"] == "success", run
    assert statuses(run) == [("fetch", "success"), ("store", "success"), ("big", "success")]
    data = run["final_state"]["data"]
    assert data["fetch"] == {"keys": ["fetchToken"], "token": STEPS["fetch"][1][::-1], "errors": []}
    assert data["store"] == {"keys": ["storeToken"], "token": STEPS["store"][1][::-1], "errors": []}
    assert data["big"] == {"keys": [], "token": "", "errors": []}  # a step without credential
    assert "alert" not in data and "configuration" not in run["final_state"]
    for step in run["steps"]:
        assert step["started_at"] <= step["finished_at"] and step["error"] is None
    assert "fetch uses ***" in log
    sections = [line for line in log.splitlines() if line.startswith("[osc] step ")]
    assert [line.split()[2:4] for line in sections] == [
        ["fetch", "started"], ["fetch", "success"], ["store", "started"], ["store", "success"],
        ["big", "started"], ["big", "success"]]


def test_a_false_js_condition_ends_the_run_after_the_step(workflow: RuntimeProcess) -> None:
    run, _ = run_of(workflow, {"total": 5})
    assert run["status"] == "success", run
    assert statuses(run) == [("fetch", "success"), ("store", "success")]
    assert set(run["final_state"]["data"]) == {"total", "fetch", "store"}


def test_a_failure_handled_by_an_on_failure_step_is_a_success(workflow: RuntimeProcess) -> None:
    run, log = run_of(workflow, {"total": 150, "fail": True})
    assert run["status"] == "success", run  # as Lightning: only a failed leaf fails the run
    assert statuses(run) == [("fetch", "failed"), ("alert", "success")]
    assert "upstream said no" in run["steps"][0]["error"]
    assert run["final_state"]["data"]["alert"] == {
        "keys": ["alertToken"], "token": STEPS["alert"][1][::-1], "errors": ["fetch"]}
    assert "[osc] step fetch failed" in log and "upstream said no" in log


def test_a_failed_last_step_fails_the_run(workflow: RuntimeProcess) -> None:
    run, _ = run_of(workflow, {"fail": True, "alertFails": True})
    assert run["status"] == "failed", run
    assert statuses(run) == [("fetch", "failed"), ("alert", "failed")]
    assert run["error"].startswith("step alert: ") and "pager down" in run["error"]
    assert "final_state" not in run


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    """A workflow whose second step never ends; two attempts per run, timeouts retried."""
    folder = tmp_path_factory.mktemp("stuck-plan")
    (folder / "first.js").write_text("fn(state => ({ ...state, data: { first: true } }));\n")
    (folder / "stuck.js").write_text(
        "fn(state => new Promise(resolve => setTimeout(() => resolve(state), 120000)));\n")
    plan = folder / "workflow.json"
    plan.write_text(json.dumps({
        "steps": [{"name": "first", "adaptor": "@openfn/language-common", "file": "first.js"},
                  {"name": "stuck", "adaptor": "@openfn/language-common", "file": "stuck.js"}],
        "edges": [{"from": "trigger", "to": "first"}, {"from": "first", "to": "stuck"}]}))
    runtime = start_runtime(tmp_path_factory, engine, "stuck", OSC_WORKFLOW_PATH=str(plan),
                            OSC_RUN_TIMEOUT_SECONDS="8", OSC_MAX_ATTEMPTS="2",
                            OSC_RETRY_ON="timed_out", OSC_RETRY_BACKOFF_SECONDS="0.1")
    yield runtime
    runtime.stop()


def test_the_timeout_is_the_whole_runs_and_a_retry_runs_it_all_again(
        stuck: RuntimeProcess) -> None:
    with stuck.client() as client:
        run_id = post_run(client, {}).json()["run_id"]
        run = wait_run(client, run_id, timeout=120)
        log = client.get(f"/runs/{run_id}/log").text
    assert (run["status"], run["attempt"], run["outcome"]) == ("dead", 2, "timed_out"), run
    assert run["error"] == "step stuck: the run took longer than 8 s"
    assert statuses(run) == [("first", "success"), ("stuck", "timed_out")]
    assert log.count("[osc] step first started") == 2  # each attempt runs the whole workflow
