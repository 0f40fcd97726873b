"""The operator's configuration: OSC_OPERATOR_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OSC_OPERATOR_", extra="ignore", frozen=True)

    runtime_image: str = Field(
        "osc-runtime:0.1.0", min_length=1,
        description="Runtime image for OpenFnJobs that do not set spec.image.")
    watch_namespaces: str = Field(
        "", description="Comma-separated namespaces to watch; empty watches all namespaces.")
    health_port: int = Field(8080, ge=1, le=65535, description="Port of GET /healthz.")
    metrics_port: int = Field(9090, ge=1, le=65535, description="Port of the metrics endpoint.")
    network_policy: bool = Field(
        False, description="Give every job a NetworkPolicy admitting only its inbox port.")
    keda_check_seconds: float = Field(
        60, ge=1, le=3600, description="How often to check whether KEDA was installed or "
        "removed: jobs with spec.autoscaling then switch between a ScaledObject and a "
        "HorizontalPodAutoscaler.")

    def namespaces(self) -> list[str]:
        return [name.strip() for name in self.watch_namespaces.split(",") if name.strip()]
