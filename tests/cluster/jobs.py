"""OpenFnJob manifests and the waits the cluster tests share."""

from __future__ import annotations

import json
from typing import Any

from tests.cluster.kubectl import Cluster, ready_condition, wait_for

EVERY_MINUTE = "every-minute"  # a cron job every mode starts with (conftest.py)
STORAGE_CLASS = "osc-test-local"  # the default class of our control plane (conftest.py)
FIXED_STORAGE_CLASS = "osc-test-fixed"  # no volume expansion (as many provisioners)
KINDS = ("ConfigMap", "Secret", "Service", "Deployment", "CronJob", "PersistentVolumeClaim")


def openfnjob(name: str, **spec: Any) -> dict[str, Any]:
    base = {"job": "fn(state => state);", "adaptor": "@openfn/language-common",
            "trigger": {"webhook": {}}}
    return {"apiVersion": "osc.openfn.org/v1alpha1", "kind": "OpenFnJob",
            "metadata": {"name": name}, "spec": {**base, **spec}}


def secret(name: str, key: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {key: value}}


def credential(name: str, content: dict[str, Any]) -> dict[str, Any]:
    return secret(name, "credential.json", json.dumps(content))


def kubectl_wait_ready(cluster: Cluster, namespace: str, *names: str,
                       timeout: int = 90) -> None:
    """`kubectl wait --for=condition=Ready` on the jobs, as the README tells users to."""
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready",
                    *(f"openfnjob/{name}" for name in names), f"--timeout={timeout}s",
                    timeout=timeout + 30)


def wait_reason(cluster: Cluster, namespace: str, name: str, reason: str,
                timeout: float = 60) -> dict[str, Any]:
    """The job's Ready condition once it has `reason` for the job's current generation."""
    def check() -> dict[str, Any] | None:
        job = cluster.job(namespace, name) or {}
        ready = ready_condition(job)
        current = ready.get("observedGeneration") == job.get("metadata", {}).get("generation")
        return ready if current and ready.get("reason") == reason else None
    return wait_for(check, f"OpenFnJob {name} Ready reason {reason}", timeout)


def deployment(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return wait_for(lambda: cluster.child(namespace, "Deployment", name),
                    f"Deployment {name}")


def pod_spec(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return deployment(cluster, namespace, name)["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {var["name"]: var.get("value", "") for var in container.get("env") or []}
