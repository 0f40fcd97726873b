"""Pure builders of a job's autoscaler (spec.autoscaling), and whether KEDA is there.

With KEDA in the cluster (its API group serves ScaledObjects and TriggerAuthentications) the
job gets a ScaledObject `<name>` with KEDA's `postgresql` trigger: it counts the queued runs in
the job's own database, connected with the URL from spec.storage.postgres' Secret through a
TriggerAuthentication `<name>` (KEDA reads the Secret itself; the URL is never copied). Without
KEDA the job gets an autoscaling/v2 HorizontalPodAutoscaler `<name>` on CPU instead, and the
operator says in a Warning that scaling on the queue needs KEDA.

Either way the Deployment is rendered without `replicas` (render.py), so the operator never
writes back a number of pods the autoscaler chose.
"""

from __future__ import annotations

from typing import Any

from osc_operator import kube, render
from osc_operator.api import OpenFnJobSpec

KEDA_GROUP_VERSION = "keda.sh/v1alpha1"
KEDA_KINDS = {"ScaledObject": "scaledobjects", "TriggerAuthentication": "triggerauthentications"}
HPA_GROUP_VERSION = "autoscaling/v2"
HPA_PLURAL = "horizontalpodautoscalers"
# The runs waiting to start: what more pods would take on. Running runs are not counted, so
# the pods scale down once the queue is drained (after KEDA's cooldown and the HPA's window).
QUEUED_RUNS = "SELECT count(*) FROM runs WHERE status = 'queued'"
POLLING_SECONDS = 15
CPU_UTILIZATION = 80  # percent of the pods' CPU request
NO_KEDA_REASON = "AutoscalingOnCPU"
NO_KEDA_MESSAGE = (f"spec.autoscaling: KEDA is not installed in this cluster (no "
                   "scaledobjects.keda.sh), so the job scales on CPU with a "
                   f"HorizontalPodAutoscaler ({CPU_UTILIZATION}% of the CPU request) instead "
                   "of on its queue; queue-depth scaling needs KEDA (once it is installed, the "
                   "job's next reconciliation makes a ScaledObject instead)")


def keda_installed(client: kube.Kube) -> bool:
    """Whether the API server serves KEDA's ScaledObject and TriggerAuthentication (API
    discovery: open to every authenticated client, no RBAC needed)."""
    try:
        group = client.get(f"/apis/{KEDA_GROUP_VERSION}")
    except kube.KubeError:
        return False
    served = {resource.get("name") for resource in (group or {}).get("resources") or []}
    return set(KEDA_KINDS.values()) <= served


def render_autoscaler(name: str, namespace: str, spec: OpenFnJobSpec,
                      keda: bool) -> list[dict[str, Any]]:
    """The autoscaler's objects for `spec` ([] without spec.autoscaling)."""
    if spec.autoscaling is None or spec.storage is None or spec.storage.postgres is None:
        return []
    if keda:
        return [render_trigger_authentication(name, namespace, spec),
                render_scaled_object(name, namespace, spec)]
    return [render_hpa(name, namespace, spec)]


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": render.labels(name)}


def _target(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}


def render_trigger_authentication(name: str, namespace: str,
                                  spec: OpenFnJobSpec) -> dict[str, Any]:
    """KEDA's `connection` parameter from the job's own database URL Secret key."""
    ref = spec.storage.postgres.url_secret_ref  # type: ignore[union-attr]
    return {"apiVersion": KEDA_GROUP_VERSION, "kind": "TriggerAuthentication",
            "metadata": _meta(name, namespace),
            "spec": {"secretTargetRef": [{"parameter": "connection", "name": ref.name,
                                          "key": ref.key}]}}


def render_scaled_object(name: str, namespace: str, spec: OpenFnJobSpec) -> dict[str, Any]:
    scaling = spec.autoscaling
    assert scaling is not None
    return {"apiVersion": KEDA_GROUP_VERSION, "kind": "ScaledObject",
            "metadata": _meta(name, namespace),
            "spec": {"scaleTargetRef": _target(name),
                     "minReplicaCount": scaling.min_replicas,
                     "maxReplicaCount": scaling.max_replicas,
                     "pollingInterval": POLLING_SECONDS,
                     "triggers": [{"type": "postgresql", "name": "queued-runs",
                                   "metadata": {"query": QUEUED_RUNS, "targetQueryValue":
                                                str(scaling.target_queued_per_replica)},
                                   "authenticationRef": {"name": name}}]}}


def render_hpa(name: str, namespace: str, spec: OpenFnJobSpec) -> dict[str, Any]:
    scaling = spec.autoscaling
    assert scaling is not None
    return {"apiVersion": HPA_GROUP_VERSION, "kind": "HorizontalPodAutoscaler",
            "metadata": _meta(name, namespace),
            "spec": {"scaleTargetRef": _target(name),
                     "minReplicas": scaling.min_replicas, "maxReplicas": scaling.max_replicas,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": CPU_UTILIZATION}}}]}}

