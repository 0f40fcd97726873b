"""The workflow plan: read from the plan file OSC_WORKFLOW_PATH names, validated once.

The file is JSON (the operator writes it; see the README's Workflows section):

    {"steps": [{"name": "fetch", "adaptor": "@openfn/language-http@7.2.10",
                "file": "step-fetch.js", "credential": "/etc/osc/credential/fetch.json"}],
     "edges": [{"from": "trigger", "to": "fetch"},
               {"from": "fetch", "to": "store", "condition": "on_success", "enabled": true}]}

`file` and `credential` are read relative to the plan's folder (absolute paths as they are).
Every problem is a SettingsError naming OSC_WORKFLOW_PATH and the step or edge, at start.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START = "trigger"
CONDITIONS = ("always", "on_success", "on_failure", "js")
STEP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
STEP_NAME_MAX = 63
JS_EXPRESSION_MAX = 255
JS_FORBIDDEN = re.compile(r"\b(import|require|process|await|eval)\b")
VARIABLE = "OSC_WORKFLOW_PATH"


class PlanError(ValueError):
    """The plan cannot run; the message says where (the settings add the variable's name)."""


@dataclass(frozen=True)
class Step:
    name: str
    adaptor: str  # an npm package spec, resolved like OSC_ADAPTOR
    expression: str
    credential: Any = None  # the step's state.configuration; None without one


@dataclass(frozen=True)
class Edge:
    source: str  # START or a step's name
    target: str
    condition: str = "always"
    expression: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    edges: tuple[Edge, ...]

    @property
    def start(self) -> str:
        return next(edge.target for edge in self.edges if edge.source == START)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def edges_from(self, name: str) -> list[Edge]:
        """The edges that may be followed after `name` (disabled ones never are)."""
        return [edge for edge in self.edges if edge.source == name and edge.enabled]

    def downstream(self, name: str) -> set[str]:
        """Every step an edge from `name` leads to, enabled or not (Lightning's leaf test)."""
        return {edge.target for edge in self.edges if edge.source == name}

    def adaptors(self) -> list[str]:
        return list(dict.fromkeys(step.adaptor for step in self.steps))

    def credentials(self) -> list[Any]:
        """Every step's credential: each is masked wherever any step's output goes."""
        return [step.credential for step in self.steps if step.credential is not None]


def load_plan(path: Path) -> Plan:
    """The plan in `path`; PlanError with a message naming the step or edge at fault."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except ValueError:
        raise PlanError(f"{path} is not valid JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"] \
            or not isinstance(raw.get("edges"), list):
        raise PlanError("the plan needs a non-empty `steps` list and an `edges` list")
    folder = Path(path).parent
    plan = Plan(steps=tuple(_step(item, folder) for item in raw["steps"]),
                edges=tuple(_edge(item) for item in raw["edges"]))
    check_plan(plan)
    return plan


def _step(item: Any, folder: Path) -> Step:
    from osc_runtime.settings import match_adaptor

    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise PlanError("every step needs a `name`")
    name = item["name"]
    if not STEP_NAME.match(name) or len(name) > STEP_NAME_MAX or name == START:
        raise PlanError(f"step {name[:80]!r}: a name of lowercase letters, digits and '-' "
                        f"(at most {STEP_NAME_MAX}), not {START!r}")
    adaptor = item.get("adaptor")
    if not isinstance(adaptor, str) or match_adaptor(adaptor) is None:
        raise PlanError(f"step {name}: `adaptor` is not an npm package name with an optional "
                        "version (e.g. @openfn/language-http@7.2.10)")
    if not isinstance(item.get("file"), str):
        raise PlanError(f"step {name}: `file` (its expression) is missing")
    expression = _read(folder / item["file"], f"step {name}: the expression")
    credential = None
    if item.get("credential") is not None:
        text = _read(folder / str(item["credential"]), f"step {name}: the credential")
        try:
            credential = json.loads(text)
        except ValueError:
            raise PlanError(f"step {name}: the credential is not valid JSON") from None
    return Step(name=name, adaptor=adaptor, expression=expression, credential=credential)


def _edge(item: Any) -> Edge:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("from", "to")):
        raise PlanError("every edge needs `from` and `to`")
    where = f"edge {item['from'][:70]} → {item['to'][:70]}"
    condition = item.get("condition", "always")
    if condition not in CONDITIONS:
        raise PlanError(f"{where}: condition must be one of {', '.join(CONDITIONS)}")
    expression = item.get("expression")
    if (condition == "js") != (expression is not None):
        raise PlanError(f"{where}: condition js takes an `expression`, and only js does")
    if expression is not None:
        check_expression(expression, where)
    return Edge(source=item["from"], target=item["to"], condition=condition,
                expression=expression, enabled=item.get("enabled", True) is not False)


def check_expression(expression: Any, where: str) -> None:
    """As Lightning: at most 255 characters, and a test of the state, not a program."""
    if not isinstance(expression, str) or not expression.strip():
        raise PlanError(f"{where}: the expression is empty")
    if len(expression) > JS_EXPRESSION_MAX:
        raise PlanError(f"{where}: the expression is longer than {JS_EXPRESSION_MAX} characters")
    if JS_FORBIDDEN.search(expression):
        raise PlanError(f"{where}: the expression may not use import, require, process, await "
                        "or eval")


def check_plan(plan: Plan) -> None:
    names = [step.name for step in plan.steps]
    if len(set(names)) != len(names):
        raise PlanError("step names must be unique")
    for edge in plan.edges:
        if edge.source not in {START, *names} or edge.target not in names:
            raise PlanError(f"edge {edge.source} → {edge.target}: every edge leads from "
                            f"{START} or a step to a step")
    starts = [edge for edge in plan.edges if edge.source == START]
    if len(starts) != 1:
        raise PlanError(f"a workflow has exactly one edge from {START} (its first step)")
    if not starts[0].enabled or starts[0].condition != "always":
        raise PlanError(f"the edge from {START} is always followed: no condition, not disabled")
    cycle = _cycle(plan)
    if cycle:
        raise PlanError(f"edges form a cycle ({' → '.join(cycle)})")


def _cycle(plan: Plan) -> list[str] | None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for target in sorted(plan.downstream(name)):
            if (found := visit(target, [*path, name])) is not None:
                return found
        done.add(name)
        return None

    return next((found for step in plan.steps if (found := visit(step.name, []))), None)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"{what}: cannot read {path}: "
                        f"{getattr(error, 'strerror', None) or error}") from None
