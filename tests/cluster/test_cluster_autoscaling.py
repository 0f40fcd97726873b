"""README (operator, more than one replica): `spec.storage.postgres` lifts the one-pod limit
(the URL mounted as a file), and `spec.autoscaling` makes an autoscaler: without KEDA a
HorizontalPodAutoscaler on CPU and a Warning Event, with KEDA's CRDs a ScaledObject on the
queued runs and a TriggerAuthentication from the URL Secret; the operator never writes the
Deployment's replicas back over the autoscaler's.

KEDA itself does not run here: its CRDs (a trimmed copy, tests/cluster/data/keda-crds.yaml)
make the API server serve and validate keda.sh/v1alpha1, which is what the operator looks for.
The real HPA controller of kube-controller-manager does run, and raises the Deployment to
minReplicas (it does so without metrics; no metrics server runs here)."""

from __future__ import annotations

import json
import time

import pytest

from osc_operator import autoscaling, kube
from tests.cluster.jobs import env_of, kubectl_wait_ready, openfnjob, pod_spec, secret, wait_reason
from tests.cluster.kubectl import wait_for
from tests.tools import ROOT

KEDA_CRDS = ROOT / "tests" / "cluster" / "data" / "keda-crds.yaml"
POSTGRES = {"postgres": {"urlSecretRef": {"name": "jobs-db-app", "key": "uri"}}}
URL = "postgresql://osc:secret@jobs-db-rw:5432/app"


def _object(cluster, api_version: str, plural: str, namespace: str, name: str) -> dict | None:
    return cluster.get(kube.object_path(api_version, plural, namespace, name))


def _replicas(cluster, namespace: str, name: str) -> int | None:
    return (cluster.child(namespace, "Deployment", name) or {}).get("spec", {}).get("replicas")


def _patch_job(cluster, namespace: str, name: str, spec: dict) -> None:
    cluster.kubectl("patch", "openfnjob", name, "-n", namespace, "--type=merge",
                    "-p", json.dumps({"spec": spec}))


def test_postgres_storage_runs_three_replicas_with_the_url_as_a_file(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "three-on-postgres"
    cluster.apply(namespace, secret("jobs-db-app", "uri", URL),
                  openfnjob(name, replicas=3, storage=POSTGRES))
    kubectl_wait_ready(cluster, namespace, name)
    deployment = cluster.child(namespace, "Deployment", name)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = pod_spec(cluster, namespace, name)
    container = pod["containers"][0]
    assert env_of(container)["OSC_DATABASE_URL_PATH"] == "/etc/osc/database/url"
    assert URL not in json.dumps(deployment)  # a file from the Secret, never a value
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/osc/database")
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "jobs-db-app"
    assert volume["secret"]["items"] == [{"key": "uri", "path": "url", "mode": 0o400}]
    assert not cluster.child(namespace, "PersistentVolumeClaim", f"{name}-data")
    durable = next(c for c in cluster.job(namespace, name)["status"]["conditions"]
                   if c["type"] == "Durable")
    assert (durable["status"], durable["reason"]) == ("True", "PostgreSQL")


def test_autoscaling_is_an_hpa_without_keda_and_a_scaled_object_with_it(osc) -> None:
    if osc.cluster.external:
        pytest.skip("installs and removes KEDA's CRDs: only on the local control plane")
    cluster, namespace, name = osc.cluster, osc.namespace, "scales-on-queue"
    _remove_keda(cluster, namespace)
    cluster.apply(namespace, secret("jobs-db-app", "uri", URL), openfnjob(
        name, storage=POSTGRES, resources={"requests": {"cpu": "100m", "memory": "128Mi"},
                                           "limits": {"memory": "256Mi"}},
        autoscaling={"minReplicas": 2, "maxReplicas": 5, "targetQueuedPerReplica": 10}))
    try:
        _without_keda(cluster, namespace, name)
        cluster.kubectl("apply", "-f", str(KEDA_CRDS))
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                        "crd/scaledobjects.keda.sh", "crd/triggerauthentications.keda.sh")
        _with_keda(cluster, namespace, name)
    finally:
        cluster.kubectl("delete", "openfnjob", name, "-n", namespace, "--wait=true")
        _remove_keda(cluster, namespace)  # the next mode starts without KEDA again


