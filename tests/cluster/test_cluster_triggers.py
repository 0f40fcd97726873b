"""README (Triggers, from the operator's side), on the real control plane:

- cron: the job's CronJob makes a Job on schedule (the real CronJob controller; kwok completes
  its pod), and switching to another trigger deletes the CronJob;
- flow: the upstream's `<upstream>-flow` ConfigMap lists the downstream and its
  `<upstream>-flow-keys` Secret holds the downstream's inbox key, `status.flowTargets` lists the
  downstream (kept by the real API server's schema), deleting the downstream unwires it, and
  the upstream's pod template never changes meanwhile.
"""

from __future__ import annotations

import json

from tests.cluster.jobs import (
    EVERY_MINUTE,
    env_of,
    kubectl_wait_ready,
    openfnjob,
    pod_spec,
)
from tests.cluster.kubectl import wait_for

def test_flow_wires_the_upstream_without_touching_its_pods(osc) -> None:
    cluster, namespace = osc.cluster, osc.namespace
    cluster.apply(namespace, openfnjob("upstream"))
    kubectl_wait_ready(cluster, namespace, "upstream")
    before = cluster.child(namespace, "Deployment", "upstream")["spec"]["template"]
    cluster.apply(namespace,
                  openfnjob("downstream", trigger={"flow": {"after": "upstream", "on": "success"}}))
    kubectl_wait_ready(cluster, namespace, "downstream")

    def targets() -> list | None:
        configmap = cluster.child(namespace, "ConfigMap", "upstream-flow")
        return configmap and json.loads(configmap["data"]["targets.json"])
    wired = wait_for(targets, "upstream-flow to list downstream")
    assert wired == [{"name": "downstream", "on": "success",
                      "url": f"http://downstream.{namespace}.svc/inbox",
                      "key_path": "/etc/osc/flow/downstream"}]
    keys = wait_for(lambda: (cluster.child(namespace, "Secret", "upstream-flow-keys") or {})
                    .get("data", {}).get("downstream"), "downstream's key in upstream-flow-keys")
    inbox = cluster.child(namespace, "Secret", "downstream-inbox")["data"]["api-key"]
    assert keys == inbox
    wait_for(lambda: (cluster.job(namespace, "upstream")["status"].get("flowTargets")
                      == ["downstream"]), "status.flowTargets of upstream")

    cluster.kubectl("delete", "openfnjob", "downstream", "-n", namespace)
    wait_for(lambda: targets() == [], "upstream unwired")
    wait_for(lambda: cluster.job(namespace, "upstream")["status"].get("flowTargets") == [],
             "status.flowTargets emptied")
    # A downstream came and went: the upstream's pods (and the runs queued in them) stayed.
    assert cluster.child(namespace, "Deployment", "upstream")["spec"]["template"] == before
    kubectl_wait_ready(cluster, namespace, "upstream")


def test_switching_away_from_cron_deletes_the_cronjob(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "was-cron"
    cluster.apply(namespace, openfnjob(name, trigger={"cron": {"schedule": "@hourly"}}))
    kubectl_wait_ready(cluster, namespace, name)
    assert cluster.child(namespace, "CronJob", name)["spec"]["schedule"] == "@hourly"
    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge", "-p",
                    json.dumps({"spec": {"trigger": {"cron": None, "webhook": {}}}}))
    wait_for(lambda: cluster.child(namespace, "CronJob", name) is None, "CronJob deleted")
    kubectl_wait_ready(cluster, namespace, name)


def test_the_cronjob_creates_a_job_on_schedule(osc) -> None:
    """The real CronJob controller starts a Job at the next minute; kwok completes its pod.
    The job was made when the mode started (conftest.py), so most of the wait is over."""
    cluster, namespace = osc.cluster, osc.namespace
    kubectl_wait_ready(cluster, namespace, EVERY_MINUTE)
    cronjob = cluster.child(namespace, "CronJob", EVERY_MINUTE)
    assert cronjob["spec"]["schedule"] == "* * * * *"
    assert cronjob["spec"]["timeZone"] == "Etc/UTC"

    def owned_jobs():
        jobs = cluster.list(f"/apis/batch/v1/namespaces/{namespace}/jobs")
        return [job for job in jobs if any(ref["uid"] == cronjob["metadata"]["uid"] for ref in
                                           job["metadata"].get("ownerReferences") or [])]
    job = wait_for(owned_jobs, "a Job of the CronJob", timeout=75, interval=1)[0]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "osc_runtime", "trigger"]
    assert env_of(container)["OSC_TRIGGER_URL"] == f"http://{EVERY_MINUTE}.{namespace}.svc/inbox"
    wait_for(lambda: cluster.child(namespace, "CronJob", EVERY_MINUTE)["status"].get(
        "lastScheduleTime"), "the CronJob's lastScheduleTime")
