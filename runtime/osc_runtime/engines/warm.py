"""WarmEngine (OSC_ENGINE=warm): a pool of long-lived node workers running @openfn/runtime.

Each run of the core engine starts node, loads core and the adaptor and compiles the job: about
half a second. Here the job is compiled once per worker (legacy syntax → ES module, see
js/compile.mjs) and each run is a function call in a warm process. The semantics stay those of
the core engine: the same state in and out, the job's output in the run's log, the credential
masked everywhere, a timeout that kills the worker, the same outcomes.

A worker runs one run at a time; there are as many workers as the dispatcher's concurrency. A
worker is replaced after `max_runs` runs or when its memory passes `max_rss_bytes`
(@openfn/runtime's memory grows with every run); one lost to a timeout, a crash or a stray error
is killed at once and started again when the next run needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines import processes
from osc_runtime.engines.base import JobInvalid, Outcome, RunResult
from osc_runtime.engines.warm_worker import WarmWorker, WorkerLost
from osc_runtime.masked_output import MaskedStream
from osc_runtime.runlog import RunLog
from osc_runtime.scrub import Scrubber
from osc_runtime.settings import Settings
from osc_runtime.workflow.outcome import StepLines, StepRecord, run_failure
from osc_runtime.workflow.plan import Plan

DEFAULT_MAX_RUNS = 500
DEFAULT_MAX_RSS_BYTES = 256 * 1024 * 1024
RESPAWN_DELAYS = (0.5, 1, 2, 5, 10, 30)  # seconds between attempts to replace a worker

logger = logging.getLogger(__name__)


class WarmEngine:
    def __init__(
        self,
        settings: Settings,
        adaptor: ResolvedAdaptor | None,
        *,
        plan: Plan | None = None,
        adaptors: dict[str, ResolvedAdaptor] | None = None,
        workers: int | None = None,
        max_runs: int = DEFAULT_MAX_RUNS,
        max_rss_bytes: int = DEFAULT_MAX_RSS_BYTES,
    ) -> None:
        """`plan` and `adaptors` (by spec) run a workflow: @openfn/runtime's execution plan."""
        self.settings = settings
        self.adaptor = adaptor
        self.plan = plan
        self.adaptors = adaptors or {}
        self.size = workers or settings.concurrency
        self.max_runs = max_runs
        self.max_rss_bytes = max_rss_bytes
        self.replaced = 0  # workers retired and replaced so far
        # None stands for a worker lost to a timeout or crash, started again when a run needs it
        self._idle: asyncio.Queue[WarmWorker | None] = asyncio.Queue()
        self._live: set[WarmWorker] = set()
        self._respawns: set[asyncio.Task] = set()
        self._run_ids = itertools.count(1)
        self._closed = False
        self._job_code = ""

    async def start(self) -> None:
        self._job_code = self.settings.job_code() if self.plan is None else ""
        workers = await asyncio.gather(
            *(self._spawn() for _ in range(self.size)), return_exceptions=True
        )
        failures = [worker for worker in workers if isinstance(worker, BaseException)]
        for worker in workers:
            if isinstance(worker, WarmWorker):
                self._idle.put_nowait(worker)
        if failures:
            await self.close()
            raise RuntimeError(f"the warm engine's node workers did not start: {failures[0]}")
        compile_error = next((w.compile_error for w in workers if w.compile_error), None)
        if compile_error:  # every worker compiled the same job: no run could succeed
            await self.close()
            raise JobInvalid(compile_error)

    async def run(self, state: dict[str, Any], *, log_path: Path, timeout: float) -> RunResult:
        masked = state.get("configuration") if self.plan is None else self.plan.credentials()
        scrubber = Scrubber(masked)
        log = RunLog(log_path, self.settings.max_log_bytes, echo=self.settings.log_job_output)
        try:
            worker = await self._acquire()
        except Exception as error:
            log.close()
            return RunResult(Outcome.CRASHED, None, f"no node worker could be started: {error}")
        try:
            log.write(_banner(self.adaptor, worker) if self.plan is None
                      else _workflow_banner(worker))
            return await self._run_on(worker, state, log, scrubber, timeout)
        finally:
            try:  # the worker lives on; what this run started in it does not
                await asyncio.to_thread(processes.end_run_processes, worker.pid, worker.tag)
            finally:
                log.close()
                self._release(worker)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._respawns):
            task.cancel()
        await asyncio.gather(*self._respawns, return_exceptions=True)
        await asyncio.gather(*(worker.close() for worker in list(self._live)))
        self._live.clear()

    async def _run_on(
        self, worker: WarmWorker, state: dict, log: RunLog, scrubber: Scrubber, timeout: float
    ) -> RunResult:
        masked = MaskedStream(scrubber)
        seen = StepLines()  # a workflow's steps so far, should the worker be lost mid-run

        def passed_on(text: str) -> None:
            log.write(text)
            if self.plan is not None:
                seen.feed(text)

        def sink(output: bytes) -> None:
            passed_on(masked.feed(output))

        try:
            return await self._attempt(worker, state, sink, scrubber, timeout, seen)
        finally:
            passed_on(masked.flush())

    async def _attempt(self, worker: WarmWorker, state: dict, sink: Callable[[bytes], None],
                       scrubber: Scrubber, timeout: float, seen: StepLines) -> RunResult:
        try:
            reply = await asyncio.wait_for(worker.run(next(self._run_ids), state, sink), timeout)
        except TimeoutError:
            exit_code = await worker.close()
            error = seen.lost(f"the run took longer than {timeout:g} s", "timed_out")
            return RunResult(Outcome.TIMED_OUT, exit_code, error, steps=seen.steps())
        except WorkerLost as lost:
            return RunResult(Outcome.CRASHED, lost.returncode, seen.lost(str(lost), "crashed"),
                             steps=seen.steps())
        except asyncio.CancelledError:
            worker.kill()  # shutdown mid-run: the worker's state is unknown
            raise
        return _result(reply, scrubber) if self.plan is None else _workflow_result(
            self.plan, reply, scrubber)

    def _workflow_setup(self) -> dict[str, Any]:
        """The plan as worker.mjs takes it: every step with its adaptor's folder and its own
        credential (sent over the worker's stdin, never written anywhere)."""
        steps = [{"name": step.name, "expression": step.expression, "credential": step.credential,
                  "adaptor": {"name": self.adaptors[step.adaptor].name,
                              "path": str(self.adaptors[step.adaptor].path)}}
                 for step in self.plan.steps]
        edges = [{"from": edge.source, "to": edge.target, "condition": edge.condition,
                  "expression": edge.expression, "enabled": edge.enabled}
                 for edge in self.plan.edges]
        return {"steps": steps, "edges": edges}

    async def _acquire(self) -> WarmWorker:
        worker = await self._idle.get()
        if worker is not None:
            return worker
        try:
            return await self._spawn()
        except BaseException:
            self._idle.put_nowait(None)
            raise

    def _release(self, worker: WarmWorker) -> None:
        worn_out = worker.runs >= self.max_runs or worker.rss >= self.max_rss_bytes
        if not (worker.dirty or worn_out or self._closed):
            self._idle.put_nowait(worker)
            return
        if worker.dirty:  # after a timeout or crash, start the next one only when a run needs it
            self._idle.put_nowait(None)
            self.replaced += 1
            self._track(asyncio.create_task(self._retire(worker)))
            return
        self._track(asyncio.create_task(self._replace(worker)))

    def _track(self, task: asyncio.Task) -> None:
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _retire(self, worker: WarmWorker) -> None:
        await worker.close()
        self._live.discard(worker)

    async def _replace(self, worker: WarmWorker) -> None:
        await self._retire(worker)
        if self._closed:
            return
        self.replaced += 1
        for delay in itertools.chain((0,), RESPAWN_DELAYS, itertools.repeat(RESPAWN_DELAYS[-1])):
            await asyncio.sleep(delay)
            try:
                self._idle.put_nowait(await self._spawn())
                return
            except Exception as error:  # keep trying: queued runs are waiting for a worker
                logger.warning("a warm node worker failed to start: %s", error)

    async def _spawn(self) -> WarmWorker:
        if self.plan is None:
            worker = WarmWorker(self.settings, self.adaptor, self._job_code)
        else:
            node_path = tuple(dict.fromkeys(path for adaptor in self.adaptors.values()
                                            for path in adaptor.node_path))
            worker = WarmWorker(self.settings, None, "", workflow=self._workflow_setup(),
                                node_path=node_path)
        self._live.add(worker)
        try:
            await worker.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await worker.close()
            self._live.discard(worker)
            raise
        return worker