def _remove_keda(cluster, namespace: str) -> None:
    """Delete KEDA's CRDs, and wait until the API server serves OpenFnJobs steadily again: a
    CRD's removal re-initializes the API server's CRD storage, and for a moment it answers
    429 "storage is (re)initializing" (the next test's kubectl would fail on it)."""
    cluster.kubectl("delete", "-f", str(KEDA_CRDS), "--ignore-not-found", "--wait=true")
    def served() -> bool:
        return cluster.kubectl("get", "openfnjobs", "-n", namespace, check=False).returncode == 0
    for _ in range(3):  # three answers in a row, a second apart
        wait_for(served, "OpenFnJobs served again")
        time.sleep(1)


def _without_keda(cluster, namespace: str, name: str) -> None:
    hpa = wait_for(lambda: _object(cluster, "autoscaling/v2", "horizontalpodautoscalers",
                                   namespace, name), "the HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": name}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    warning = wait_for(lambda: [e for e in _events(cluster, namespace, name)
                                if e["reason"] == autoscaling.NO_KEDA_REASON],
                       "the Warning that queue-depth scaling needs KEDA")[0]
    assert warning["type"] == "Warning" and "KEDA" in warning["message"]
    # the real HPA controller brings the Deployment (created with one pod) to minReplicas …
    wait_for(lambda: _replicas(cluster, namespace, name) == 2, "2 replicas set by the HPA",
             timeout=90)
    # … and a reconciliation of a changed spec leaves that number alone
    _patch_job(cluster, namespace, name, {"concurrency": 3})
    wait_for(lambda: env_of(pod_spec(cluster, namespace, name)["containers"][0]).get(
        "OSC_CONCURRENCY") == "3", "the changed spec applied")
    wait_reason(cluster, namespace, name, "Available")
    assert _replicas(cluster, namespace, name) == 2


def _with_keda(cluster, namespace: str, name: str) -> None:
    # KEDA appeared after the job was made, and nothing of the job changed: the operator's
    # check (OSC_OPERATOR_KEDA_CHECK_SECONDS, 2 s here) makes the ScaledObject, the HPA goes
    scaled = wait_for(lambda: _object(cluster, "keda.sh/v1alpha1", "scaledobjects", namespace,
                                      name), "the ScaledObject", timeout=30)
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (2, 5)
    assert scaled["spec"]["scaleTargetRef"]["name"] == name
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql" and trigger["authenticationRef"] == {"name": name}
    assert trigger["metadata"] == {"query": autoscaling.QUEUED_RUNS, "targetQueryValue": "10"}
    auth = _object(cluster, "keda.sh/v1alpha1", "triggerauthentications", namespace, name)
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "connection", "name": "jobs-db-app", "key": "uri"}]
    assert URL not in json.dumps(auth) + json.dumps(scaled)
    wait_for(lambda: _object(cluster, "autoscaling/v2", "horizontalpodautoscalers", namespace,
                             name) is None, "the HorizontalPodAutoscaler deleted")
    assert _replicas(cluster, namespace, name) == 2  # not written back by the operator
    # and a spec change now goes to the ScaledObject
    _patch_job(cluster, namespace, name, {"autoscaling": {"targetQueuedPerReplica": 25}})
    wait_for(lambda: _object(cluster, "keda.sh/v1alpha1", "scaledobjects", namespace, name)[
        "spec"]["triggers"][0]["metadata"]["targetQueryValue"] == "25", "the new target")
    wait_reason(cluster, namespace, name, "Available")
    assert _replicas(cluster, namespace, name) == 2


def _events(cluster, namespace: str, name: str) -> list[dict]:
    return [e for e in cluster.list(f"/api/v1/namespaces/{namespace}/events")
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"] == "OpenFnJob"]
