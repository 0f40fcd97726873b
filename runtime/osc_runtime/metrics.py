"""Prometheus metrics of one runtime, served at GET /metrics without a key.

Every app has its own registry (not prometheus_client's global one), so several runtimes in one
process do not clash. Labels hold only bounded, non-secret values: outcomes, status codes, the
trigger kind and flow target names; never a body, a key or a credential.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               ProcessCollector, generate_latest)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Job runs take from milliseconds (warm engine) to the 300 s default timeout.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
KNOWN_TRIGGERS = ("webhook", "cron", "flow")


class RuntimeMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, object], Counter] = {}
        ProcessCollector(registry=registry)
        self.accepted = Counter("osc_runs_accepted", "Runs accepted by the inbox (stored, 202).",
                                ["trigger"], registry=registry)
        self.finished = Counter("osc_runs_finished", "Runs finished, by final status.",
                                ["outcome"], registry=registry)
        self.attempts = Counter("osc_run_attempts", "Run attempts executed, by outcome.",
                                ["outcome"], registry=registry)
        self.retries = Counter("osc_run_retries", "Attempts that failed and were queued again.",
                               registry=registry)
        self.duration = Histogram("osc_run_duration_seconds", "Duration of each run attempt.",
                                  ["outcome"], buckets=DURATION_BUCKETS, registry=registry)
        self.last_success = Gauge("osc_last_success_timestamp_seconds",
                                  "Unix time of the last successful run.", registry=registry)
        self.inbox_requests = Counter("osc_inbox_requests", "POST /inbox answers, by status code.",
                                      ["status"], registry=registry)
        self.filtered = Counter("osc_inbox_unmatched", "Bodies that did not match OSC_FILTER.",
                                registry=registry)
        self.queue_depth = Gauge("osc_queue_depth", "Runs queued, waiting for a worker.",
                                 registry=registry)
        self.in_flight = Gauge("osc_runs_in_flight", "Runs executing now.", registry=registry)
        self.callbacks = Counter("osc_flow_callbacks", "Flow hand-off attempts, by target and "
                                 "result (delivered, retry, failed).", ["target", "result"],
                                 registry=registry)
        self.callbacks_pending = Gauge("osc_flow_callbacks_pending",
                                       "Flow hand-offs waiting to be delivered.", registry=registry)

    def bind(self, queued: Callable[[], int], running: Callable[[], int],
             pending_callbacks: Callable[[], int]) -> None:
        """Gauges read at scrape time from the live runtime."""
        self.queue_depth.set_function(queued)
        self.in_flight.set_function(running)
        self.callbacks_pending.set_function(pending_callbacks)

    def run_accepted(self, trigger: str) -> None:
        self._child(self.accepted, trigger if trigger in KNOWN_TRIGGERS else "other").inc()

    def inbox_answered(self, status: int) -> None:
        self._child(self.inbox_requests, status).inc()

    def _child(self, counter: Counter, label: object) -> Counter:
        """`counter.labels(label)`, looked up once per label (labels() locks and builds keys;
        the inbox asks for two on every request). Labels are few: statuses and triggers."""
        key = (id(counter), label)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(str(label))
        return child

    def attempt_ended(self, outcome: str, seconds: float | None, final_status: str | None,
                      now: float) -> None:
        self.attempts.labels(outcome).inc()
        if seconds is not None:
            self.duration.labels(outcome).observe(max(0.0, seconds))
        if final_status is None:
            self.retries.inc()
            return
        self.finished.labels(final_status).inc()
        if final_status == "success":
            self.last_success.set(now)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class InboxRequestCounter:
    """ASGI middleware: count POST /inbox answers by status code (401s and 4xx included)."""

    def __init__(self, app: ASGIApp, metrics: RuntimeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/inbox" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.inbox_answered(message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)


router = APIRouter()


@router.get("/metrics", summary="Prometheus metrics (no key needed; nothing sensitive)")
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
