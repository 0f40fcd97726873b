"""The GitOps examples point at what exists and give the chart values its schema accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools import ROOT

GITOPS = ROOT / "examples" / "gitops"


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def chart_values() -> dict[str, dict[str, Any]]:
    found = {}
    for path in GITOPS.rglob("*.yaml"):
        for doc in load(path):
            if doc["kind"] == "HelmRelease":
                found[path.name] = doc["spec"]["values"]
            elif doc["kind"] == "Application" and doc["spec"]["source"].get("helm"):
                found[path.name] = doc["spec"]["source"]["helm"]["valuesObject"]
    return found


def test_both_tools_install_the_chart() -> None:
    assert set(chart_values()) == {"osc-operator.yaml", "helmrelease.yaml"}


@pytest.mark.parametrize("values", chart_values().values(), ids=chart_values().keys())
def test_values_meet_the_chart_schema(values: dict[str, Any], render) -> None:
    deployment = next(obj for obj in render(values) if obj["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/osc-operator:0.1.0"


def test_paths_exist() -> None:
    argo = [doc for path in (GITOPS / "argocd").glob("*.yaml") for doc in load(path)]
    for app in argo:
        assert (ROOT / app["spec"]["source"]["path"]).is_dir()
    flux = load(GITOPS / "flux" / "kustomization.yaml")
    for kustomization in flux:
        assert (ROOT / kustomization["spec"]["path"]).is_dir()
    release = load(GITOPS / "flux" / "operator" / "helmrelease.yaml")[0]
    assert (ROOT / release["spec"]["chart"]["spec"]["chart"] / "Chart.yaml").is_file()
    listed = load(GITOPS / "flux" / "operator" / "kustomization.yaml")[0]["resources"]
    assert all((GITOPS / "flux" / "operator" / name).is_file() for name in listed)


def test_flux_waits_for_the_example_job() -> None:
    jobs = next(k for k in load(GITOPS / "flux" / "kustomization.yaml")
                if k["metadata"]["name"] == "osc-jobs")
    names = {doc["metadata"]["name"] for path in (ROOT / jobs["spec"]["path"]).glob("*.yaml")
             for doc in load(path) if doc["kind"] == "OpenFnJob"}
    assert {check["name"] for check in jobs["spec"]["healthChecks"]} <= names
