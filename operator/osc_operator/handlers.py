"""The kopf handlers: thin wiring of events to `reconcile`, status conditions and Events."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

import kopf

from osc_operator import (adaptor_install, api, flow, job_check, keda_watch, kube, metrics, render,
                          workflow_render)
from osc_operator.reconcile import ChildFailed, InvalidSpec, MissingReference, reconcile
from osc_operator.settings import OperatorSettings
from osc_operator.webhook_render import referenced_secrets

JOBS = (api.GROUP, api.VERSION, api.PLURAL)
RETRY_MISSING_SECONDS = 30
RETRY_CHILD_SECONDS = 60
RETRY_SOON_SECONDS = 3  # a refusal that passes by itself (reconcile.child_failed)
# Ready states that track the Deployment (a failed adaptor install clears once it is available)
FOLLOWED_REASONS = ("Progressing", "Available", adaptor_install.FAILED_REASON, job_check.REASON)
MANAGED = {"app.kubernetes.io/managed-by": "osc-operator"}
# One reconciliation of a job at a time: a job is also reconciled from other objects' handlers
# (flow jobs, Secrets), and a run that listed the jobs earlier must not write last.
_JOB_LOCKS: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Keep kopf's bookkeeping in our own annotations, out of the status we declare in the CRD.
    prefix = api.GROUP
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=prefix)
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 32  # a reconciliation mostly waits on the API server
    # After a handler, kopf waits for the watch to bring back its own annotation patch before it
    # trusts a body again. A reconciliation's status write arrives first, without kopf's
    # annotations; if the wait (5 s by default) runs out under a burst of jobs, kopf takes that
    # body for a new object and runs the whole creation again. The patch always arrives.
    settings.persistence.consistency_timeout = 30
    memo.settings = OperatorSettings()
    # Watching listed namespaces, kopf needs no scan of namespaces or CRDs, and the chart's
    # namespaced Role cannot list either: kopf would retry for a minute before it watches
    # anything. Cluster-wide, it follows CRDs as they come and go (the ClusterRole allows it).
    settings.scanning.disabled = bool(memo.settings.namespaces())
    memo.kube = kube.Kube.connect()
    memo.kopf_settings = settings
    memo.flow_seen = {}  # (namespace, name) → (generation, after): see flow_watch.py
    metrics.serve(memo.settings.metrics_port)


# The indexes run on every event of every OpenFnJob and only read its body: async, so kopf
# calls them on its event loop instead of handing each call to a worker thread.
@kopf.index(*JOBS)
async def flow_upstreams(namespace: str, name: str, spec: kopf.Spec,
                   **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, flow job) → the job it runs after: the flow graph, for cycles."""
    after = flow.after_of({"spec": dict(spec)})
    return {(namespace, name): after} if after is not None else {}


@kopf.index(*JOBS)
async def flow_downstreams(namespace: str, body: kopf.Body,
                     **_: Any) -> dict[tuple[str, str], flow.FlowLink]:
    """(namespace, upstream) → the flow link of each job that runs after it: its targets."""
    link = flow.link_of(dict(body))
    return {(namespace, link.after): link} if link is not None else {}


def graph_of(flow_upstreams: kopf.Index, flow_downstreams: kopf.Index) -> flow.FlowGraph:
    return flow.FlowGraph(flow_upstreams, flow_downstreams)


@kopf.on.resume(*JOBS)
@kopf.on.create(*JOBS)
@kopf.on.update(*JOBS)
def reconcile_job(body: kopf.Body, memo: kopf.Memo, flow_upstreams: kopf.Index,
                  flow_downstreams: kopf.Index, **_: Any) -> None:
    run(memo, dict(body), graph_of(flow_upstreams, flow_downstreams))


def run(memo: kopf.Memo, body: dict[str, Any], graph: flow.FlowGraph) -> None:
    """Reconcile one OpenFnJob and report it: status, Events, metrics and kopf's retry policy."""
    meta = body["metadata"]
    logger = kopf.LocalObjectLogger(body=body, settings=memo.kopf_settings)
    with _JOB_LOCKS[(meta["namespace"], meta["name"])]:
        _run_measured(memo, body, logger, graph)


def _run_measured(memo: kopf.Memo, body: dict[str, Any], logger: Any,
                  graph: flow.FlowGraph) -> None:
    started = time.monotonic()
    try:
        _reconcile_and_report(memo, body, logger, graph)
    except (kopf.PermanentError, kopf.TemporaryError) as error:
        reason = getattr(error, "reason", "Unexpected")
        outcome = {"InvalidSpec": "invalid_spec", "ChildFailed": "child_failed"}.get(
            reason, "missing_reference")
        metrics.reconciled(outcome, time.monotonic() - started, reason)
        raise
    except Exception:
        metrics.reconciled("error", time.monotonic() - started, "Unexpected")
        raise
    metrics.reconciled("success", time.monotonic() - started)


