"""Shared by both translators: an OpenFnJob spec for one job or a workflow, checked with the
operator's own models so that nothing invalid is written."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from osc_operator.api import parse_spec
from osc_operator.api_workflow import JS_EXPRESSION_MAX, JS_FORBIDDEN, JS_FORBIDDEN_PATTERN
from osc_operator.reconcile import describe


def single_job(adaptor: str, body: str, credential: dict[str, Any] | None,
               trigger: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"adaptor": adaptor, "job": body}
    if credential is not None:
        spec["credential"] = credential
    spec["trigger"] = trigger
    return spec


def workflow(steps: list[dict[str, Any]], edges: list[dict[str, Any]],
             trigger: dict[str, Any]) -> dict[str, Any]:
    return {"steps": steps, "edges": edges, "trigger": trigger}


def step(name: str, adaptor: str, body: str, credential: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, "adaptor": adaptor, "job": body}
    if credential is not None:
        item["credential"] = credential
    return item


def problem(spec: dict[str, Any]) -> str | None:
    """Why the operator would refuse `spec` (InvalidSpec), or None."""
    try:
        parse_spec(spec)
    except ValidationError as error:
        return describe(error)
    return None


def expression_problem(expression: Any) -> str | None:
    """Why a JS edge condition cannot be used (osc's rules are Lightning's), or None."""
    if not isinstance(expression, str) or not expression.strip():
        return "the JS condition is empty"
    if len(expression) > JS_EXPRESSION_MAX:
        return f"the JS condition is longer than {JS_EXPRESSION_MAX} characters"
    if re.search(JS_FORBIDDEN_PATTERN, expression):
        return "the JS condition uses " + "/".join(JS_FORBIDDEN)
    return None
