"""The pure builders: OpenFnJob YAML in tests/operator/data/render → the expected manifests.

Each `<case>.input.yaml` is rendered and compared with `<case>.expected.yaml` (reviewed by
hand; `OSC_REGENERATE_EXPECTED=1` rewrites them after a deliberate change). Every rendered
child is validated by kubernetes-validate --strict against Kubernetes 1.37's own schemas (KEDA's
objects, not Kubernetes' own, by the real API server against KEDA's CRD in tests/cluster).
A case named `*-keda` is rendered as in a cluster with KEDA installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from osc_operator import autoscaling, policies, render, storage
from osc_operator.api import parse_spec
from osc_operator.webhook_render import secret_files

DATA = Path(__file__).parent / "data" / "render"
CASES = sorted(path.name.removesuffix(".input.yaml") for path in DATA.glob("*.input.yaml"))
KUBERNETES_VERSION = "1.37.0"
# What the operator would read from the cluster, fixed here.
API_KEY = "generated-inbox-key"
CREDENTIAL = '{"username": "osc", "password": "s3cret"}'
SHARED_JOB = 'get("/items");'
IMAGE = "osc-runtime:0.1.0"


def load_case(case: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / f"{case}.input.yaml").read_text())


def render_children(job: dict[str, Any], default_class: str | None = "standard",
                    keda: bool = False) -> list[dict[str, Any]]:
    """Render every child the way the operator does, with the cluster's data fixed above
    (a default StorageClass unless `default_class` is None)."""
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    spec = storage.place(parse_spec(job["spec"]), False, lambda: default_class).spec
    own_key = render.inbox_key_ref(name, spec)[0] == render.inbox_secret_name(name)
    checksums = render.Checksums(
        job=render.checksum(spec.job if spec.job is not None else SHARED_JOB),
        credential=render.checksum(CREDENTIAL) if spec.credential else None,
        api_key=render.checksum(API_KEY),
        extra={item.volume: render.checksum(f"content of {item.ref.name}")
               for item in secret_files(spec)})
    children = [
        render.render_job_configmap(name, namespace, spec),
        render.render_inbox_secret(name, namespace, API_KEY) if own_key else None,
        render.render_service(name, namespace),
        render.render_pvc(name, namespace, spec),
        render.render_deployment(name, namespace, spec, image=IMAGE, checksums=checksums),
        render.render_cronjob(name, namespace, spec, image=IMAGE),
        *autoscaling.render_autoscaler(name, namespace, spec, keda),
    ]
    return [child for child in children if child is not None]


@pytest.mark.parametrize("case", CASES)
def test_renders_the_expected_manifests(case: str) -> None:
    rendered = render_children(load_case(case), keda=case.endswith("-keda"))
    expected_file = DATA / f"{case}.expected.yaml"
    if os.environ.get("OSC_REGENERATE_EXPECTED"):
        expected_file.write_text(yaml.safe_dump_all(rendered, sort_keys=False))
    assert rendered == list(yaml.safe_load_all(expected_file.read_text()))


@pytest.mark.parametrize("case", CASES)
def test_every_child_is_valid_kubernetes(case: str) -> None:
    for child in render_children(load_case(case), keda=case.endswith("-keda")):
        if not child["apiVersion"].startswith("keda.sh/"):
            kubernetes_validate.validate(child, KUBERNETES_VERSION, strict=True)


def test_a_field_kubernetes_does_not_know_fails_strict_validation() -> None:
    """The validation above can fail: an unknown field in a rendered child is caught."""
    deployment = _deployment("webhook-generated-key")
    deployment["spec"]["template"]["spec"]["containers"][0]["secretValue"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _deployment(case: str) -> dict[str, Any]:
    return next(c for c in render_children(load_case(case)) if c["kind"] == "Deployment")


@pytest.mark.parametrize("case", CASES)
def test_pods_meet_the_restricted_pod_security_standard(case: str) -> None:
    pod = _deployment(case)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
    mounted = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {"/tmp", render.DATA_DIR} <= mounted  # writable emptyDirs beside the read-only root


def test_secrets_are_read_only_files_never_environment_values() -> None:
    deployment = _deployment("full-spec")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["OSC_CREDENTIAL_PATH"] == "/etc/osc/credential/credential.json"
    assert env["OSC_API_KEYS_PATH"] == "/etc/osc/inbox/api-key"
    assert CREDENTIAL not in str(deployment) and API_KEY not in str(deployment)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["credential"]["secret"]["items"] == [
        {"key": "credential.json", "path": "credential.json", "mode": 0o400}]
    assert volumes["inbox"]["secret"]["secretName"] == "inventory-inbox-key"
    assert volumes["inbox"]["secret"]["items"][0]["key"] == "token"
    assert all(m.get("readOnly") for m in container["volumeMounts"]
               if m["name"] in ("credential", "inbox", "job"))


def test_the_runtime_contract_is_filled_in() -> None:
    container = _deployment("full-spec")["spec"]["template"]["spec"]["containers"][0]
    env = [(var["name"], var.get("value")) for var in container["env"]]
    assert ("OSC_JOB_PATH", "/etc/osc/job/job.js") in env
    assert ("OSC_ADAPTOR", "@openfn/language-http@7.2.10") in env
    assert ("OSC_RUN_TIMEOUT_SECONDS", "120") in env and ("OSC_CONCURRENCY", "4") in env
    assert ("OSC_TRIGGER", "webhook") in env and ("OSC_JOB_NAME", "inventory-sync") in env
    assert env[-2:] == [("HTTP_PROXY", "http://proxy:3128"), ("OSC_LOG_JOB_OUTPUT", None)]
    assert container["image"] == "registry.example.com/osc-runtime:0.2.0"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_a_changed_job_or_credential_changes_the_pod_template() -> None:
    job = load_case("webhook-generated-key")
    before = _template_annotations(job)
    job["spec"]["job"] += "\n// changed"
    after = _template_annotations(job)
    assert before["osc.openfn.org/job-checksum"] != after["osc.openfn.org/job-checksum"]
    with_credential = render.Checksums(job="a", credential=render.checksum("{}"))
    other_credential = render.Checksums(job="a", credential=render.checksum('{"a": 1}'))
    assert with_credential.annotations() != other_credential.annotations()


def _template_annotations(job: dict[str, Any]) -> dict[str, str]:
    deployment = next(c for c in render_children(job) if c["kind"] == "Deployment")
    return deployment["spec"]["template"]["metadata"]["annotations"]


def test_cron_trigger_renders_a_cronjob_that_posts_to_the_inbox() -> None:
    cronjob = next(c for c in render_children(load_case("cron")) if c["kind"] == "CronJob")
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (
        "0 2 * * *", "Europe/Berlin", "Replace")
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "osc_runtime", "trigger"]
    env = {var["name"]: var["value"] for var in container["env"]}
    assert env["OSC_TRIGGER_URL"] == "http://nightly-report.reports.svc/inbox"
    assert env["OSC_TRIGGER_KEY_PATH"] == "/etc/osc/inbox/api-key"
    service = next(c for c in render_children(load_case("cron")) if c["kind"] == "Service")
    pod_labels = spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= pod_labels.items()  # not a backend


def test_a_webhook_job_renders_no_cronjob() -> None:
    kinds = [child["kind"] for child in render_children(load_case("webhook-generated-key"))]
    assert kinds == ["ConfigMap", "Secret", "Service", "PersistentVolumeClaim", "Deployment"]


def test_storage_puts_the_run_store_on_the_job_claim_and_recreates_pods() -> None:
    children = render_children(load_case("storage"))
    claim = next(c for c in children if c["kind"] == "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "orders-data"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast-ssd",
                             "resources": {"requests": {"storage": "2Gi"}}}
    deployment = _deployment("storage")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"] == {"name": "data",
                               "persistentVolumeClaim": {"claimName": "orders-data"}}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["data"] == render.DATA_DIR
    assert pod["securityContext"]["fsGroup"] == render.RUN_AS  # the claim is writable for it


def test_without_storage_a_default_class_puts_the_store_on_a_default_claim() -> None:
    children = render_children(load_case("webhook-generated-key"))
    [claim] = [child for child in children if child["kind"] == "PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "hello-webhook-data"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}  # default class
    deployment = _deployment("webhook-generated-key")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_without_a_default_class_the_store_is_a_bounded_empty_dir_rolled_over() -> None:
    children = render_children(load_case("webhook-generated-key"), default_class=None)
    assert "PersistentVolumeClaim" not in [child["kind"] for child in children]
    deployment = next(c for c in children if c["kind"] == "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}


def test_webhook_auth_secrets_are_read_only_files_and_roll_the_pods() -> None:
    job = load_case("webhook-senders")
    deployment = next(c for c in render_children(job) if c["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    env = {var["name"]: var.get("value") for var in pod["containers"][0]["env"]}
    assert env["OSC_BASIC_AUTH_PATH"] == "/etc/osc/basic-auth/users"
    assert env["OSC_SIGNATURE"] == "github"
    assert env["OSC_SIGNATURE_SECRET_PATH"] == "/etc/osc/signature/secrets"
    assert env["OSC_API_KEY_SCHEMES"] == "Bearer,ApiToken" and env["OSC_API_KEY_HEADER"] == "X-Intake-Key"
    assert env["OSC_API_KEY_QUERY_PARAM"] == "api_token"
    assert env["OSC_IDEMPOTENCY_FROM"] == "header:X-GitHub-Delivery"
    assert (env["OSC_ACCEPT_STATUS"], env["OSC_ACCEPT_BODY"]) == ("200", "<Ack>true</Ack>")
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert volumes["basic-auth"] == {"secretName": "intake-senders", "defaultMode": 0o400,
                                     "items": [{"key": "users", "path": "users", "mode": 0o400}]}
    assert volumes["signature"]["secretName"] == "intake-github"
    assert all(m["readOnly"] for m in pod["containers"][0]["volumeMounts"]
               if m["name"] in ("basic-auth", "signature"))
    before = deployment["spec"]["template"]["metadata"]["annotations"]
    assert {"osc.openfn.org/basic-auth-checksum", "osc.openfn.org/signature-checksum"} <= set(before)
    job["spec"]["trigger"]["webhook"]["auth"]["signature"]["secretRef"]["name"] = "rotated"
    after = next(c for c in render_children(job) if c["kind"] == "Deployment")
    assert after["spec"]["template"]["metadata"]["annotations"] != before


def test_an_own_api_key_secret_under_auth_is_the_inbox_key() -> None:
    job = load_case("webhook-senders")
    job["spec"]["trigger"]["webhook"]["auth"]["apiKey"]["secretRef"] = {"name": "mine", "key": "k"}
    spec = parse_spec(job["spec"])
    assert render.inbox_key_ref("intake", spec) == ("mine", "k")


def test_every_empty_dir_is_bounded_and_every_container_has_resources() -> None:
    for case in CASES:
        for child in render_children(load_case(case), default_class=None):
            spec = child.get("spec") or {}
            pod = (spec.get("template") or spec.get("jobTemplate", {}).get(
                "spec", {}).get("template") or {}).get("spec")
            if pod is None:
                continue
            for volume in pod["volumes"]:
                assert "emptyDir" not in volume or volume["emptyDir"].get("sizeLimit"), volume
            for container in pod["containers"] + pod.get("initContainers", []):
                assert container["resources"]["limits"]["memory"], (case, container["name"])


def test_resources_default_and_spec_resources_replace_them() -> None:
    container = _deployment("webhook-generated-key")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                                      "limits": {"memory": "1Gi"}}
    job = load_case("webhook-generated-key")
    job["spec"]["resources"] = {"limits": {"memory": "4Gi"}}
    deployment = next(c for c in render_children(job) if c["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "4Gi"}}


def test_the_network_policy_and_disruption_budget_are_valid_kubernetes() -> None:
    job = load_case("webhook-generated-key")
    job["spec"]["replicas"] = 2
    spec = parse_spec(job["spec"])
    policy = policies.render_network_policy("hello-webhook", "default")
    budget = policies.render_disruption_budget("hello-webhook", "default", spec)
    for child in (policy, budget):
        kubernetes_validate.validate(child, KUBERNETES_VERSION, strict=True)
    assert policy["spec"]["ingress"] == [{"ports": [{"port": render.PORT, "protocol": "TCP"}]}]
    assert budget["spec"]["maxUnavailable"] == 1
    job["spec"]["replicas"] = 1
    assert policies.render_disruption_budget("hello-webhook", "default",
                                             parse_spec(job["spec"])) is None