def _banner(adaptor: ResolvedAdaptor, worker: WarmWorker) -> str:
    versions = worker.versions
    return (
        f"osc warm engine: {adaptor.name}@{versions.get('adaptor', adaptor.version)} on "
        f"@openfn/runtime {versions.get('runtime')} in place of @openfn/core "
        f"(Node.js {versions.get('node')})\n"
    )


def _result(reply: dict, scrubber: Scrubber) -> RunResult:
    if reply.get("outcome") == "success":
        return RunResult(Outcome.SUCCESS, 0, None, scrubber.final_state(reply.get("state")))
    error = scrubber.text(str(reply.get("error") or "no error message"))
    return RunResult(Outcome.FAILED, reply.get("exitCode", 1), error)


def _workflow_banner(worker: WarmWorker) -> str:
    versions = worker.versions
    return (f"osc warm engine: a workflow of {versions.get('adaptor')} on @openfn/runtime "
            f"{versions.get('runtime')} (Node.js {versions.get('node')})\n")


def _workflow_result(plan: Plan, reply: dict, scrubber: Scrubber) -> RunResult:
    """The run's outcome from its steps (Lightning's rule, workflow/outcome.py)."""
    steps = [StepRecord(name=str(item["name"]), status=str(item.get("status") or "failed"),
                        started_at=float(item["started_at"]),
                        finished_at=item.get("finished_at"),
                        error=scrubber.text(item["error"]) if item.get("error") else None)
             for item in reply.get("steps") or []]
    if reply.get("outcome") != "success":
        error = scrubber.text(str(reply.get("error") or "no error message"))
        return RunResult(Outcome.FAILED, reply.get("exitCode", 1), error, steps=steps)
    failure = run_failure(plan, steps)
    if failure is not None:
        return RunResult(Outcome.FAILED, 1, f"step {failure.name}: {failure.error}", steps=steps)
    return RunResult(Outcome.SUCCESS, 0, None, scrubber.final_state(reply.get("state")),
                     steps=steps)
