"""Flow hand-off: when a run ends, POST its outcome to the inboxes of the jobs that follow it.

On success the body is the run's final state (already scrubbed); on failure it is
`{"error", "outcome", "run_id", "attempt", "input"}`. Every hand-off is a row in the
TriggerStore, sent by one background task and retried with exponential backoff until the
downstream answers 2xx (or 409: the same Idempotency-Key was used already, so it has the run).
The Idempotency-Key `<job>:<run_id>:<attempt>:<target>` makes a re-send after a crash harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

import httpx

from osc_runtime.engines.base import Outcome, RunResult
from osc_runtime.flow_targets import FlowTargets
from osc_runtime.metrics import RuntimeMetrics
from osc_runtime.scrub import Scrubber
from osc_runtime.store import Run, RunStore
from osc_runtime.trigger_store import Callback, TriggerStore
from osc_runtime.triggers import FLOW, FlowTarget, TriggerSettings

log = logging.getLogger("osc_runtime.flow")

# The downstream will never accept this body: retrying cannot help.
PERMANENT = {400, 413, 415, 422}
SEND_TIMEOUT_SECONDS = 30
IDLE_SECONDS = 30


class FlowSender:
    def __init__(self, job_name: str, settings: TriggerSettings, store: TriggerStore,
                 credential: Any, metrics: RuntimeMetrics | None = None) -> None:
        self.job_name = job_name
        self.metrics = metrics
        self.settings = settings
        self.store = store
        self.targets = FlowTargets(settings)
        self._held: set[tuple[str, int]] = set()  # attempts with rows waiting for release
        self._scrubber = Scrubber(credential)
        self._wake = asyncio.Event()

    def hold(self, run: Run, result: RunResult) -> None:
        """Before the outcome is recorded: write the hand-offs this outcome calls for."""
        on = "success" if result.outcome is Outcome.SUCCESS else "failure"
        matching = [(name, on) for name, target in self.targets.current.items()
                    if target.on == on]
        if matching:
            self.store.hold(run.run_id, run.attempt, matching, self._body(run, result))
            self._held.add((run.run_id, run.attempt))

    def release(self, run: Run, finished: bool) -> None:
        """After: send them if the run is finished with this attempt, else drop them."""
        # Remembered from `hold`: the targets may have changed since.
        if (run.run_id, run.attempt) in self._held:
            self._held.discard((run.run_id, run.attempt))
            self.store.release(run.run_id, run.attempt, send=finished)
            self._wake.set()

    def recover(self, runs: RunStore) -> None:
        """At start-up (after the runs' own recovery): settle rows a crash left held."""
        for callback in self.store.held():
            run = runs.get(callback.run_id)
            if runs.shared and run is not None and run.status == "running" \
                    and run.attempt == callback.attempt:
                continue  # another replica is ending this attempt now
            finished = run is not None and run.finished and run.attempt == callback.attempt
            self.store.release(callback.run_id, callback.attempt, send=finished)

    def _body(self, run: Run, result: RunResult) -> str:
        if result.outcome is Outcome.SUCCESS:
            return json.dumps(result.final_state)
        report = {"error": result.error, "outcome": str(result.outcome), "run_id": run.run_id,
                  "attempt": run.attempt, "input": json.loads(run.input)}
        return json.dumps(self._scrubber.value(report))

    async def send_forever(self) -> None:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS) as client:
            while True:
                try:
                    for callback in self.store.due():
                        await self._send(client, callback)
                except Exception:  # a store hiccup must not stop hand-offs for good
                    log.exception("flow sender error; retrying shortly")
                    await asyncio.sleep(5)
                await self._idle()

    async def _idle(self) -> None:
        self._wake.clear()
        due = self.store.next_due_at()
        wait = IDLE_SECONDS if due is None else max(0.0, due - self.store.clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), min(wait, IDLE_SECONDS))

    async def _send(self, client: httpx.AsyncClient, callback: Callback) -> None:
        target = self.targets.get(callback.target)
        if target is None:
            self.store.attempt_failed(callback.id, "no longer a flow target of this job",
                                      retry_in=None)
            return
        error = await self._post(client, target, callback)
        if error is None:
            self.store.delivered(callback.id)
            self._count(target.name, "delivered")
            log.info("flow callback delivered", extra=_fields(callback))
            return
        permanent = error.startswith(tuple(f"HTTP {code}" for code in PERMANENT))
        retry_in = None if permanent else self.backoff(callback.attempts + 1)
        self.store.attempt_failed(callback.id, error, retry_in=retry_in)
        self._count(target.name, "failed" if permanent else "retry")
        log.warning("flow callback not delivered: %s", error, extra=_fields(callback))

    def _count(self, target: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.callbacks.labels(target, result).inc()

    async def _post(self, client: httpx.AsyncClient, target: FlowTarget,
                    callback: Callback) -> str | None:
        """POST one hand-off; None when delivered, else what went wrong (never the key)."""
        try:
            key = target.key_path.read_text(encoding="utf-8").strip()
        except OSError as error:
            return f"cannot read the key file {target.key_path}: {error.strerror}"
        headers = {
            "Authorization": f"Bearer {key}", "Content-Type": "application/json",
            "X-OSC-Trigger": FLOW, "X-OSC-Upstream": f"{self.job_name}/{callback.run_id}",
            "Idempotency-Key": f"{self.job_name}:{callback.run_id}:{callback.attempt}:{target.name}",
        }
        try:
            answer = await client.post(target.url, content=callback.body.encode(),
                                       headers=headers, params={"sync": "false"})
        except httpx.HTTPError as error:
            return f"cannot reach {target.url}: {type(error).__name__} {error}".strip()
        if answer.is_success or answer.status_code == 409:
            return None
        return f"HTTP {answer.status_code} from {target.url}: {answer.text[:200]}"

    def backoff(self, attempts: int) -> float:
        base = self.settings.flow_retry_backoff_seconds * 2 ** (attempts - 1)
        return min(base, self.settings.flow_retry_max_backoff_seconds) * random.uniform(0.5, 1.0)


def _fields(callback: Callback) -> dict[str, Any]:
    return {"run_id": callback.run_id, "attempt": callback.attempt, "target": callback.target}
