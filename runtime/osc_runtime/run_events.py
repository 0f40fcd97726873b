"""What happens around a run, in one place: log events, metrics, flow hand-offs, cron carry-over.

The inbox calls `accepted`; the dispatcher calls `initial_state`, `started`, `finishing` (before
the outcome is recorded) and `recorded` (after). Every part is optional, so a dispatcher built
alone (as in unit tests) works with a bare `RunEvents()`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from osc_runtime.engines.base import Outcome, RunResult
from osc_runtime.logs import QuickLogger
from osc_runtime.store import Run, RunStore, Status
from osc_runtime.triggers import CRON, initial_state

if TYPE_CHECKING:
    from osc_runtime.flow import FlowSender
    from osc_runtime.metrics import RuntimeMetrics
    from osc_runtime.trigger_store import TriggerStore
    from osc_runtime.workflow.step_store import StepStore

log = logging.getLogger("osc_runtime.runs")
accepted_log = QuickLogger("osc_runtime.runs")  # one line per accepted run


class RunEvents:
    def __init__(self, *, runs: RunStore | None = None, triggers: TriggerStore | None = None,
                 metrics: RuntimeMetrics | None = None, flow: FlowSender | None = None,
                 keep_carried_state: bool = False, steps: StepStore | None = None) -> None:
        self.runs = runs
        self.triggers = triggers
        self.metrics = metrics
        self.flow = flow
        self.keep_carried_state = keep_carried_state
        self.steps = steps  # a workflow's step records; None for a single job

    def accepted(self, run: Run, upstream: str | None = None, auth: str | None = None) -> None:
        if upstream and self.triggers is not None:
            self.triggers.set_upstream(run.run_id, upstream)
        if self.metrics is not None:
            self.metrics.run_accepted(run.trigger)
        extra = {"event": "run_accepted", "run_id": run.run_id, "attempt": run.attempt,
                 "trigger": run.trigger} | ({"upstream": upstream} if upstream else {}) \
            | ({"auth": auth} if auth else {})
        accepted_log.info("run accepted", extra=extra)

    def initial_state(self, run: Run, credential: Any) -> dict[str, Any]:
        carried = self._carried_state() if run.trigger == CRON else None
        return initial_state(run.trigger, json.loads(run.input), credential, carried)

    def started(self, run: Run) -> None:
        log.info("run started", extra={"event": "run_started", "run_id": run.run_id,
                                       "attempt": run.attempt, "trigger": run.trigger})

    def finishing(self, run: Run, result: RunResult) -> None:
        if self.steps is not None and result.steps is not None:
            self.steps.record(run.run_id, result.steps)  # before the run shows as finished
        if self.flow is not None:
            self.flow.hold(run, result)

    def recorded(self, run: Run, result: RunResult, stored: Run | None) -> None:
        """`stored` is the run as recorded: finished with this attempt, or queued again."""
        finished = stored is not None and stored.finished and stored.attempt == run.attempt
        final_status = str(stored.status) if finished else None
        # A retried attempt's end is not on the run (it describes the next attempt): it is now.
        ended = stored.finished_at if finished else self.runs.clock() if self.runs else None
        now = ended or run.started_at
        seconds = None if run.started_at is None or now is None else round(now - run.started_at, 3)
        if self.flow is not None:
            self.flow.release(run, finished)
        if finished and stored.status is Status.SUCCESS and self.keep_carried_state:
            self.triggers.carry(run.run_id, stored.final_state)
        if self.metrics is not None:
            self.metrics.attempt_ended(str(result.outcome), seconds, final_status, now or 0)
        extra = {"run_id": run.run_id, "attempt": run.attempt, "outcome": str(result.outcome),
                 "duration_seconds": seconds, "trigger": run.trigger}
        if result.outcome is not Outcome.SUCCESS:
            extra["error"] = (result.error or "")[:500]
        if finished:
            log.info("run finished", extra=extra | {"event": "run_finished", "status": final_status})
        else:
            log.info("run attempt failed; queued again",
                     extra=extra | {"event": "run_retrying", "status": "queued"})

    def describe(self, run: Run) -> dict[str, Any]:
        """The run as GET /runs/{id} shows it: with its flow hand-offs and where it came from."""
        record = run.to_json()
        if self.triggers is not None:
            record["callbacks"] = [item.to_json() for item in self.triggers.for_run(run.run_id)]
            record["upstream"] = self.triggers.upstream(run.run_id)
        if self.steps is not None:
            record["steps"] = self.steps.steps_of(run.run_id)
        return record

    def _carried_state(self) -> Any:
        text = self.triggers.carried() if self.triggers is not None else None
        if text is None and self.runs is not None:
            last = self.runs.list(statuses=[Status.SUCCESS], limit=1, bodies=True)
            text = last[0].final_state if last else None
        return json.loads(text) if text else None
