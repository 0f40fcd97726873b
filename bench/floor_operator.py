"""The floor for P4: the least a kopf operator can do for an OpenFnJob — create one Deployment.

Same kopf, same `kubernetes` client and the same sync-handler thread pool as the osc operator;
no validation, no ConfigMap, Secret or Service, no status, no Events.
Run as `kopf run bench/floor_operator.py --standalone --namespace=default`.
"""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes


@kopf.on.startup()
def connect(memo: kopf.Memo, **_: Any) -> None:
    kubernetes.config.load_kube_config()
    memo.apps = kubernetes.client.AppsV1Api()


@kopf.on.create("osc.openfn.org", "v1alpha1", "openfnjobs")
def create_deployment(name: str, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    labels = {"app.kubernetes.io/name": name}
    memo.apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "runtime", "image": "osc-runtime:0.1.0"}]}}},
    })
