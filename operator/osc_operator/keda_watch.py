"""KEDA installed or removed after a job was made: its autoscaler switches by itself.

Each reconciliation records which autoscaler a job with spec.autoscaling got (KEDA's
ScaledObject, or the HorizontalPodAutoscaler: reconcile.Outcome.keda). Every
OSC_OPERATOR_KEDA_CHECK_SECONDS one API discovery read (open to every client) asks whether KEDA
is served now; the jobs whose autoscaler no longer fits are reconciled again, which makes the
other kind and deletes the old one. No KEDA CRD watch is needed, so the namespaced operator,
whose Role cannot watch CRDs, switches too; nothing is read while no job autoscales.

The reconciliations run as a job's own handler would: in a thread, in a copy of the context a
job handler ran in (kopf's Events need its posting queue), with the flow graph of the indexes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import kopf

from osc_operator import autoscaling, flow, kube
from osc_operator.settings import OperatorSettings

log = logging.getLogger("osc_operator.keda_watch")


def remember(memo: kopf.Memo, body: dict[str, Any], keda: bool | None,
             graph: flow.FlowGraph) -> None:
    """After a job's reconciliation: its autoscaler (None: it has none), and what a later
    reconciliation from here needs (the handler's context and the flow graph)."""
    autoscaled = memo.get("autoscaled")
    if autoscaled is None:
        return  # not running under kopf (the operator tests call handlers directly)
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    if keda is None:
        autoscaled.pop(key, None)
        return
    autoscaled[key] = keda
    memo.keda_watch.update(context=contextvars.copy_context(), graph=graph)


@kopf.on.startup()
async def start(memo: kopf.Memo, **_: Any) -> None:
    # shared dicts: kopf gives each object a shallow copy of this memo
    memo.autoscaled = {}  # (namespace, name) → True: a ScaledObject, False: an HPA
    memo.keda_watch = {}
    memo.keda_watch["task"] = asyncio.create_task(_follow(memo))


async def _follow(memo: kopf.Memo) -> None:
    interval = OperatorSettings().keda_check_seconds
    while True:
        await asyncio.sleep(interval)
        context = memo.keda_watch.get("context")
        if context is None or not memo.autoscaled:
            continue
        try:
            await asyncio.to_thread(context.copy().run, switch_autoscalers, memo)
        except Exception:  # the next check tries again; one failure must not end the watch
            log.exception("checking whether KEDA is installed failed")


def switch_autoscalers(memo: kopf.Memo) -> None:
    from osc_operator.handlers import run  # late: handlers imports this module

    keda = autoscaling.keda_installed(memo.kube)
    for (namespace, name), on_keda in list(memo.autoscaled.items()):
        if on_keda == keda:
            continue
        body = kube.get_job(memo.kube, namespace, name)
        if body is None:
            memo.autoscaled.pop((namespace, name), None)
            continue
        log.info("KEDA is %s: reconciling OpenFnJob %s/%s", "installed" if keda else "gone",
                 namespace, name)
        try:
            run(memo, body, memo.keda_watch["graph"])
        except (kopf.PermanentError, kopf.TemporaryError):
            pass  # reported in its status and as an Event; its own handlers retry it
