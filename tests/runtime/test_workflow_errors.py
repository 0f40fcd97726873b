"""A workflow's errors on both engines, as a single job's: a step's runtime error names the
step and the line in that step's own expression; a step that does not compile makes the whole
workflow invalid at start, named in the message the operator's pods leave for Kubernetes."""

from __future__ import annotations

import json
from pathlib import Path

from runtime_server import RuntimeProcess, post_run, wait_run

COMMON = "@openfn/language-common"
FIRST = "fn(state => ({ ...state, data: { first: true } }));\n"
THROWS = "fn(state => {\n  const y = 1;\n  return x + y;\n});\n"  # x: line 3, col 3


def write_plan(folder: Path, second: str) -> Path:
    (folder / "step-first.js").write_text(FIRST, encoding="utf-8")
    (folder / "step-second.js").write_text(second, encoding="utf-8")
    steps = [{"name": name, "adaptor": COMMON, "file": f"step-{name}.js"}
             for name in ("first", "second")]
    edges = [{"from": "trigger", "to": "first"}, {"from": "first", "to": "second"}]
    plan = folder / "workflow.json"
    plan.write_text(json.dumps({"steps": steps, "edges": edges}), encoding="utf-8")
    return plan


def test_a_steps_error_names_the_step_and_its_own_line(tmp_path: Path, engine: str) -> None:
    plan = write_plan(tmp_path, THROWS)
    runtime = RuntimeProcess(tmp_path / "data", {"OSC_ENGINE": engine,
                                                 "OSC_WORKFLOW_PATH": str(plan)}).start()
    try:
        with runtime.client() as client:
            run = wait_run(client, post_run(client, {"n": 1}).json()["run_id"])
            log = client.get(f"/runs/{run['run_id']}/log").text
    finally:
        runtime.stop()
    assert run["status"] == "failed"
    # core adds its exit code, as for a single job
    assert run["error"].startswith("step second: ReferenceError: x is not defined "
                                   "(line 3, col 3)"), run["error"]
    assert [(step["name"], step["status"]) for step in run["steps"]] == [
        ("first", "success"), ("second", "failed")]
    assert "[osc] step second failed in " in log


def test_a_step_that_does_not_compile_stops_the_runtime_naming_it(tmp_path: Path,
                                                                  engine: str) -> None:
    # OSC_ON_INVALID_JOB=exit, as in the operator's pods: Kubernetes keeps the message.
    plan = write_plan(tmp_path, "fn(state => state.data\n")
    message_file = tmp_path / "termination-log"
    runtime = RuntimeProcess(tmp_path / "data", {
        "OSC_ENGINE": engine, "OSC_WORKFLOW_PATH": str(plan), "OSC_ON_INVALID_JOB": "exit",
        "OSC_TERMINATION_MESSAGE_PATH": str(message_file)}).start(ready=False)
    try:
        code = runtime.process.wait(90)
    finally:
        runtime.stop()
    assert code == 3
    message = message_file.read_text()
    assert message.startswith("job invalid: step second: "), message
    assert "Unexpected token (2:0)" in message, message


def test_a_reference_error_stops_the_workflow_on_both_engines(tmp_path: Path,
                                                               engine: str) -> None:
    """@openfn/runtime counts a ReferenceError as a crash: no edge is followed after it, not
    even an on_failure one (a thrown Error is followed: tests/runtime/test_workflows.py)."""
    plan = write_plan(tmp_path, THROWS)
    (tmp_path / "step-handler.js").write_text("fn(state => state);\n", encoding="utf-8")
    raw = json.loads(plan.read_text())
    raw["steps"].append({"name": "handler", "adaptor": COMMON, "file": "step-handler.js"})
    raw["edges"].append({"from": "second", "to": "handler", "condition": "on_failure"})
    plan.write_text(json.dumps(raw), encoding="utf-8")
    runtime = RuntimeProcess(tmp_path / "data", {"OSC_ENGINE": engine,
                                                 "OSC_WORKFLOW_PATH": str(plan)}).start()
    try:
        with runtime.client() as client:
            run = wait_run(client, post_run(client, {"n": 1}).json()["run_id"])
    finally:
        runtime.stop()
    assert run["status"] == "failed"
    assert run["error"].startswith("step second: ReferenceError: x is not defined"), run["error"]
    assert [(step["name"], step["status"]) for step in run["steps"]] == [
        ("first", "success"), ("second", "failed")]
