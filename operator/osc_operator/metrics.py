"""The operator's Prometheus metrics, served on OSC_OPERATOR_METRICS_PORT (default 9090).

- `osc_operator_reconciliations_total{outcome}`: success | invalid_spec | missing_reference |
  child_failed | error (an unexpected exception; kopf retries it);
- `osc_operator_reconcile_duration_seconds`: histogram of one reconciliation;
- `osc_operator_openfnjobs{ready}`: the watched OpenFnJobs by their Ready status
  (True | False | Unknown), kept from the watch stream, so it never lists the API on a scrape;
- `osc_operator_errors_total{reason}`: failures by the reason shown on the job's Ready
  condition (InvalidSpec, CredentialNotFound, JobNotFound, ChildFailed,
  AdaptorInstallFailed, …), plus Unexpected for exceptions.

Labels never hold names, specs or keys: the number of series stays fixed.
"""

from __future__ import annotations

import threading
from typing import Any

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram

READY_VALUES = ("True", "False", "Unknown")

RECONCILIATIONS = Counter("osc_operator_reconciliations_total",
                          "OpenFnJob reconciliations by outcome.", ["outcome"])
RECONCILE_SECONDS = Histogram("osc_operator_reconcile_duration_seconds",
                              "Time taken by one OpenFnJob reconciliation.",
                              buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
JOBS = Gauge("osc_operator_openfnjobs", "Watched OpenFnJobs by Ready status.", ["ready"])
ERRORS = Counter("osc_operator_errors_total", "Reconciliation failures by reason.", ["reason"])

for _value in READY_VALUES:  # every series exists from the start: rate() needs no gap
    JOBS.labels(ready=_value)
for _outcome in ("success", "invalid_spec", "missing_reference", "child_failed", "error"):
    RECONCILIATIONS.labels(outcome=_outcome)

_ready_by_job: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def serve(port: int) -> None:
    """Serve GET /metrics (and /) on all interfaces, in a daemon thread."""
    prometheus_client.start_http_server(port)


def reconciled(outcome: str, seconds: float, reason: str | None = None) -> None:
    RECONCILIATIONS.labels(outcome=outcome).inc()
    RECONCILE_SECONDS.observe(seconds)
    if reason is not None:
        ERRORS.labels(reason=reason).inc()


def failed(reason: str) -> None:
    """A failure found outside a reconciliation (e.g. a pod's adaptor install)."""
    ERRORS.labels(reason=reason).inc()


def job_seen(event: str | None, namespace: str, name: str, body: dict[str, Any]) -> None:
    """Track a job's Ready status from a watch event; forget it when it is deleted."""
    key = (namespace, name)
    with _lock:  # the gauges move by one per change: no recount of every job per event
        old = _ready_by_job.pop(key, None)
        if old is not None:
            JOBS.labels(ready=old).dec()
        if event != "DELETED":
            _ready_by_job[key] = new = ready_status(body)
            JOBS.labels(ready=new).inc()


def ready_status(body: dict[str, Any]) -> str:
    conditions = (body.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    status = (ready or {}).get("status")
    return status if status in READY_VALUES else "Unknown"