def _reconcile_and_report(memo: kopf.Memo, body: dict[str, Any], logger: Any,
                          graph: flow.FlowGraph) -> None:
    previous = (body.get("status") or {}).get("conditions")
    try:
        outcome = reconcile(memo.kube, body, memo.settings.runtime_image, graph,
                            network_policy=memo.settings.network_policy)
    except InvalidSpec as error:
        _report(memo, body, "False", "InvalidSpec", str(error), previous, failed=True)
        raise _tagged(kopf.PermanentError(f"invalid OpenFnJob: {error}"), "InvalidSpec")
    except MissingReference as error:
        _post_changes(body, error.changes, logger)
        _report(memo, body, "False", error.reason, str(error), previous, failed=True)
        raise _tagged(kopf.TemporaryError(str(error), delay=RETRY_MISSING_SECONDS), error.reason)
    except ChildFailed as error:
        _post_changes(body, error.changes, logger)
        _report(memo, body, "False", "ChildFailed", str(error), previous, failed=True)
        delay = RETRY_SOON_SECONDS if error.soon else RETRY_CHILD_SECONDS
        raise _tagged(kopf.TemporaryError(str(error), delay=delay), "ChildFailed")
    _post_changes(body, outcome.changes, logger)
    keda_watch.remember(memo, body, outcome.keda, graph)
    if (body.get("status") or {}).get("observedGeneration") != body["metadata"].get("generation"):
        for reason, warning in outcome.warnings:  # once per spec, not at every resume
            kopf.warn(body, reason=reason, message=warning)
    selector = render.selector_labels(body["metadata"]["name"])
    # Pods explain a failure; a job never reported on has just had its Deployment created,
    # so it has no pods to read yet (the Deployment's own events bring the next look).
    look = not outcome.available and not outcome.fresh
    failure = adaptor_install.find_install_failure(memo.kube, body, selector) if look else None
    invalid = job_check.find_job_invalid(memo.kube, body, selector, outcome.job_checksum) \
        if look and not failure else None
    extra = {"flowTargets": outcome.flow_targets}
    durable = _durable(body, outcome.durable, previous)
    if outcome.available:
        _report(memo, body, "True", "Available", "the job's Deployment is available", previous,
                extra=extra, durable=durable)
    elif failure:
        _report(memo, body, "False", adaptor_install.FAILED_REASON, failure, previous,
                failed=True, extra=extra, durable=durable)
    elif invalid:
        _report(memo, body, "False", job_check.REASON, invalid, previous, failed=True,
                extra=extra, durable=durable)
    else:
        _report(memo, body, "False", "Progressing", "waiting for the Deployment to be "
                "available", previous, extra=extra, durable=durable)


