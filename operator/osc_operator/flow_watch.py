"""Flow jobs link OpenFnJobs to each other: when one changes, re-reconcile the jobs it affects.

A job's own handlers (handlers.py) reconcile the job itself. This watch re-reconciles the
*others* whose result depends on it:

- its upstream (old and new, when `after` changes): their Deployments carry the flow targets;
- the chain above that upstream (its upstream, and so on): a new or removed edge can close or
  break a cycle, and every job on a cycle is refused;
- when a job appears or disappears, the jobs that flow after it: their Ready message says
  whether their upstream exists.

Only spec changes matter (a new `metadata.generation`), not status writes, so the watch does
not feed on the operator's own status updates. The last generation and `after` seen per job
are kept in memory (`memo.flow_seen`); after a restart, `resume` reconciles every job anyway.
The same watch keeps the `osc_operator_openfnjobs{ready}` gauge.
"""

from __future__ import annotations

from typing import Any

import kopf

from osc_operator import flow, kube, metrics
from osc_operator.handlers import JOBS, run


@kopf.on.event(*JOBS)
def job_changed(type: str | None, body: kopf.Body, namespace: str, name: str,
                memo: kopf.Memo, **_: Any) -> None:
    metrics.job_seen(type, namespace, name, dict(body))
    key = (namespace, name)
    before = memo.flow_seen.get(key)
    now = (body.get("metadata", {}).get("generation"), flow.after_of(dict(body)))
    if type == "DELETED":
        memo.flow_seen.pop(key, None)
    else:
        memo.flow_seen[key] = now
    if type is None or (type == "MODIFIED" and before == now):
        return  # the initial listing (`resume` handles it), or no spec change
    jobs = kube.list_jobs(memo.kube, namespace)
    edges = flow.upstream_edges(jobs)
    affected = flow.chain(now[1], edges) + flow.chain(before[1] if before else None, edges)
    if type in ("ADDED", "DELETED"):
        affected += flow.downstreams_of(name, jobs)
    for other in dict.fromkeys(affected):
        if other != name:
            _reconcile(memo, namespace, other)


def _reconcile(memo: kopf.Memo, namespace: str, name: str) -> None:
    body = kube.get_job(memo.kube, namespace, name)
    if body is None:
        return
    try:
        run(memo, body)
    except (kopf.PermanentError, kopf.TemporaryError):
        pass  # already reported in its status and as an Event; its own handlers retry it
