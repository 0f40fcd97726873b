"""spec.autoscaling: the number of a job's pods follows its queue (autoscaling.py renders it).

Only a job whose run store is on PostgreSQL may have several pods that share the work, so
autoscaling needs spec.storage.postgres; and the autoscaler alone sets the number of pods, so
spec.replicas stays at its default beside it.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from osc_operator.api_types import Model

MAX_PODS = 100  # the same bound as spec.replicas
DEFAULT_TARGET_QUEUED = 10
MIN_NOT_ABOVE_MAX = {"rule": "!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",
                     "message": "minReplicas may not be above maxReplicas"}
AUTOSCALING_NEEDS_POSTGRES = {
    "rule": "!has(self.autoscaling) || (has(self.storage) && has(self.storage.postgres))",
    "message": "autoscaling needs storage.postgres (the pods share one run store)"}
AUTOSCALING_OWNS_REPLICAS = {
    "rule": "!has(self.autoscaling) || !has(self.replicas) || self.replicas == 1",
    "message": "replicas is set by the autoscaler with autoscaling: leave replicas out and "
               "use autoscaling.minReplicas and maxReplicas"}


class Autoscaling(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [MIN_NOT_ABOVE_MAX]})

    min_replicas: int = Field(1, ge=1, le=MAX_PODS, description=(
        "The fewest pods (at least 1: the pods are the inbox, so none would accept a run)."))
    max_replicas: int = Field(ge=1, le=MAX_PODS, description="The most pods.")
    target_queued_per_replica: int = Field(
        DEFAULT_TARGET_QUEUED, ge=1, le=1_000_000, description=(
            "Queued runs per pod the autoscaler aims at: with KEDA the pods are "
            "ceil(queued runs / this), between minReplicas and maxReplicas. Without KEDA in the "
            "cluster a HorizontalPodAutoscaler on CPU is made instead (see the README)."))

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(MIN_NOT_ABOVE_MAX["message"])
        return self


def check_autoscaling(autoscaling: Autoscaling | None, on_postgres: bool, replicas: int) -> None:
    """The spec-level rules above, for the operator's own validation."""
    if autoscaling is None:
        return
    if not on_postgres:
        raise ValueError(AUTOSCALING_NEEDS_POSTGRES["message"])
    if replicas != 1:
        raise ValueError(AUTOSCALING_OWNS_REPLICAS["message"])
