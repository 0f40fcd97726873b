"""Connect triggers and observability to a runtime: run events, flow sender, metrics gauges."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from osc_runtime.api.deps import Runtime
from osc_runtime.flow import FlowSender
from osc_runtime.metrics import RuntimeMetrics
from osc_runtime.run_events import RunEvents
from osc_runtime.store import Status
from osc_runtime.trigger_store import TriggerStore
from osc_runtime.triggers import CRON, TriggerSettings
from osc_runtime.workflow.step_store import StepStore

CLEANUP_INTERVAL_SECONDS = 3600


@dataclass
class TriggerParts:
    store: TriggerStore
    flow: FlowSender
    steps: StepStore | None = None

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._forget_deleted_runs(), self.flow.send_forever(),
                self.flow.targets.follow_forever()]

    async def _forget_deleted_runs(self) -> None:
        while True:
            await asyncio.sleep(CLEANUP_INTERVAL_SECONDS)
            self.store.forget_runs_gone()
            if self.steps is not None:
                self.steps.forget_runs_gone()

    def close(self) -> None:
        self.store.close()
        if self.steps is not None:
            self.steps.close()


def connect_triggers(runtime: Runtime, settings: TriggerSettings,
                     metrics: RuntimeMetrics) -> TriggerParts:
    """Give the dispatcher its run events; settle flow hand-offs a crash left undecided."""
    job = runtime.settings
    if runtime.store.shared:  # PostgreSQL: the same database, shared by the replicas
        store = TriggerStore(runtime.store.database, runtime.store.clock, shared=True)
    else:
        store = TriggerStore(job.data_dir / "runs.db", runtime.store.clock)
    # Also without targets: hand-offs left pending by an earlier configuration get settled.
    flow = FlowSender(job.job_name, settings, store, job.credentials_to_mask(), metrics)
    flow.recover(runtime.store)
    steps = None
    if job.workflow is not None:
        steps = StepStore(runtime.store.database if runtime.store.shared
                          else job.data_dir / "runs.db")
    runtime.dispatcher.events = RunEvents(
        runs=runtime.store, triggers=store, metrics=metrics, flow=flow,
        keep_carried_state=job.trigger == CRON, steps=steps,
    )
    metrics.bind(queued=lambda: runtime.store.count(Status.QUEUED),
                 running=lambda: runtime.dispatcher.running,
                 pending_callbacks=store.pending_count)
    return TriggerParts(store=store, flow=flow, steps=steps)
