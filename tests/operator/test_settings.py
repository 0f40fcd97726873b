"""The operator's settings and the kopf command line they produce."""

from __future__ import annotations

import pytest

from osc_operator.__main__ import kopf_arguments
from osc_operator.settings import OperatorSettings


def test_defaults_watch_all_namespaces_with_health_and_json_logs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNTIME_IMAGE", "WATCH_NAMESPACES", "HEALTH_PORT"):
        monkeypatch.delenv(f"OSC_OPERATOR_{name}", raising=False)
    settings = OperatorSettings()
    assert settings.runtime_image == "osc-runtime:0.1.0"
    assert settings.metrics_port == 9090
    args = kopf_arguments(settings)
    assert args[:2] == ["run", "--module=osc_operator"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in args
    assert "--log-format=json" in args and "--all-namespaces" in args


def test_watched_namespaces_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSC_OPERATOR_WATCH_NAMESPACES", " jobs, integrations ,")
    args = kopf_arguments(OperatorSettings())
    assert [arg for arg in args if arg.startswith("--namespace")] == [
        "--namespace=jobs", "--namespace=integrations"]
    assert "--all-namespaces" not in args
