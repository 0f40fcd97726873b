"""Workflows in one OpenFnJob: `spec.steps` joined by `spec.edges`, run as one run.

Each step has its own adaptor, expression and credential; an edge leads from the trigger or a
step to a step, followed when its condition holds for the step just run (as OpenFn Lightning's
edges: always, on success, on failure, or a JS expression on the state). The CRD checks what
CEL can say (unique names, edges between existing steps, exactly one start); cycles are
refused by `check_workflow`, which the operator runs on every body (InvalidSpec).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from osc_operator.api_types import (ADAPTOR_PATTERN, Credential, JobSource, Model, exactly_one_of,
                                    set_exactly_one)

START = "trigger"  # the `from` of the edge a run starts with
STEP_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
STEP_NAME_MAX = 63
MAX_STEPS = 50
MAX_EDGES = 200
JS_EXPRESSION_MAX = 255  # as Lightning's condition_expression
# What a condition may not use (as Lightning refuses): it tests the state, it runs nothing.
JS_FORBIDDEN = ("import", "require", "process", "await", "eval")
JS_FORBIDDEN_PATTERN = rf"\b({'|'.join(JS_FORBIDDEN)})\b"

NOT_START_NAME = {"rule": f"self.name != '{START}'",
                  "message": f"a step cannot be named {START} (edges start from it)"}
JS_HAS_EXPRESSION = {"rule": "(self.condition == 'js') == has(self.expression)",
                     "message": "condition js takes an expression, and only js does"}
JS_SAFE = {"rule": f"!has(self.expression) || !self.expression.matches(r'{JS_FORBIDDEN_PATTERN}')",
           "message": "a condition expression may not use " + ", ".join(JS_FORBIDDEN)}
NOT_TO_START = {"rule": f"self.to != '{START}' && self.from != self.to",
                "message": f"an edge leads to a step other than its own, never to {START}"}
UNIQUE_STEPS = {"rule": "!has(self.steps) || self.steps.all(s, "
                        "self.steps.filter(t, t.name == s.name).size() == 1)",
                "message": "step names must be unique"}
EDGES_KNOWN = {"rule": "!has(self.edges) || (has(self.steps) && self.edges.all(e, "
                       f"(e.from == '{START}' || self.steps.exists(s, s.name == e.from)) "
                       "&& self.steps.exists(s, s.name == e.to)))",
               "message": "every edge leads from trigger or a step to a step of spec.steps"}
ONE_START = {"rule": "!has(self.steps) || (has(self.edges) && "
                     f"self.edges.filter(e, e.from == '{START}').size() == 1)",
             "message": f"a workflow has exactly one edge from {START} (its first step)"}
WORKFLOW_ALONE = {"rule": "has(self.steps) ? (!has(self.adaptor) && !has(self.credential)) "
                          ": has(self.adaptor)",
                  "message": "a single job needs spec.adaptor; a workflow names its adaptor and "
                             "credential per step (no spec.adaptor, no spec.credential)"}
WORKFLOW_RULES = [UNIQUE_STEPS, EDGES_KNOWN, ONE_START, WORKFLOW_ALONE]


class EdgeCondition(StrEnum):
    ALWAYS = "always"
    ON_SUCCESS = "on_success"
    ON_FAILURE = "on_failure"
    JS = "js"


class WorkflowStep(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        exactly_one_of("job", "jobFrom"), NOT_START_NAME]})

    name: str = Field(description="The step's name: unique in the workflow, used by edges, in "
                      "the run's record and its log.", min_length=1, max_length=STEP_NAME_MAX,
                      pattern=STEP_NAME)
    adaptor: str = Field(pattern=ADAPTOR_PATTERN, max_length=214, description=(
        "npm package of the step's adaptor with an optional version, "
        "e.g. `@openfn/language-http@7.2.10`."))
    job: str | None = Field(None, min_length=1, description="The step's expression, inline.")
    job_from: JobSource | None = Field(None, description="Where to read the step's expression.")
    credential: Credential | None = Field(
        None, description="The step's credential: its state.configuration while this step "
        "runs, never another step's.")

    @model_validator(mode="after")
    def _one_job(self) -> WorkflowStep:
        set_exactly_one(self, "job", "jobFrom")
        if self.name == START:
            raise ValueError(NOT_START_NAME["message"])
        return self


class WorkflowEdge(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        JS_HAS_EXPRESSION, JS_SAFE, NOT_TO_START]})

    source: str = Field(alias="from", min_length=1, max_length=STEP_NAME_MAX,
                        description=f"`{START}` (the run's start) or the name of a step.")
    target: str = Field(alias="to", min_length=1, max_length=STEP_NAME_MAX,
                        description="The step this edge leads to.")
    condition: EdgeCondition = Field(
        EdgeCondition.ALWAYS, description="When it is followed, after the step it leads from: "
        "always, on_success, on_failure, or js (`expression` true on the step's output state).")
    expression: str | None = Field(
        None, min_length=1, max_length=JS_EXPRESSION_MAX,
        description="With condition js: a JavaScript expression on `state`, e.g. "
        "`state.data.total > 100`; no " + ", ".join(JS_FORBIDDEN) + ".")
    enabled: bool = Field(True, description="false: the edge is never followed.")

    @model_validator(mode="after")
    def _expression(self) -> WorkflowEdge:
        if (self.condition is EdgeCondition.JS) != (self.expression is not None):
            raise ValueError(JS_HAS_EXPRESSION["message"])
        if self.expression is not None and re.search(JS_FORBIDDEN_PATTERN, self.expression):
            raise ValueError(JS_SAFE["message"])
        if self.target == START or self.source == self.target:
            raise ValueError(NOT_TO_START["message"])
        return self


def check_workflow(steps: list[WorkflowStep], edges: list[WorkflowEdge]) -> None:
    """The CRD's workflow rules, and what CEL cannot say: no cycle. Raises ValueError."""
    names = [step.name for step in steps]
    if len(set(names)) != len(names):
        raise ValueError(UNIQUE_STEPS["message"])
    if any(edge.source not in {START, *names} or edge.target not in names for edge in edges):
        raise ValueError(EDGES_KNOWN["message"])
    if sum(edge.source == START for edge in edges) != 1:
        raise ValueError(ONE_START["message"])
    cycle = find_cycle(names, [(edge.source, edge.target) for edge in edges])
    if cycle:
        raise ValueError(f"edges form a cycle ({' → '.join(cycle)}): a step cannot run after "
                         "itself, directly or through other steps")


def find_cycle(names: list[str], pairs: list[tuple[str, str]]) -> list[str] | None:
    """A cycle among the steps as a path that ends where it began, or None."""
    following: dict[str, list[str]] = {name: [] for name in names}
    for source, target in pairs:
        following.setdefault(source, []).append(target)
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for target in following.get(name, []):
            if (found := visit(target, [*path, name])) is not None:
                return found
        done.add(name)
        return None

    return next((cycle for name in names if (cycle := visit(name, [])) is not None), None)
