"""README (operator, what survives what): `spec.storage` puts the run store on a claim
`<name>-data` (ReadWriteOnce) that the real PersistentVolume controller binds, with the
Deployment's strategy Recreate; the claim grows with `size` but never shrinks (a Warning
Event StorageKept), and `replicas: 2` with storage is refused by the API server.

The claims bind to the pre-made volumes of the `default_storage` fixture (conftest.py): this
control plane has no provisioner."""

from __future__ import annotations

import json

import pytest

from tests.cluster.jobs import (
    FIXED_STORAGE_CLASS,
    env_of,
    kubectl_wait_ready,
    openfnjob,
    pod_spec,
    wait_reason,
)
from tests.cluster.kubectl import wait_for


def _claim(cluster, namespace: str, name: str) -> dict:
    return cluster.child(namespace, "PersistentVolumeClaim", f"{name}-data") or {}


def test_storage_claim_binds_grows_and_never_shrinks(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "keeps-runs"
    cluster.apply(namespace, openfnjob(name, storage={"size": "1Gi"}))
    kubectl_wait_ready(cluster, namespace, name)
    claim = _claim(cluster, namespace, name)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    deployment = cluster.child(namespace, "Deployment", name)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    data = next(v for v in pod_spec(cluster, namespace, name)["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}}

    patch = {"spec": {"storage": {"size": "2Gi"}}}
    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge",
                    "-p", json.dumps(patch))
    wait_for(lambda: _claim(cluster, namespace, name)["spec"]["resources"]["requests"]
             ["storage"] == "2Gi", "the claim grown to 2Gi")
    wait_reason(cluster, namespace, name, "Available")

    patch = {"spec": {"storage": {"size": "512Mi"}}}
    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge",
                    "-p", json.dumps(patch))
    wait_reason(cluster, namespace, name, "Available")

    event = wait_for(lambda: _kept_events(cluster, namespace, name),
                     "a StorageKept Warning Event")[0]
    assert event["type"] == "Warning" and "512Mi" in event["message"]
    assert _claim(cluster, namespace, name)["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_adding_and_dropping_storage_switches_the_strategy(osc) -> None:
    """An emptyDir on purpose (`ephemeral: true`) rolls over (RollingUpdate); a claim makes it
    Recreate, which must drop `rollingUpdate` (the API server refuses it with Recreate); and
    back."""
    cluster, namespace, name = osc.cluster, osc.namespace, "drops-storage"
    cluster.apply(namespace, openfnjob(name, storage={"ephemeral": True}))
    kubectl_wait_ready(cluster, namespace, name)
    assert cluster.child(namespace, "Deployment", name)["spec"]["strategy"]["rollingUpdate"]
    durable = next(c for c in cluster.job(namespace, name)["status"]["conditions"]
                   if c["type"] == "Durable")
    assert (durable["status"], durable["reason"]) == ("False", "EphemeralStorage")
    cluster.apply(namespace, openfnjob(name, storage={"size": "1Gi"}))
    kubectl_wait_ready(cluster, namespace, name)
    assert cluster.child(namespace, "Deployment", name)["spec"]["strategy"] == {"type": "Recreate"}
    cluster.apply(namespace, openfnjob(name, storage={"ephemeral": True}))
    wait_for(lambda: cluster.child(namespace, "Deployment", name)["spec"]["strategy"]["type"]
             == "RollingUpdate", "strategy RollingUpdate")
    data = next(v for v in pod_spec(cluster, namespace, name)["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    wait_reason(cluster, namespace, name, "Available")


def test_without_storage_a_job_gets_a_claim_of_the_default_class(osc) -> None:
    """Durable by default: the cluster has a default StorageClass, so a job without
    `spec.storage` keeps its store on a bound claim `<name>-data`."""
    cluster, namespace, name = osc.cluster, osc.namespace, "durable-default"
    cluster.apply(namespace, openfnjob(name))
    kubectl_wait_ready(cluster, namespace, name)
    assert _claim(cluster, namespace, name)["status"]["phase"] == "Bound"
    assert cluster.child(namespace, "Deployment", name)["spec"]["strategy"] == {"type": "Recreate"}
    durable = next(c for c in cluster.job(namespace, name)["status"]["conditions"]
                   if c["type"] == "Durable")
    assert durable["status"] == "True"


def test_a_claim_its_class_cannot_expand_keeps_its_size(osc) -> None:
    """The API server refuses to grow a claim whose StorageClass has no volume expansion: the
    job keeps the claim's size, says so (StorageKept), and every other change still applies."""
    if osc.cluster.external:
        pytest.skip("needs the class osc-test-fixed, made only on the local control plane")
    cluster, namespace, name = osc.cluster, osc.namespace, "fixed-size"
    cluster.apply(namespace, openfnjob(name, storage={
        "size": "1Gi", "storageClassName": FIXED_STORAGE_CLASS}))
    kubectl_wait_ready(cluster, namespace, name)
    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge", "-p",
                    json.dumps({"spec": {"storage": {"size": "2Gi"}, "concurrency": 3}}))
    wait_for(lambda: env_of(pod_spec(cluster, namespace, name)["containers"][0]).get(
        "OSC_CONCURRENCY") == "3", "the other change applied")
    wait_reason(cluster, namespace, name, "Available")
    assert _claim(cluster, namespace, name)["spec"]["resources"]["requests"]["storage"] == "1Gi"
    event = wait_for(lambda: _kept_events(cluster, namespace, name), "a StorageKept Event")[0]
    assert "1Gi" in event["message"] and "2Gi" in event["message"], event["message"]


def _kept_events(cluster, namespace: str, name: str) -> list[dict]:
    return [e for e in cluster.list(f"/api/v1/namespaces/{namespace}/events")
            if e["reason"] == "StorageKept" and e["involvedObject"]["name"] == name]
