"""CoreWorkflowRunner: a workflow plan run with @openfn/core, one core process per step.

Steps run in the order @openfn/runtime runs them (a queue: a step's followers after the steps
already waiting), each on its upstream's output state with its own credential
(`workflow/outcome.py` holds the rules both engines share). JS edge conditions are evaluated
by node (`js/condition.mjs`) as @openfn/runtime evaluates them. The run's timeout covers all
steps: each step gets what is left of it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
from pathlib import Path
from typing import Any

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines.base import JobInvalid, Outcome, RunResult
from osc_runtime.engines.core import CoreRunner
from osc_runtime.runlog import RunLog
from osc_runtime.scrub import Scrubber
from osc_runtime.settings import Settings
from osc_runtime.workflow.outcome import (StepRecord, crashes_the_run, final_state,
                                          fixed_condition, now, run_failure, step_log_line,
                                          step_state, with_error)
from osc_runtime.workflow.plan import Plan

CONDITION_SCRIPT = Path(__file__).with_name("js") / "condition.mjs"
CONDITION_TIMEOUT = 30.0  # node's start on a busy host; each expression has 1 s in node


class ConditionFailed(RuntimeError):
    """A JS edge condition threw: the run fails, as @openfn/runtime's EdgeConditionError."""


def _stopped(result: RunResult, record: StepRecord,
             records: list[StepRecord]) -> RunResult | None:
    """The run's end right after this step: a timeout, a crash of node, or a crash of the job
    as @openfn/runtime counts one (workflow/outcome.py); None when the walk goes on."""
    if result.outcome in (Outcome.TIMED_OUT, Outcome.CRASHED):
        outcome = result.outcome
    elif result.outcome is not Outcome.SUCCESS and crashes_the_run(result.error):
        outcome = Outcome.FAILED
    else:
        return None
    return RunResult(outcome, result.exit_code, f"step {record.name}: {record.error}",
                     steps=records)


class CoreWorkflowRunner:
    def __init__(self, settings: Settings, plan: Plan,
                 adaptors: dict[str, ResolvedAdaptor]) -> None:
        self.settings = settings
        self.plan = plan
        self.runners = {step.name: CoreRunner(settings, adaptors[step.adaptor],
                                              code=step.expression,
                                              job_file=f"step-{step.name}.js")
                        for step in plan.steps}

    async def start(self) -> None:
        for name, runner in self.runners.items():
            try:
                await runner.start()
            except JobInvalid as error:  # no run could pass this step: say which one
                raise JobInvalid(f"step {name}: {error}") from None

    async def close(self) -> None:
        pass

    async def run(self, state: dict[str, Any], *, log_path: Path, timeout: float) -> RunResult:
        log = RunLog(log_path, self.settings.max_log_bytes, echo=self.settings.log_job_output)
        try:
            return await self._walk(state, log, Scrubber(self.plan.credentials()), timeout)
        finally:
            log.close()

    async def _walk(self, state: dict[str, Any], log: RunLog, scrubber: Scrubber,
                    timeout: float) -> RunResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        queue = collections.deque([(self.plan.start, step_state(state, None))])
        records: list[StepRecord] = []
        leaves: dict[str, Any] = {}
        exit_codes: dict[str, int | None] = {}
        while queue:
            name, upstream = queue.popleft()
            step = self.plan.step(name)
            record = StepRecord(name, "running", now())
            log.write(step_log_line(record, step.adaptor))
            result = await self.runners[name].execute(
                step_state(upstream, step.credential), log=log, scrubber=scrubber,
                timeout=max(0.001, deadline - loop.time()))
            record.status, record.finished_at = str(result.outcome), now()
            record.error = result.error
            if result.outcome is Outcome.TIMED_OUT:
                record.error = f"the run took longer than {timeout:g} s"
            records.append(record)
            exit_codes[name] = result.exit_code
            log.write(step_log_line(record))
            if (stopped := _stopped(result, record, records)) is not None:
                return stopped
            failed = result.outcome is not Outcome.SUCCESS
            output = with_error(upstream, name, result.error) if failed else result.final_state
            try:
                following = await self._follow(name, failed, output)
            except ConditionFailed as error:
                message = scrubber.text(str(error))
                log.write(f"[osc] {message}\n")
                return RunResult(Outcome.FAILED, None, message, steps=records)
            queue.extend((target, output) for target in following)
            if not following:
                leaves[name] = output
        return self._outcome(records, leaves, exit_codes, scrubber)

    def _outcome(self, records: list[StepRecord], leaves: dict[str, Any],
                 exit_codes: dict[str, int | None], scrubber: Scrubber) -> RunResult:
        failure = run_failure(self.plan, records)
        if failure is not None:
            return RunResult(Outcome.FAILED, exit_codes.get(failure.name),
                             f"step {failure.name}: {failure.error}", steps=records)
        return RunResult(Outcome.SUCCESS, 0, None, scrubber.final_state(final_state(leaves)),
                         steps=records)

    async def _follow(self, name: str, failed: bool, output: Any) -> list[str]:
        """The steps that run after `name`, in the plan's edge order."""
        edges = self.plan.edges_from(name)
        decided = [fixed_condition(edge, failed) for edge in edges]
        scripts = [edge.expression for edge, value in zip(edges, decided) if value is None]
        values = iter(await self._evaluate(scripts, output, name) if scripts else [])
        return [edge.target for edge, value in zip(edges, decided)
                if (next(values) if value is None else value)]

    async def _evaluate(self, expressions: list[str], state: Any, upstream: str) -> list[bool]:
        request = json.dumps({"expressions": expressions, "state": state, "upstream": upstream})
        env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
        process = await asyncio.create_subprocess_exec(
            self.settings.node_binary, str(CONDITION_SCRIPT), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
        try:
            out, _ = await asyncio.wait_for(process.communicate(request.encode()),
                                            CONDITION_TIMEOUT)
            answer = json.loads(out)
        except (TimeoutError, ValueError):
            process.kill()
            await process.wait()
            raise ConditionFailed(f"the conditions after step {upstream} could not be "
                                  "evaluated") from None
        if answer.get("error"):
            raise ConditionFailed(f"an edge condition after step {upstream} threw: "
                                  f"{answer['error']}")
        return [bool(value) for value in answer["values"]]
