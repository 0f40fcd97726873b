"""Pure builders of the optional guard rails around a job's pods: a NetworkPolicy that admits
only the inbox port (when the operator's OSC_OPERATOR_NETWORK_POLICY is on, from the chart's
`jobNetworkPolicy.enabled`) and a PodDisruptionBudget where it helps.

A PodDisruptionBudget helps only a job with several pods: a drain then takes them one at a
time and the inbox keeps answering. A single pod is never guarded: a budget would block the
drain forever, and its store outlives the eviction on the claim anyway.
"""

from __future__ import annotations

from typing import Any

from osc_operator import render
from osc_operator.api import OpenFnJobSpec


def render_network_policy(name: str, namespace: str) -> dict[str, Any]:
    """NetworkPolicy `<name>`: only the runtime's HTTP port in (the inbox, probes, metrics);
    outbound traffic is the job's business (the APIs it calls) and stays open."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": render.labels(name)},
            "spec": {"podSelector": {"matchLabels": render.selector_labels(name)},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"port": render.PORT, "protocol": "TCP"}]}]}}


def render_disruption_budget(name: str, namespace: str,
                             spec: OpenFnJobSpec) -> dict[str, Any] | None:
    """PodDisruptionBudget `<name>` (one pod away at a time) for two or more replicas (or
    an autoscaler that may run two or more)."""
    pods = spec.autoscaling.max_replicas if spec.autoscaling is not None else spec.replicas
    if pods < 2:
        return None
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": namespace, "labels": render.labels(name)},
            "spec": {"maxUnavailable": 1,
                     "selector": {"matchLabels": render.selector_labels(name)}}}
