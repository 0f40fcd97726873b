"""README (operator): a restarted operator over settled jobs writes nothing — no child, status,
annotation or Event changes. Measured twice: the resourceVersion of every job and child (works
on any cluster), and, on our own control plane, the API server's audit log (no create, update,
patch or delete by the operator's ServiceAccount after the restart)."""

from __future__ import annotations

import datetime
import json
import re
import time

import pytest

from osc_operator import kube
from tests.chart.test_chart_rbac import readme_table
from tests.cluster.jobs import KINDS, kubectl_wait_ready, openfnjob
from tests.cluster.test_cluster_examples import EXAMPLES, example_jobs
from tests.cluster.kubectl import JOBS_API, ready_condition, wait_for

WRITES = {"create", "update", "patch", "delete", "deletecollection"}
SETTLED = {"Available", "InvalidSpec"}  # nothing left for the operator to do or retry
# kopf's lasting annotations: its record of the handled spec, and its marker
KOPF_KEEPS = {"osc.openfn.org/last-handled-configuration", "osc.openfn.org/kopf-managed"}


def _versions(cluster, namespace: str) -> dict[str, str]:
    """What the operator writes, by object: jobs and their children (resourceVersion; for a
    CronJob its generation, since the CronJob controller writes its status) and the Events the
    operator posted (kopf's)."""
    found = {}
    for job in cluster.list(f"{JOBS_API}/namespaces/{namespace}/openfnjobs"):
        found[f"OpenFnJob/{job['metadata']['name']}"] = job["metadata"]["resourceVersion"]
    for kind in KINDS:
        api_version = {"Deployment": "apps/v1", "CronJob": "batch/v1"}.get(kind, "v1")
        for obj in cluster.list(kube.object_path(api_version, kube.PLURALS[kind], namespace)):
            meta = obj["metadata"]
            found[f"{kind}/{meta['name']}"] = str(meta.get("generation")) \
                if kind == "CronJob" else meta["resourceVersion"]
    for event in cluster.list(f"/api/v1/namespaces/{namespace}/events"):
        if (event.get("source") or {}).get("component") == "kopf":
            what = f"Event/{event['metadata']['name']} {event['type']} {event['reason']} " \
                f"{event['involvedObject']['name']}: {event['message'][:200]}"
            found[what] = f"{event['metadata']['resourceVersion']} x{event.get('count', 1)}"
    return found


def _unsettled(cluster, namespace: str) -> dict[str, str]:
    """Jobs the operator still has work for, and why: Ready not reported for the current
    generation with a final reason, or a handler retry kopf has scheduled (its progress
    annotation: e.g. the retry of a creation that waited for a Secret, reconciled since
    through the Secret's watch)."""
    found = {}
    for job in cluster.list(f"{JOBS_API}/namespaces/{namespace}/openfnjobs"):
        ready, meta = ready_condition(job), job["metadata"]
        pending = [key for key in meta.get("annotations") or {}
                   if key.startswith("osc.openfn.org/") and key not in KOPF_KEEPS]
        if ready.get("reason") not in SETTLED:
            found[meta["name"]] = f"Ready reason {ready.get('reason')}"
        elif ready.get("observedGeneration") != meta["generation"]:
            found[meta["name"]] = "Ready describes an older generation"
        elif pending:
            found[meta["name"]] = f"kopf progress {pending}"
    return found


def test_a_restarted_operator_over_settled_jobs_writes_nothing(osc) -> None:
    cluster, namespace = osc.cluster, osc.namespace
    # quantities the API server rewrites (1 → "1", "0.5Gi" → "512Mi", "0.1" → "100m")
    cluster.apply(namespace, openfnjob("canonical", resources={
        "limits": {"cpu": 1, "memory": "0.5Gi"}, "requests": {"cpu": "0.1"}}))
    # the examples too (already there after test_cluster_examples.py: applying again changes nothing)
    cluster.kubectl("apply", "-n", namespace, *(f"--filename={path}" for path in EXAMPLES))
    kubectl_wait_ready(cluster, namespace, "canonical", *example_jobs())
    # kopf retries a job that waited for a Secret 30 s later, even when it is Ready by then
    deadline = time.monotonic() + 45
    while (unsettled := _unsettled(cluster, namespace)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not unsettled, unsettled
    jobs = cluster.list(f"{JOBS_API}/namespaces/{namespace}/openfnjobs")
    osc.operator.stop()
    before = _versions(cluster, namespace)
    started = datetime.datetime.now(datetime.UTC)
    logged = len(osc.operator.log_text())
    osc.operator.start()
    resumed = re.compile(r"Handler 'reconcile_job' (succeeded|failed permanently)")

    def every_job_resumed() -> bool:
        lines = osc.operator.log_text()[logged:].splitlines()
        names = {json.loads(line).get("object", {}).get("name") for line in lines
                 if line.startswith("{") and resumed.search(line)}
        return names >= {job["metadata"]["name"] for job in jobs}
    wait_for(every_job_resumed, "the operator to resume every job", timeout=60)
    time.sleep(3)  # a write the resume would make late still shows
    after = _versions(cluster, namespace)
    changed = {key: (before.get(key), after.get(key)) for key in before.keys() | after.keys()
               if before.get(key) != after.get(key)}
    assert not changed, changed
    if cluster.audit_log is not None:
        writes = _audited_writes(cluster.audit_log, osc.user, started)
        assert not writes, writes


def _audited_writes(audit_log, user: str, since: datetime.datetime) -> list[str]:
    writes = []
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if event["user"]["username"] != user or event["verb"] not in WRITES:
            continue
        stamp = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"])
        if stamp >= since:
            ref = event.get("objectRef", {})
            writes.append(f"{event['verb']} {ref.get('resource')}/{ref.get('subresource', '')}"
                          f" {ref.get('namespace')}/{ref.get('name')}")
    return writes


def test_the_operator_used_only_the_rights_the_readme_lists(osc) -> None:
    """README (Install the operator with Helm): the RBAC table. Everything the operator's
    ServiceAccount did in this mode (the API server's audit log, after every other test of the
    mode) was authorised, and is a verb the table grants on that resource."""
    if osc.cluster.audit_log is None:
        pytest.skip("an external cluster: its audit log is not ours to read")
    granted: dict[tuple[str, str], set[str]] = {}
    for rules in readme_table().values():
        for key, verbs in rules.items():
            granted.setdefault(key, set()).update(verbs)
    used, refused = set(), []
    for line in osc.cluster.audit_log.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef")
        if event["user"]["username"] != osc.user or ref is None:
            continue  # another client, or discovery (/api, /apis: open to every client)
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        used.add((ref.get("apiGroup", ""), resource, event["verb"]))
        # RBAC's own refusals (admission may answer 403 too: a claim whose class cannot grow)
        if (event.get("annotations") or {}).get("authorization.k8s.io/decision") == "forbid":
            refused.append(f"{event['verb']} {resource}")
    assert not refused, refused
    outside = sorted(f"{verb} {group}/{resource}" for group, resource, verb in used
                     if verb not in granted.get((group, resource), set()))
    assert not outside, outside
