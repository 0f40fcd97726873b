"""The rules both engines follow when they run a plan, as OpenFn Lightning does.

- An edge is followed after the step it leads from when its condition holds for that step:
  `always`; `on_success` / `on_failure` of that step; `js`: the expression is truthy on the
  step's output state. A disabled edge is never followed.
- A step gets its upstream's output state (without `configuration`) with its own credential as
  `configuration`. After a failed step, its state carries `errors.<step>` (type, message).
- A step's ReferenceError or SyntaxError is a crash: the run fails there, no edge followed.
- The run fails when a step that ran failed and none of the steps it leads to ran (Lightning's
  ws-worker counts failures on leaf steps only: a failure handled by an `on_failure` step that
  ran does not fail the run). A timeout or crash fails it whatever ran.
- The final state is the state of the one step that ran last on its path (a leaf); with
  several leaves, an object of their states keyed by step name (as @openfn/runtime returns).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from osc_runtime.workflow.plan import Edge, Plan

SUCCESS, FAILED = "success", "failed"


@dataclass
class StepRecord:
    name: str
    status: str  # success | failed | timed_out | crashed
    started_at: float
    finished_at: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        from osc_runtime.store import _iso

        return {"name": self.name, "status": self.status, "started_at": _iso(self.started_at),
                "finished_at": _iso(self.finished_at), "error": self.error}

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> StepRecord:
        return cls(name=str(item["name"]), status=str(item["status"]),
                   started_at=float(item["started_at"]),
                   finished_at=None if item.get("finished_at") is None
                   else float(item["finished_at"]), error=item.get("error"))

    def stored(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "started_at": self.started_at,
                "finished_at": self.finished_at, "error": self.error}


def now() -> float:
    return time.time()


def fixed_condition(edge: Edge, failed: bool) -> bool | None:
    """Whether `edge` is followed after its step; None when its JS expression decides."""
    if not edge.enabled:
        return False
    return {"always": True, "on_success": not failed, "on_failure": failed}.get(edge.condition)


def step_state(upstream: Any, credential: Any) -> dict[str, Any]:
    """What a step starts from: the upstream's state, this step's credential and no other."""
    state = dict(upstream) if isinstance(upstream, dict) else {"data": upstream}
    state.pop("configuration", None)
    if credential is not None:
        state["configuration"] = credential
    return state


def with_error(state: Any, step: str, error: str | None) -> dict[str, Any]:
    """The state after a failed step, as @openfn/runtime leaves it: `errors.<step>` set."""
    failed = step_state(state, None)
    errors = dict(failed.get("errors") or {})
    message = (error or "the step failed").splitlines()[0]
    errors[step] = {"type": message.split(":", 1)[0] if ":" in message else "Error",
                    "message": message}
    failed["errors"] = errors
    return failed


CRASH_TYPES = ("ReferenceError", "SyntaxError")  # @openfn/runtime's assertRuntimeCrash


def crashes_the_run(error: str | None) -> bool:
    """Whether a step's error stops the whole workflow there, as @openfn/runtime does (and so
    Lightning): a ReferenceError or SyntaxError is a crash, after which no edge is followed."""
    return bool(error) and error.split(":", 1)[0].strip() in CRASH_TYPES


def run_failure(plan: Plan, records: list[StepRecord]) -> StepRecord | None:
    """The step whose failure fails the run (Lightning's leaf rule), or None."""
    ran = {record.name for record in records}
    return next((record for record in records if record.status != SUCCESS
                 and not plan.downstream(record.name) & ran), None)


def final_state(leaves: dict[str, Any]) -> Any:
    if len(leaves) == 1:
        return next(iter(leaves.values()))
    return leaves or None


def step_log_line(record: StepRecord, adaptor: str | None = None) -> str:
    """The line that opens or closes a step's section of the run log."""
    if record.finished_at is None:
        return f"[osc] step {record.name} started ({adaptor})\n"
    took = f"{record.finished_at - record.started_at:.3f} s"
    error = f": {record.error.splitlines()[0]}" if record.error else ""
    return f"[osc] step {record.name} {record.status} in {took}{error}\n"


STEP_LINE = re.compile(r"^\[osc\] step (?P<name>[a-z0-9-]+) (?P<what>started|success|failed) ")


class StepLines:
    """The steps a run's log shows so far (its `[osc] step …` lines): what a warm worker lost
    to a timeout or a crash can no longer report itself."""

    def __init__(self) -> None:
        self._records: list[StepRecord] = []

    def feed(self, text: str) -> None:
        for line in text.splitlines():
            found = STEP_LINE.match(line)
            if found is None:
                continue
            if found["what"] == "started":
                self._records.append(StepRecord(found["name"], "running", now()))
            elif self._records and self._records[-1].finished_at is None:
                self._records[-1].status, self._records[-1].finished_at = found["what"], now()

    def lost(self, error: str, status: str) -> str:
        """`error` for the run, naming the step it stopped in (which gets `status`)."""
        running = self._records[-1] if self._records else None
        if running is None or running.finished_at is not None:
            return error
        running.status, running.finished_at, running.error = status, now(), error
        return f"step {running.name}: {error}"

    def steps(self) -> list[StepRecord] | None:
        return self._records or None
