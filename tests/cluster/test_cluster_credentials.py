"""README (operator): the credential is mounted from the user's Secret as a read-only file; a
missing Secret is `Ready=False CredentialNotFound` and is picked up once it appears; rotating
it (changing the Secret) rolls the pods — a new ReplicaSet, through the real deployment
controller — and the job is Ready again."""

from __future__ import annotations

import json

from tests.cluster.jobs import credential, kubectl_wait_ready, openfnjob, wait_reason
from tests.cluster.kubectl import wait_for

CHECKSUM = "osc.openfn.org/credential-checksum"


def _template_checksum(cluster, namespace: str, name: str) -> str | None:
    deployment = cluster.child(namespace, "Deployment", name) or {}
    annotations = (deployment.get("spec", {}).get("template", {}).get("metadata", {})
                   .get("annotations") or {})
    return annotations.get(CHECKSUM)


def _replica_sets(cluster, namespace: str, name: str) -> list[dict]:
    return cluster.list(f"/apis/apps/v1/namespaces/{namespace}/replicasets",
                        labelSelector=f"app.kubernetes.io/instance%3D{name}")


def test_missing_then_rotated_credential(osc) -> None:
    cluster, namespace, name = osc.cluster, osc.namespace, "rotates"
    job = openfnjob(name, credential={"secretRef": {"name": "rotates-api",
                                                    "key": "credential.json"}})
    cluster.apply(namespace, job)
    ready = wait_reason(cluster, namespace, name, "CredentialNotFound")
    assert "rotates-api" in ready["message"]

    cluster.apply(namespace, credential("rotates-api", {"password": "first"}))
    kubectl_wait_ready(cluster, namespace, name)
    first = _template_checksum(cluster, namespace, name)
    assert first
    volume = next(v for v in cluster.child(namespace, "Deployment", name)["spec"]["template"]
                  ["spec"]["volumes"] if v["name"] == "credential")
    assert volume["secret"]["secretName"] == "rotates-api"
    assert volume["secret"]["items"] == [{"key": "credential.json", "path": "credential.json",
                                          "mode": 0o400}]

    cluster.kubectl("patch", "secret", "rotates-api", "-n", namespace, "--type=merge", "-p",
                    json.dumps({"stringData": {"credential.json": '{"password": "second"}'}}))
    wait_for(lambda: _template_checksum(cluster, namespace, name) not in (None, first),
             "the pod template's credential checksum to change")
    wait_for(lambda: len(_replica_sets(cluster, namespace, name)) == 2,
             "a second ReplicaSet (the rollout)")
    wait_reason(cluster, namespace, name, "Available")
    kubectl_wait_ready(cluster, namespace, name)
