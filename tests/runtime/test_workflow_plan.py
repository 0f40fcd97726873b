"""The workflow plan (OSC_WORKFLOW_PATH) is read and checked once, at start: each problem is one
line naming the variable and the step or edge; and the rules both engines share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from osc_runtime.settings import SettingsError, load
from osc_runtime.workflow.outcome import StepRecord, final_state, run_failure
from osc_runtime.workflow.plan import Edge, Plan, Step

STEPS = [{"name": "a", "adaptor": "@openfn/language-common", "file": "a.js"},
         {"name": "b", "adaptor": "@openfn/language-common", "file": "b.js",
          "credential": "b.json"}]
EDGES = [{"from": "trigger", "to": "a"}, {"from": "a", "to": "b", "condition": "on_success"}]


def plan_file(folder: Path, steps: list[dict[str, Any]] = STEPS,
              edges: list[dict[str, Any]] = EDGES) -> Path:
    (folder / "a.js").write_text("fn(s => s);")
    (folder / "b.js").write_text("fn(s => s);")
    (folder / "b.json").write_text(json.dumps({"token": "b-secret"}))
    path = folder / "workflow.json"
    path.write_text(json.dumps({"steps": steps, "edges": edges}))
    return path


def settings(path: Path, **extra: str) -> Any:
    return load(workflow_path=path, api_keys="k", **extra)


def test_a_plan_is_read_with_each_steps_code_and_credential(tmp_path: Path) -> None:
    plan = settings(plan_file(tmp_path)).workflow
    assert plan.start == "a"
    assert [(s.name, s.expression, s.credential) for s in plan.steps] == [
        ("a", "fn(s => s);", None), ("b", "fn(s => s);", {"token": "b-secret"})]
    assert plan.credentials() == [{"token": "b-secret"}]


BAD = {
    "an edge to no step": (STEPS, [*EDGES, {"from": "b", "to": "c"}], "edge b → c"),
    "two starts": (STEPS, [*EDGES, {"from": "trigger", "to": "b"}], "exactly one edge"),
    "a cycle": (STEPS, [*EDGES, {"from": "b", "to": "a"}], "edges form a cycle (a → b → a)"),
    "an unknown condition": (STEPS, [EDGES[0], {**EDGES[1], "condition": "sometimes"}],
                             "condition must be one of"),
    "a js edge without expression": (STEPS, [EDGES[0], {**EDGES[1], "condition": "js"}],
                                     "condition js takes"),
    "an expression that requires": (STEPS, [EDGES[0], {**EDGES[1], "condition": "js",
                                                       "expression": "require('fs')"}],
                                    "may not use import, require"),
    "a long expression": (STEPS, [EDGES[0], {**EDGES[1], "condition": "js",
                                             "expression": "1 || " * 60 + "1"}], "longer than 255"),
    "a bad adaptor": ([{**STEPS[0], "adaptor": "../evil"}, STEPS[1]], EDGES, "step a: `adaptor`"),
    "a missing file": ([{**STEPS[0], "file": "nope.js"}, STEPS[1]], EDGES, "step a: the expr"),
    "a step named trigger": ([STEPS[0], {**STEPS[1], "name": "trigger"}], EDGES, "not 'trigger'"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_plan_stops_start_up_naming_what(tmp_path: Path, name: str) -> None:
    steps, edges, message = BAD[name]
    with pytest.raises(SettingsError, match="^OSC_WORKFLOW_PATH: ") as error:
        settings(plan_file(tmp_path, steps, edges))
    assert message in str(error.value)


def test_a_workflow_takes_no_job_adaptor(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unset OSC_ADAPTOR"):
        settings(plan_file(tmp_path), adaptor="@openfn/language-common")
    with pytest.raises(SettingsError, match="set exactly one"):
        settings(plan_file(tmp_path), job="fn(s => s);")


def test_only_a_failed_leaf_fails_the_run() -> None:
    plan = Plan(steps=(Step("a", "x", ""), Step("b", "x", ""), Step("c", "x", "")),
                edges=(Edge("trigger", "a"), Edge("a", "b", "on_failure"),
                       Edge("a", "c", "on_success")))
    handled = [StepRecord("a", "failed", 1, 2, "boom"), StepRecord("b", "success", 2, 3)]
    assert run_failure(plan, handled) is None
    unhandled = [StepRecord("a", "failed", 1, 2, "boom"), StepRecord("b", "failed", 2, 3, "x")]
    assert run_failure(plan, unhandled).name == "b"
    assert run_failure(plan, [StepRecord("a", "failed", 1, 2, "boom")]).name == "a"
    assert final_state({"b": {"x": 1}}) == {"x": 1}
    assert final_state({"b": 1, "c": 2}) == {"b": 1, "c": 2}
