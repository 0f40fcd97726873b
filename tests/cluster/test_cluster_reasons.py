"""README (operator): the Ready reasons besides Available and InvalidSpec, and the Events, as
the real API server and RBAC make them: JobNotFound until the jobFrom ConfigMap appears,
ChildFailed for a Service someone else owns (never taken over), a flow cycle refused on every
job on it, UpstreamNotFound for a flow job whose upstream is missing, and a Normal Event for
every child created."""

from __future__ import annotations

from tests.cluster.jobs import kubectl_wait_ready, openfnjob, wait_reason
from tests.cluster.kubectl import wait_for


def _events(cluster, namespace: str, name: str) -> list[dict]:
    return [e for e in cluster.list(f"/api/v1/namespaces/{namespace}/events")
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"] == "OpenFnJob"]


def test_job_not_found_until_the_configmap_appears(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "from-configmap"
    cluster.apply(namespace, openfnjob(name, job=None, jobFrom={
        "configMapKeyRef": {"name": "from-configmap-code", "key": "job.js"}}))
    ready = wait_reason(cluster, namespace, name, "JobNotFound")
    assert "from-configmap-code" in ready["message"]
    cluster.kubectl("create", "configmap", "from-configmap-code", "-n", namespace,
                    "--from-literal=job.js=fn(state => state);")
    kubectl_wait_ready(cluster, namespace, name)
    created = {e["message"] for e in _events(cluster, namespace, name) if e["type"] == "Normal"}
    assert {f"Service {name} created", f"Deployment {name} created"} <= created, created


def test_a_foreign_service_is_never_taken_over(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "taken"
    cluster.kubectl("create", "service", "clusterip", name, "-n", namespace, "--tcp=80:8080")
    cluster.apply(namespace, openfnjob(name))
    ready = wait_reason(cluster, namespace, name, "ChildFailed")
    assert "not managed by OpenFnJob" in ready["message"], ready
    service = cluster.child(namespace, "Service", name)
    assert not service["metadata"].get("ownerReferences")
    assert not (service["spec"].get("selector") or {}).get("app.kubernetes.io/instance")
    cluster.kubectl("delete", "openfnjob", name, "-n", namespace)
    cluster.kubectl("delete", "service", name, "-n", namespace)


def test_a_flow_cycle_is_refused_and_a_missing_upstream_said(osc) -> None:
    cluster, namespace = osc.cluster, osc.namespace
    cluster.apply(namespace,
                  openfnjob("ping", trigger={"flow": {"after": "pong", "on": "success"}}),
                  openfnjob("pong", trigger={"flow": {"after": "ping", "on": "success"}}),
                  openfnjob("orphan", trigger={"flow": {"after": "nobody", "on": "failure"}}))
    for name in ("ping", "pong"):
        ready = wait_reason(cluster, namespace, name, "InvalidSpec")
        assert "flow cycle" in ready["message"], ready
    kubectl_wait_ready(cluster, namespace, "orphan")
    ready = wait_for(lambda: cluster.job(namespace, "orphan"), "orphan")["status"]["conditions"][0]
    assert ready["message"].endswith("upstream OpenFnJob 'nobody' not found: runs flow in once "
                                     "it exists"), ready
    assert any(e["reason"] == "UpstreamNotFound" and e["type"] == "Warning"
               for e in _events(cluster, namespace, "orphan"))
    cluster.kubectl("delete", "openfnjob", "ping", "pong", "-n", namespace)
