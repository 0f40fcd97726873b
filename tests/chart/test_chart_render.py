"""The chart, rendered by the real helm and checked against the real Kubernetes schemas."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.chart.conftest import CHART, NAMESPACE, Render, by_kind, helm, one

# kubeVersion in Chart.yaml is >=1.25: check the oldest and the newest schemas known.
KUBERNETES_VERSIONS = ("1.25", kubernetes_validate.latest_version())
# Kinds kubernetes-validate has no schema for (prometheus-operator's CRDs).
UNKNOWN_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "cluster-wide": {"clusterWide": True},
    "metrics": {"metrics": {"enabled": True, "serviceMonitor": {
        "enabled": True, "interval": "15s", "labels": {"release": "prometheus"}}}},
    "network-policy": {"networkPolicy": {
        "enabled": True, "apiServerCIDRs": ["10.96.0.1/32"],
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
        "metrics": {"enabled": True}},
    "several-namespaces": {"watchNamespaces": ["team-a", "team-b", "team-c"]},
    "own-service-account": {"serviceAccount": {"create": False, "name": "osc-operator"},
                            "crds": {"install": False}},
    "everything": {
        "image": {"repository": "registry.example.com/osc-operator", "tag": "1.2.3",
                  "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "runtime": {"image": {"repository": "registry.example.com/osc-runtime", "tag": "1.2.3"}},
        "podAnnotations": {"a": "b"}, "podLabels": {"team": "data"},
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "priorityClassName": "system-cluster-critical",
        "crds": {"keep": False}},
}


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_lint_strict(values: dict[str, Any], tmp_path: Path) -> None:
    result = helm("lint", "--strict", str(CHART), values=values, tmp=tmp_path)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_object_is_valid_kubernetes(values: dict[str, Any], render: Render) -> None:
    objects = render(values)
    assert objects
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in UNKNOWN_KINDS:
            continue
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize(("setting", "named"), [
    ("clusterWide=yes", "clusterWide"),
    ("metrics.port=http", "port"),
    ("watchNamespaces=team-a", "watchNamespaces"),
    ("image.pullPolicy=Sometimes", "pullPolicy"),
    ("crds.install=maybe", "install"),
    ("replicaCount=2", "replicaCount"),
])
def test_schema_rejects_wrong_values(setting: str, named: str) -> None:
    result = helm("template", "osc", str(CHART), "--set", setting, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert named in result.stderr


def test_operator_deployment(render: Render) -> None:
    deployment = one(render({"watchNamespaces": ["a", "b"]}), "Deployment")
    spec, pod = deployment["spec"], deployment["spec"]["template"]["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    container = pod["containers"][0]
    assert container["image"] == "osc-operator:0.1.0"
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["OSC_OPERATOR_WATCH_NAMESPACES"] == "a,b"
    assert env["OSC_OPERATOR_RUNTIME_IMAGE"] == "osc-runtime:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_watch_defaults_to_the_release_namespace(render: Render) -> None:
    container = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["OSC_OPERATOR_WATCH_NAMESPACES"] == NAMESPACE


def test_cluster_wide_watches_every_namespace(render: Render) -> None:
    container = one(render({"clusterWide": True}), "Deployment")["spec"]["template"]["spec"][
        "containers"][0]
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["OSC_OPERATOR_WATCH_NAMESPACES"] == ""


def test_crd_switches(render: Render) -> None:
    crd = one(render(), "CustomResourceDefinition")
    assert crd["metadata"]["name"] == "openfnjobs.osc.openfn.org"
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    unkept = one(render({"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "helm.sh/resource-policy" not in (unkept["metadata"].get("annotations") or {})
    assert not by_kind(render({"crds": {"install": False}}), "CustomResourceDefinition")


def test_metrics_service_and_monitor_target_the_metrics_port(render: Render) -> None:
    assert not by_kind(render(), "ServiceMonitor") and len(by_kind(render(), "Service")) == 0
    objects = render(VALUE_SETS["metrics"])
    service, monitor = one(objects, "Service"), one(objects, "ServiceMonitor")
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"][
        "labels"].items()
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


def test_network_policy_allows_only_dns_and_the_api_server_out(render: Render) -> None:
    policy = one(render(VALUE_SETS["network-policy"]), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    ports = [[port["port"] for port in rule["ports"]] for rule in policy["spec"]["egress"]]
    assert ports == [[53, 53], [443, 6443]]
    assert policy["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}]


def test_notes_tell_the_next_steps(tmp_path: Path) -> None:
    # Only `helm install` renders NOTES.txt, and it needs a cluster: render it through `tpl`
    # in a copy of the chart instead.
    chart = tmp_path / "osc"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data: {notes: {{ tpl (.Files.Get "notes.txt") . | quote }}}\n')
    result = helm("template", "osc", str(chart), "--namespace", NAMESPACE,
                  "--set", "watchNamespaces={jobs}", "--show-only", "templates/notes-check.yaml")
    notes = yaml.safe_load(result.stdout)["data"]["notes"]
    assert "It watches OpenFnJobs in: jobs" in notes
    assert "kubectl apply -n jobs -f examples/k8s/webhook-generated-key.yaml" in notes
    assert "rollout status deployment/osc" in notes
