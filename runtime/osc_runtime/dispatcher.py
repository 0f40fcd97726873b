"""Workers: take the oldest due run, run it on the engine, record the outcome. No HTTP here.

Delivery is at-least-once: a run left `running` by a crash is queued again as a new attempt,
and a run is marked `success` in the same transaction that ends it, so a succeeded run is
never taken again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from pathlib import Path

from osc_runtime.engines.base import Engine, Outcome, RunResult
from osc_runtime.run_events import RunEvents
from osc_runtime.runlog import append_private
from osc_runtime.settings import Settings
from osc_runtime.store import Run, RunStore, Status, StoreUnavailable
from osc_runtime.triggers import CRON

log = logging.getLogger("osc_runtime.dispatcher")

# A run that keeps dying with the whole runtime is probably what kills it: stop after this many.
MAX_INTERRUPTED_ATTEMPTS = 5
IDLE_POLL_SECONDS = 5.0
STORE_RETRY_SECONDS = 1.0  # PostgreSQL unreachable: how soon a worker tries again


class Dispatcher:
    def __init__(self, settings: Settings, store: RunStore) -> None:
        self.settings = settings
        self.store = store
        self.logs_dir = settings.data_dir / "runs"
        # A workflow's steps each get their own credential from the engine, never this one.
        self._credential = settings.credential_value() if settings.workflow is None else None
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task] = []
        self._busy: set[asyncio.Task] = set()
        self._waiters: dict[str, list[asyncio.Event]] = {}
        self._claiming = False
        self._serial_running = False  # a cron run (state carried over) is running
        self.engine: Engine | None = None
        self.events = RunEvents()  # logs, metrics, flow hand-offs, cron carry-over (app wires it)

    def log_path(self, run_id: str) -> Path:
        return self.logs_dir / f"{run_id}.log"

    def recover(self) -> None:
        """Queue again every run a previous process left running (before workers start)."""
        for run in self.store.interrupted():
            if run.attempt >= MAX_INTERRUPTED_ATTEMPTS:
                result = RunResult(Outcome.CRASHED, None, f"interrupted {run.attempt} times")
                self.events.finishing(run, result)  # a failure flow hands the dead run on
                self.store.finish(run.run_id, Status.DEAD, outcome=result.outcome, exit_code=None,
                                  error=result.error, final_state=None)
                self.events.recorded(run, result, self.store.get(run.run_id))
                continue
            self.store.requeue(run.run_id, outcome=Outcome.CRASHED,
                               error="interrupted by a restart of the runtime")
            log.info("run re-queued after a restart", extra={"run_id": run.run_id})

    def start(self, engine: Engine) -> None:
        self.logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.engine = engine
        self._claiming = True
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.settings.concurrency)]
        if self.store.shared:  # another replica may die at any time: look for its runs
            self._workers.append(asyncio.create_task(self._recover_forever()))

    async def _recover_forever(self) -> None:
        """Shared store: queue again the runs whose lease has expired (their replica is gone)."""
        while self._claiming:
            await asyncio.sleep(self.store.lease_seconds / 2)
            try:
                self.recover()
            except Exception as error:  # the database is away: the next round tries again
                log.warning("cannot recover interrupted runs: %s", error)
            self._wake.set()

    @property
    def running(self) -> int:
        return len(self._busy)

    def wake(self) -> None:
        self._wake.set()

    async def wait_finished(self, run_id: str, timeout: float) -> Run | None:
        """Wait until the run is finished (or `timeout` passes); return it as it is then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        self._waiters.setdefault(run_id, []).append(event)
        try:
            while True:
                event.clear()
                run = self.store.get(run_id)
                left = deadline - loop.time()
                if run is None or run.finished or left <= 0:
                    return run
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), left)
        finally:
            self._waiters[run_id].remove(event)
            if not self._waiters[run_id]:
                del self._waiters[run_id]

    async def drain(self, grace: float) -> None:
        """Take no new runs; let running ones finish for `grace` seconds, then stop them.

        A stopped run stays `running` in the store and is queued again on the next start.
        """
        self._claiming = False
        self._wake.set()
        if self._busy:
            await asyncio.wait(set(self._busy), timeout=grace)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _work(self) -> None:
        while self._claiming:
            # No await between the check and the claim: two workers never both take a cron run.
            try:
                run = self.store.claim_next(skip_trigger=self._serial_skip())
            except StoreUnavailable as error:  # PostgreSQL is away: wait for it, keep the worker
                log.warning("cannot claim a run: %s", error)
                await asyncio.sleep(STORE_RETRY_SECONDS)
                continue
            if run is None:
                await self._idle()
                continue
            serial = run.trigger == CRON
            self._serial_running |= serial
            task = asyncio.current_task()
            self._busy.add(task)
            try:
                await self._execute(run)
            finally:
                self._busy.discard(task)
                if serial:  # its final state is carried now: the next tick may start from it
                    self._serial_running = False
                    self._wake.set()
            self._notify(run.run_id)

    def _serial_skip(self) -> str | None:
        """Cron runs start from the previous success's final state (carry-over), so they run
        one after another, whatever the concurrency; other runs do not wait for them."""
        return CRON if self._serial_running else None

    async def _idle(self) -> None:
        self._wake.clear()
        try:
            due = self.store.next_due_at(skip_trigger=self._serial_skip())
        except StoreUnavailable:
            due = None
        wait = IDLE_POLL_SECONDS if due is None else max(0.0, due - self.store.clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), min(wait, IDLE_POLL_SECONDS))

    async def _execute(self, run: Run) -> None:
        log_path = self.log_path(run.run_id)
        log_start = log_path.stat().st_size if log_path.exists() else 0
        with append_private(log_path) as header:
            header.write(f"[osc] run {run.run_id} attempt {run.attempt} ({run.trigger})\n")
        state = self.events.initial_state(run, self._credential)
        if (came_in := self.store.request_of(run.run_id)) is not None:
            state["request"] = came_in.request  # how it was called, credentials removed
        self.events.started(run)
        try:
            result = await self.engine.run(
                state, log_path=log_path, timeout=self.settings.run_timeout_seconds
            )
        except asyncio.CancelledError:
            raise  # shutdown: the run stays `running` and is recovered on the next start
        except Exception as error:  # an engine bug must not lose the run or kill the worker
            log.exception("engine error", extra={"run_id": run.run_id})
            result = RunResult(Outcome.CRASHED, None, f"engine error: {type(error).__name__}")
        while True:  # the outcome is known: record it once the database can take it
            try:
                self.events.finishing(run, result)  # idempotent: a hand-off is written once
                self._keep_log(run, log_path, log_start)
                self._record(run, result)
                break
            except StoreUnavailable as error:
                log.warning("cannot record the run yet: %s", error, extra={"run_id": run.run_id})
                await asyncio.sleep(STORE_RETRY_SECONDS)
        self.events.recorded(run, result, self.store.get(run.run_id))

    def _keep_log(self, run: Run, log_path: Path, start: int) -> None:
        """Shared store: this attempt's output goes to the database, for every replica to serve."""
        if not self.store.shared:
            return
        with log_path.open("rb") as file:
            file.seek(start if start <= log_path.stat().st_size else 0)  # the cap may have cut it
            text = file.read().decode("utf-8", "replace")
        self.store.append_log(run.run_id, text, self.settings.max_log_bytes)

    def _record(self, run: Run, result: RunResult) -> None:
        fields = {"outcome": result.outcome, "exit_code": result.exit_code, "error": result.error}
        if result.outcome is Outcome.SUCCESS:
            state = json.dumps(result.final_state)
            self.store.finish(run.run_id, Status.SUCCESS, final_state=state, **fields)
        elif self._retries(result.outcome) and run.attempt < self.settings.max_attempts:
            delay = self.backoff(run.attempt)
            self.store.requeue(run.run_id, not_before=self.store.clock() + delay, **fields)
            self._wake.set()
        elif self._retries(result.outcome) and self.settings.max_attempts > 1:
            self.store.finish(run.run_id, Status.DEAD, final_state=None, **fields)
        else:
            self.store.finish(run.run_id, Status(result.outcome), final_state=None, **fields)

    def _retries(self, outcome: Outcome) -> bool:
        return str(outcome) in self.settings.retried_outcomes()

    def backoff(self, attempt: int) -> float:
        """Exponential in the attempt, capped, with jitter so retries do not arrive in waves."""
        base = self.settings.retry_backoff_seconds * 2 ** (attempt - 1)
        return min(base, self.settings.retry_max_backoff_seconds) * random.uniform(0.5, 1.0)

    def _notify(self, run_id: str) -> None:
        for event in self._waiters.get(run_id, []):
            event.set()
