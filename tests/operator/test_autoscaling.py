"""spec.autoscaling's rendering beyond the expected manifests (autoscaling-*.input.yaml): the
autoscaler owns the number of pods, the disruption budget follows the most pods it may run,
and nothing is made without autoscaling. The switch between the HPA and KEDA's objects, and
the API server's view of them, are tested on the real control plane
(tests/cluster/test_cluster_autoscaling.py)."""

from __future__ import annotations

import kubernetes_validate

from osc_operator import autoscaling, policies, render
from osc_operator.api import parse_spec
from tests.operator.test_render import KUBERNETES_VERSION, load_case, render_children


def _kinds(children: list[dict]) -> list[str]:
    return [child["kind"] for child in children]


def test_the_deployment_leaves_the_number_of_pods_to_the_autoscaler() -> None:
    for keda in (False, True):
        children = render_children(load_case("autoscaling-hpa"), keda=keda)
        deployment = next(c for c in children if c["kind"] == "Deployment")
        assert "replicas" not in deployment["spec"]
        assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    without = load_case("autoscaling-hpa")
    del without["spec"]["autoscaling"]
    children = render_children(without)
    assert next(c for c in children if c["kind"] == "Deployment")["spec"]["replicas"] == 1
    assert not {"HorizontalPodAutoscaler", "ScaledObject"} & set(_kinds(children))


def test_keda_gets_a_scaled_object_and_its_connection_otherwise_an_hpa() -> None:
    job = load_case("autoscaling-hpa")
    assert _kinds(render_children(job))[-1:] == ["HorizontalPodAutoscaler"]
    keda = render_children(job, keda=True)
    assert _kinds(keda)[-2:] == ["TriggerAuthentication", "ScaledObject"]
    assert "HorizontalPodAutoscaler" not in _kinds(keda)


def test_the_disruption_budget_follows_the_most_pods_the_autoscaler_may_run() -> None:
    job = load_case("autoscaling-hpa")
    budget = policies.render_disruption_budget("campaign", "health", parse_spec(job["spec"]))
    kubernetes_validate.validate(budget, KUBERNETES_VERSION, strict=True)
    assert budget["spec"]["maxUnavailable"] == 1
    job["spec"]["autoscaling"] = {"minReplicas": 1, "maxReplicas": 1}
    assert policies.render_disruption_budget("campaign", "health",
                                             parse_spec(job["spec"])) is None


def test_the_scaled_object_aims_at_the_target_and_carries_the_job_labels() -> None:
    spec = parse_spec(load_case("autoscaling-keda")["spec"])
    scaled = autoscaling.render_scaled_object("campaign", "health", spec)
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["metadata"]["targetQueryValue"] == "20"  # KEDA takes strings only
    assert scaled["metadata"]["labels"] == render.labels("campaign")
