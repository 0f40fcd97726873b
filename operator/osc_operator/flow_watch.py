"""Flow jobs link OpenFnJobs to each other: when one changes, re-reconcile the jobs it affects.

A job's own handlers (handlers.py) reconcile the job itself. This watch re-reconciles the
*others* whose result depends on it:

- its upstream (old and new, when `after` changes): their Deployments carry the flow targets;
- the chain above that upstream (its upstream, and so on): a new or removed edge can close or
  break a cycle, and every job on a cycle is refused;
- when a job appears or disappears, the jobs that flow after it: their Ready message says
  whether their upstream exists.

Only a change of what other jobs read of this one matters: its flow link (`after`, `on`, its
inbox Secret and key, whether its spec is valid, whether it is being deleted; see
`flow.link_of`). Status writes and other spec changes wake nothing, so the watch neither feeds
on the operator's own status updates nor costs anything for jobs outside flows. The last link
seen per job is kept in memory (`memo.flow_seen`); after a restart, `resume` reconciles every
job anyway. The graph comes from the operator's indexes: no API read unless a job is affected.
The same watch keeps the `osc_operator_openfnjobs{ready}` gauge.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from osc_operator import flow, kube, metrics
from osc_operator.handlers import JOBS, graph_of, run


@kopf.on.event(*JOBS)
async def job_changed(type: str | None, body: kopf.Body, namespace: str, name: str,
                      memo: kopf.Memo, flow_upstreams: kopf.Index, flow_downstreams: kopf.Index,
                      **_: Any) -> None:
    """Async: it sees every event of every job and mostly has nothing to do, so it runs on
    the event loop; the reconciliations it starts (blocking API calls) go to a thread."""
    metrics.job_seen(type, namespace, name, dict(body))
    key = (namespace, name)
    before = memo.flow_seen.get(key)
    now = flow.link_of(dict(body))
    if type == "DELETED":
        memo.flow_seen.pop(key, None)
    else:
        memo.flow_seen[key] = now
    if type is None or (type == "MODIFIED" and before == now):
        return  # the initial listing (`resume` handles it), or nothing other jobs read changed
    graph = graph_of(flow_upstreams, flow_downstreams)
    edges = graph.edges(namespace)
    affected = (flow.chain(now.after if now else None, edges)
                + flow.chain(before.after if before else None, edges))
    if type in ("ADDED", "DELETED"):
        affected += graph.downstreams_of(namespace, name)
    others = [other for other in dict.fromkeys(affected) if other != name]
    if others:
        await asyncio.to_thread(_reconcile_all, memo, namespace, others, graph)


def _reconcile_all(memo: kopf.Memo, namespace: str, names: list[str],
                   graph: flow.FlowGraph) -> None:
    for name in names:
        _reconcile(memo, namespace, name, graph)


def _reconcile(memo: kopf.Memo, namespace: str, name: str, graph: flow.FlowGraph) -> None:
    body = kube.get_job(memo.kube, namespace, name)
    if body is None:
        return
    try:
        run(memo, body, graph)
    except (kopf.PermanentError, kopf.TemporaryError):
        pass  # already reported in its status and as an Event; its own handlers retry it
