"""README (operator, Deploying): every manifest in examples/k8s/ applied with kubectl becomes
Ready=True through the real controllers — `kubectl wait --for=condition=Ready` returns — and
deleting an OpenFnJob garbage-collects every child it owns."""

from __future__ import annotations

import yaml

from tests.cluster.jobs import KINDS, kubectl_wait_ready, openfnjob
from tests.cluster.kubectl import Cluster, wait_for
from tests.tools import ROOT

EXAMPLES = sorted((ROOT / "examples" / "k8s").glob("*.yaml"))


def example_jobs() -> list[str]:
    return [doc["metadata"]["name"] for path in EXAMPLES
            for doc in yaml.safe_load_all(path.read_text()) if doc and doc["kind"] == "OpenFnJob"]


def test_every_example_applies_and_becomes_ready(osc) -> None:
    cluster, namespace = osc.cluster, osc.namespace
    cluster.kubectl("apply", "-n", namespace, *(f"--filename={path}" for path in EXAMPLES))
    names = example_jobs()
    assert len(names) >= 6
    kubectl_wait_ready(cluster, namespace, *names, timeout=120)
    printed = cluster.kubectl("get", "openfnjobs", "-n", namespace).stdout
    for name in names:  # the printer columns: READY True, REASON Available, the URL
        row = next(line.split() for line in printed.splitlines() if line.startswith(name + " "))
        assert row[1:3] == ["True", "Available"], printed
        assert f"http://{name}.{namespace}.svc/inbox" in row
    for name in names:
        deployment = cluster.child(namespace, "Deployment", name)
        wanted, status = deployment["spec"]["replicas"], deployment["status"]
        assert status["availableReplicas"] == status["readyReplicas"] == wanted >= 1, status


def test_deleting_a_job_garbage_collects_every_child(osc) -> None:
    """A cron job with storage has one child of every kind; `kubectl delete` (background
    propagation) leaves the garbage collector to remove them, pods and ReplicaSets included."""
    cluster, namespace, name = osc.cluster, osc.namespace, "doomed"
    cluster.apply(namespace, openfnjob(name, trigger={"cron": {"schedule": "@daily"}},
                                       storage={"size": "1Gi"}))
    kubectl_wait_ready(cluster, namespace, name)
    children = {kind: f"{name}-job" if kind == "ConfigMap" else f"{name}-inbox"
                if kind == "Secret" else f"{name}-data" if kind == "PersistentVolumeClaim"
                else name for kind in KINDS}
    for kind, child in children.items():
        assert cluster.child(namespace, kind, child), f"{kind} {child} missing"
    selector = f"labelSelector=app.kubernetes.io/instance%3D{name}"
    assert _pods(cluster, namespace, selector)
    cluster.kubectl("delete", "openfnjob", name, "-n", namespace)
    for kind, child in children.items():
        wait_for(lambda kind=kind, child=child: _gone(cluster, namespace, kind, child),
                 f"{kind} {child} garbage-collected", timeout=60)
    wait_for(lambda: not _pods(cluster, namespace, selector), "the job's pods deleted")
    replica_sets = f"/apis/apps/v1/namespaces/{namespace}/replicasets?{selector}"
    wait_for(lambda: not (cluster.get(replica_sets) or {}).get("items"),
             "the job's ReplicaSets deleted")


def _pods(cluster: Cluster, namespace: str, selector: str) -> list:
    return (cluster.get(f"/api/v1/namespaces/{namespace}/pods?{selector}") or {}).get("items")


def _gone(cluster: Cluster, namespace: str, kind: str, name: str) -> bool:
    child = cluster.child(namespace, kind, name)
    # a claim in use waits for its pod (kubernetes.io/pvc-protection) with a deletionTimestamp
    return child is None