def _durable(body: dict[str, Any], durable: tuple[bool, str, str] | None,
             previous: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The Durable condition; a Warning Event when the store newly becomes an emptyDir."""
    if durable is None:
        return None
    status, reason, message = "True" if durable[0] else "False", durable[1], durable[2]
    old = next((c for c in previous or [] if c.get("type") == "Durable"), None)
    if status == "False" and not (old and (old.get("status"), old.get("reason")) == (
            status, reason)):
        kopf.warn(body, reason="NotDurable", message=message)
    generation = body["metadata"].get("generation", 1)
    return kube.condition("Durable", status, reason, message, generation, previous)


def _tagged(error: kopf.PermanentError | kopf.TemporaryError,
            reason: str) -> kopf.PermanentError | kopf.TemporaryError:
    error.reason = reason  # for the metrics in `run`
    return error


def _post_changes(body: dict[str, Any], changes: list[str], logger: Any) -> None:
    """One Event per child created, updated or deleted (e.g. `Updated: Deployment demo updated`)."""
    for change in changes:
        kopf.info(body, reason=change.rsplit(" ", 1)[-1].capitalize(), message=change)
        logger.info(change)


def _report(memo: kopf.Memo, body: dict[str, Any], status: str, reason: str, message: str,
            previous: list[dict[str, Any]] | None, failed: bool = False,
            extra: dict[str, Any] | None = None, durable: dict[str, Any] | None = None) -> None:
    meta = body["metadata"]
    generation = meta.get("generation", 1)
    if reason != "InvalidSpec":
        message += _missing_upstream(memo, body, previous)
    conditions = kube.status_conditions(status, reason, message, generation, previous)
    # Durable is only known to a full reconciliation: other reports carry it over.
    durable = durable or next((c for c in previous or [] if c.get("type") == "Durable"), None)
    if durable is not None:
        conditions.append(durable)
    new_status: dict[str, Any] = {"conditions": conditions, "observedGeneration": generation,
                                  **(extra or {})}
    spec = body.get("spec") or {}
    trigger = spec.get("trigger") or {}
    kinds = [kind for kind in ("webhook", "cron", "flow") if trigger.get(kind) is not None]
    new_status["trigger"] = kinds[0] if len(kinds) == 1 else None
    if reason == "InvalidSpec":
        new_status.update(url=None, inboxSecret=None)
    else:
        webhook = trigger.get("webhook") or {}
        auth = webhook.get("authSecretRef") or \
            ((webhook.get("auth") or {}).get("apiKey") or {}).get("secretRef")
        new_status["url"] = render.inbox_url(meta["name"], meta["namespace"])
        new_status["inboxSecret"] = (None if webhook.get("allowUnauthenticated") is True
                                     else auth["name"] if auth
                                     else render.inbox_secret_name(meta["name"]))
    old = next((c for c in previous or [] if c.get("type") == "Ready"), None)
    if failed and not (old and (old.get("reason"), old.get("message")) == (reason, message)):
        kopf.warn(body, reason=reason, message=message)
        if reason in (adaptor_install.FAILED_REASON, job_check.REASON):
            metrics.failed(reason)  # once per new failure, whoever found it
    if kube.contains(body.get("status") or {}, new_status):
        return  # already reported so: a write would only wake every watcher of the job
    kube.patch_status(memo.kube, meta["namespace"], meta["name"], new_status)


def _missing_upstream(memo: kopf.Memo, body: dict[str, Any],
                      previous: list[dict[str, Any]] | None) -> str:
    """A flow job is a service of its own and can be Ready without its upstream, but says
    in its Ready message (and once as a Warning Event) that no run will flow in yet."""
    after = flow.after_of(body)
    if after is None or kube.get_job(memo.kube, body["metadata"]["namespace"], after):
        return ""
    note = (f"; upstream OpenFnJob {after!r} not found: runs flow in once it exists")
    old = next((c for c in previous or [] if c.get("type") == "Ready"), None)
    if not (old and (old.get("message") or "").endswith(note)):
        kopf.warn(body, reason="UpstreamNotFound", message=note.removeprefix("; "))
    return note


@kopf.index(*JOBS)
async def referenced_objects(namespace: str, name: str, spec: kopf.Spec,
                       **_: Any) -> dict[tuple[str, str, str], str]:
    """(namespace, kind, object name) → the OpenFnJobs whose pods read that object."""
    refs: dict[tuple[str, str, str], str] = {}
    credential = (spec.get("credential") or {}).get("secretRef") or {}
    auth = ((spec.get("trigger") or {}).get("webhook") or {}).get("authSecretRef") or {}
    job_source = (spec.get("jobFrom") or {}).get("configMapKeyRef") or {}
    npmrc = (spec.get("adaptorInstall") or {}).get("npmrcSecretRef") or {}
    for kind, ref in (("Secret", credential), ("Secret", auth), ("Secret", npmrc),
                      ("ConfigMap", job_source)):
        if ref.get("name"):
            refs[(namespace, kind, ref["name"])] = name
    for kind, object_name in workflow_render.referenced(dict(spec)):  # the steps' own
        refs[(namespace, kind, object_name)] = name
    for secret in referenced_secrets(dict(spec)):  # Basic users, signing secrets, own API key
        refs[(namespace, "Secret", secret)] = name
    after = flow.after_of({"spec": dict(spec)})
    if after is not None:  # the upstream's pods mount this flow job's inbox key
        refs[(namespace, "Secret", render.inbox_secret_name(name))] = after
    return refs


def _referenced(kind: str) -> Any:
    """A filter that lets kopf skip (no thread, no log line) the Secrets or ConfigMaps no
    OpenFnJob reads, and the initial listing (`resume` handles existing jobs)."""
    def check(type: str | None, namespace: str, name: str, referenced_objects: kopf.Index,
              **_: Any) -> bool:
        return type is not None and (namespace, kind, name) in referenced_objects
    return check


@kopf.on.event("", "v1", "secrets", when=_referenced("Secret"))
def secret_changed(type: str | None, namespace: str, name: str, memo: kopf.Memo,
                   referenced_objects: kopf.Index, flow_upstreams: kopf.Index,
                   flow_downstreams: kopf.Index, **_: Any) -> None:
    _reconcile_referrers(type, memo, referenced_objects, (namespace, "Secret", name),
                         graph_of(flow_upstreams, flow_downstreams))


@kopf.on.event("", "v1", "configmaps", when=_referenced("ConfigMap"))
def configmap_changed(type: str | None, namespace: str, name: str, memo: kopf.Memo,
                      referenced_objects: kopf.Index, flow_upstreams: kopf.Index,
                      flow_downstreams: kopf.Index, **_: Any) -> None:
    _reconcile_referrers(type, memo, referenced_objects, (namespace, "ConfigMap", name),
                         graph_of(flow_upstreams, flow_downstreams))


def _reconcile_referrers(event: str | None, memo: kopf.Memo, index: kopf.Index,
                         key: tuple[str, str, str], graph: flow.FlowGraph) -> None:
    """A referenced Secret or ConfigMap changed: re-render, so the checksum rolls the pods."""
    if event is None or key not in index:
        return  # the initial listing: `resume` handles existing jobs
    for job_name in set(index[key]):
        body = kube.get_job(memo.kube, key[0], job_name)
        if body is None:
            continue
        try:
            run(memo, body, graph)
        except (kopf.PermanentError, kopf.TemporaryError):
            pass  # already reported in the status and as an Event


# A Deployment without a status yet (just created, not seen by its controller) cannot be
# available, and the reconciliation that created it reported that already: skip it unread.
@kopf.on.event("apps", "v1", "deployments", labels=MANAGED,
               when=lambda status, **_: bool(status))
def deployment_changed(body: kopf.Body, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    """Ready follows the Deployment: True once it is available for the current spec."""
    owners = [ref["name"] for ref in body.metadata.get("ownerReferences", [])
              if ref.get("kind") == api.KIND]
    if not owners:
        return
    # After any reconciliation of the job under way: one that created this Deployment a moment
    # ago reports it unavailable when it ends, and this event may be the last one that comes.
    with _JOB_LOCKS[(namespace, owners[0])]:
        _follow_deployment(memo, namespace, owners[0], dict(body))


def _follow_deployment(memo: kopf.Memo, namespace: str, owner: str,
                       deployment: dict[str, Any]) -> None:
    job = kube.get_job(memo.kube, namespace, owner)
    if job is None:
        return
    ready = _followed_ready(job)
    if ready is None:
        return  # a reconcile is due, or the job is blocked for a reason of its own
    available = kube.deployment_available(deployment)
    if available == (ready.get("status") == "True"):
        return
    if available:
        _report(memo, job, "True", "Available", "the job's Deployment is available",
                job["status"]["conditions"])
    else:
        _report(memo, job, "False", "Progressing", "waiting for the Deployment to be available",
                job["status"]["conditions"])


@kopf.on.event("", "v1", "pods", labels={**MANAGED, "app.kubernetes.io/component": "job-runtime"})
def pod_changed(body: kopf.Body, namespace: str, labels: kopf.Labels, memo: kopf.Memo,
                **_: Any) -> None:
    """A runtime pod whose adaptor init container failed (Ready=False AdaptorInstallFailed) or
    whose runtime found the job invalid (Ready=False JobInvalid)."""
    owner = labels.get("app.kubernetes.io/instance")
    if not owner:
        return
    with _JOB_LOCKS[(namespace, owner)]:  # after a reconciliation under way, as above
        _follow_pod(memo, namespace, owner, dict(body))


def _follow_pod(memo: kopf.Memo, namespace: str, owner: str, pod: dict[str, Any]) -> None:
    job = kube.get_job(memo.kube, namespace, owner)
    if job is None:
        return
    reason, message = _pod_failure(pod, job)
    if message is None:
        return
    ready = _followed_ready(job)
    if ready is None:
        return  # a reconcile is due, or the job is blocked for a reason of its own
    if ready.get("status") == "True" and reason == job_check.REASON:
        return  # pods of the spec before still serve it (a rolling update of a broken job)
    if (ready.get("reason"), ready.get("message")) != (reason, message):
        _report(memo, job, "False", reason, message, job["status"]["conditions"], failed=True)


def _pod_failure(pod: dict[str, Any], job: dict[str, Any]) -> tuple[str, str | None]:
    spec = job.get("spec") or {}
    failure = next((found for adaptor in adaptor_install.adaptors_of(spec)
                    if (found := adaptor_install.install_failure(pod, adaptor))), None)
    if failure is not None:
        return adaptor_install.FAILED_REASON, failure
    inline = spec.get("job")
    checksum = render.checksum(inline) if isinstance(inline, str) else None
    return job_check.REASON, job_check.job_invalid(pod, checksum)


def _followed_ready(job: dict[str, Any]) -> dict[str, Any] | None:
    """The job's Ready condition when it describes the current spec and follows its children
    (not a block of the job's own, such as InvalidSpec); otherwise None."""
    status = job.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    current = status.get("observedGeneration") == job["metadata"].get("generation")
    if not current or not ready or ready.get("reason") not in FOLLOWED_REASONS:
        return None
    return ready
