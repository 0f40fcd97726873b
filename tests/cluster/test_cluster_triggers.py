"""README (Triggers, from the operator's side), on the real control plane:

- cron: the job's CronJob makes a Job on schedule (the real CronJob controller; kwok completes
  its pod), and switching to another trigger deletes the CronJob;
- flow: the upstream's Deployment carries OSC_FLOW_TARGETS and the downstream's inbox key,
  `status.flowTargets` lists the downstream (kept by the real API server's schema), and
  deleting the downstream unwires it.
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

def test_flow_wires_the_upstream_and_reports_its_targets(osc) -> None:
    cluster, namespace = osc.cluster, osc.namespace
    cluster.apply(namespace, openfnjob("upstream"),
                  openfnjob("downstream", trigger={"flow": {"after": "upstream", "on": "success"}}))
    kubectl_wait_ready(cluster, namespace, "upstream", "downstream")

    def wired():
        spec = pod_spec(cluster, namespace, "upstream")
        targets = env_of(spec["containers"][0]).get("OSC_FLOW_TARGETS")
        return spec if targets else None
    spec = wait_for(wired, "upstream's Deployment wired to downstream")
    targets = json.loads(env_of(spec["containers"][0])["OSC_FLOW_TARGETS"])
    assert targets == [{"name": "downstream", "on": "success",
                        "url": f"http://downstream.{namespace}.svc/inbox",
                        "key_path": "/etc/osc/flow/downstream/api-key"}]
    volume = next(v for v in spec["volumes"] if v["name"] == "flow-downstream")
    assert volume["secret"]["secretName"] == "downstream-inbox"
    wait_for(lambda: (cluster.job(namespace, "upstream")["status"].get("flowTargets")
                      == ["downstream"]), "status.flowTargets of upstream")
    kubectl_wait_ready(cluster, namespace, "upstream")  # the rolled Deployment is available

    cluster.kubectl("delete", "openfnjob", "downstream", "-n", namespace)
    wait_for(lambda: "OSC_FLOW_TARGETS" not in env_of(
        pod_spec(cluster, namespace, "upstream")["containers"][0]), "upstream unwired")
    wait_for(lambda: cluster.job(namespace, "upstream")["status"].get("flowTargets") == [],
             "status.flowTargets emptied")
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
