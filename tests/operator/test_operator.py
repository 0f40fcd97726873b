"""The operator end to end: `python -m osc_operator` (kopf) against the Kubernetes emulator.

One emulator and one operator process serve this whole module. The emulator has no
Deployment controller, so a test marks a Deployment available itself, as the controller would.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (CORE, DEPLOYMENTS, JOBS, NS, PASSWORD, ROOT,  # noqa: F401
                                    create, credential_secret, events_for, get, mark_available,
                                    merge_patch, openfnjob, operator, ready,
                                    template_annotations, wait_for)


@pytest.fixture(scope="module")
def alpha(kube_emulator: RunningEmulator, operator: dict) -> dict[str, Any]:  # noqa: F811
    """A webhook job with a credential, created once the operator runs."""
    create(kube_emulator, f"{CORE}/secrets",
           credential_secret("alpha-credential", {"password": PASSWORD}))
    job = openfnjob("alpha", credential={"secretRef": {"name": "alpha-credential",
                                                       "key": "credential.json"}})
    created = create(kube_emulator, JOBS, job)
    wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/alpha"), "alpha's Deployment", 60)
    return created


def test_children_appear_owned_with_the_mounts(kube_emulator: RunningEmulator,  # noqa: F811
                                               alpha: dict) -> None:
    uid = alpha["metadata"]["uid"]
    children = {
        "ConfigMap": get(kube_emulator, f"{CORE}/configmaps/alpha-job"),
        "Secret": get(kube_emulator, f"{CORE}/secrets/alpha-inbox"),
        "Service": get(kube_emulator, f"{CORE}/services/alpha"),
        "Deployment": get(kube_emulator, f"{DEPLOYMENTS}/alpha"),
    }
    for kind, child in children.items():
        assert child is not None, f"{kind} is missing"
        owners = child["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o["uid"], o["controller"]) for o in owners] == [
            ("OpenFnJob", "alpha", uid, True)], kind
        assert child["metadata"]["labels"]["app.kubernetes.io/instance"] == "alpha"
    assert children["ConfigMap"]["data"]["job.js"] == "fn(state => state);"
    api_key = base64.b64decode(children["Secret"]["data"]["api-key"]).decode()
    assert len(api_key) >= 40
    pod = children["Deployment"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["credential"]["secret"]["secretName"] == "alpha-credential"
    assert volumes["inbox"]["secret"]["secretName"] == "alpha-inbox"
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["credential"]["readOnly"] and mounts["inbox"]["readOnly"]
    assert children["Service"]["spec"]["ports"][0]["targetPort"] == "http"


def test_status_reports_progress_url_and_inbox_secret(kube_emulator: RunningEmulator,  # noqa
                                                      alpha: dict) -> None:
    condition = wait_for(lambda: ready(kube_emulator, "alpha"), "alpha's Ready condition")
    assert (condition["status"], condition["reason"]) == ("False", "Progressing")
    status = get(kube_emulator, f"{JOBS}/alpha")["status"]
    assert status["url"] == "http://alpha.default.svc/inbox"
    assert status["inboxSecret"] == "alpha-inbox"
    assert status["observedGeneration"] == 1 and status["trigger"] == "webhook"
    reasons = {event["reason"] for event in events_for(kube_emulator, "alpha")
               if event["type"] == "Normal"}
    assert "Created" in reasons


def test_available_deployment_makes_the_job_ready(kube_emulator: RunningEmulator,  # noqa
                                                  alpha: dict) -> None:
    wait_for(lambda: ready(kube_emulator, "alpha"), "alpha's first status")
    mark_available(kube_emulator, "alpha")
    condition = wait_for(lambda: (c := ready(kube_emulator, "alpha")) and c["status"] == "True"
                         and c, "Ready=True")
    assert condition["reason"] == "Available"
    job = get(kube_emulator, f"{JOBS}/alpha")
    assert job["status"]["url"] == "http://alpha.default.svc/inbox"


def test_spec_change_patches_the_deployment(kube_emulator: RunningEmulator,  # noqa: F811
                                            alpha: dict) -> None:
    key_before = get(kube_emulator, f"{CORE}/secrets/alpha-inbox")["data"]["api-key"]
    merge_patch(kube_emulator, f"{JOBS}/alpha", {"spec": {
        "adaptor": "@openfn/language-http@7.2.10", "concurrency": 3}})

    def adaptor() -> str | None:
        container = get(kube_emulator, f"{DEPLOYMENTS}/alpha")["spec"]["template"]["spec"][
            "containers"][0]
        env = {var["name"]: var.get("value") for var in container["env"]}
        return env["OSC_ADAPTOR"] == "@openfn/language-http@7.2.10" and env
    env = wait_for(adaptor, "the Deployment to follow the spec")
    assert env["OSC_CONCURRENCY"] == "3"
    job = wait_for(lambda: (j := get(kube_emulator, f"{JOBS}/alpha"))["status"].get(
        "observedGeneration") == j["metadata"]["generation"] and j, "observedGeneration")
    assert job["metadata"]["generation"] == 2
    assert get(kube_emulator, f"{CORE}/secrets/alpha-inbox")["data"]["api-key"] == key_before


def test_credential_change_rolls_the_pods(kube_emulator: RunningEmulator,  # noqa: F811
                                          alpha: dict) -> None:
    key = "osc.openfn.org/credential-checksum"
    before = template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/alpha"))[key]
    merge_patch(kube_emulator, f"{CORE}/secrets/alpha-credential", {"stringData": {
        "credential.json": json.dumps({"password": PASSWORD + "-rotated"})}})
    wait_for(lambda: template_annotations(get(kube_emulator, f"{DEPLOYMENTS}/alpha"))[key]
             != before, "a new credential checksum")


def test_reconciling_again_changes_nothing(kube_emulator: RunningEmulator,  # noqa: F811
                                           alpha: dict) -> None:
    paths = [f"{DEPLOYMENTS}/alpha", f"{CORE}/services/alpha", f"{CORE}/configmaps/alpha-job",
             f"{CORE}/secrets/alpha-inbox"]
    wait_for(lambda: (j := get(kube_emulator, f"{JOBS}/alpha"))["status"].get(
        "observedGeneration") == j["metadata"]["generation"], "a settled job")
    versions = [get(kube_emulator, path)["metadata"]["resourceVersion"] for path in paths]
    # An annotation change is a metadata update: kopf runs the update handler again.
    merge_patch(kube_emulator, f"{JOBS}/alpha", {"metadata": {"annotations": {"team": "data"}}})
    wait_for(lambda: "team" in (get(kube_emulator, f"{JOBS}/alpha")["metadata"].get(
        "annotations", {}).get("osc.openfn.org/last-handled-configuration", "")),
        "the update handler to run")
    assert [get(kube_emulator, path)["metadata"]["resourceVersion"] for path in paths] == versions


def test_storage_puts_the_run_store_on_an_owned_claim_that_never_shrinks(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    job = create(kube_emulator, JOBS, openfnjob("delta", storage={"size": "2Gi"}))
    claim_path = f"{CORE}/persistentvolumeclaims/delta-data"
    claim = wait_for(lambda: get(kube_emulator, claim_path), "delta's claim")
    assert [(o["kind"], o["name"], o["uid"]) for o in claim["metadata"]["ownerReferences"]] == [
        ("OpenFnJob", "delta", job["metadata"]["uid"])]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    deployment = wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/delta"), "delta's Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "delta-data"}

    def size() -> str:
        return get(kube_emulator, claim_path)["spec"]["resources"]["requests"]["storage"]
    merge_patch(kube_emulator, f"{JOBS}/delta", {"spec": {"storage": {"size": "1Gi"}}})
    wait_for(lambda: any(e["type"] == "Warning" and e["reason"] == "StorageKept"
                         for e in events_for(kube_emulator, "delta")), "a StorageKept Event")
    assert size() == "2Gi"
    merge_patch(kube_emulator, f"{JOBS}/delta", {"spec": {"storage": {"size": "5Gi"}}})
    wait_for(lambda: size() == "5Gi", "the claim to grow")
    # Without spec.storage a job that has its claim keeps it (the data is on it).
    merge_patch(kube_emulator, f"{JOBS}/delta", {"spec": {"storage": None, "concurrency": 3}})
    wait_for(lambda: (j := get(kube_emulator, f"{JOBS}/delta"))["status"].get(
        "observedGeneration") == j["metadata"]["generation"], "the spec without storage")
    deployment = get(kube_emulator, f"{DEPLOYMENTS}/delta")["spec"]
    assert deployment["strategy"] == {"type": "Recreate"}
    assert {v["name"]: v for v in deployment["template"]["spec"]["volumes"]}["data"][
        "persistentVolumeClaim"] == {"claimName": "delta-data"}
    merge_patch(kube_emulator, f"{JOBS}/delta", {"spec": {"storage": {"ephemeral": True}}})

    def data_volume() -> dict | None:
        deployment = get(kube_emulator, f"{DEPLOYMENTS}/delta")["spec"]
        volumes = {v["name"]: v for v in deployment["template"]["spec"]["volumes"]}
        return deployment["strategy"]["type"] == "RollingUpdate" and volumes["data"]
    assert wait_for(data_volume, "the emptyDir asked for") == {
        "name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    durable = wait_for(lambda: next((c for c in get(kube_emulator, f"{JOBS}/delta")["status"][
        "conditions"] if c["type"] == "Durable" and c["status"] == "False"), None),
        "Durable=False")
    assert durable["reason"] == "EphemeralStorage"
    assert size() == "5Gi"  # the claim and its data stay until the job is deleted


def test_missing_credential_secret_is_reported_then_recovered(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("beta", credential={"secretRef": {
        "name": "beta-credential", "key": "credential.json"}}))
    condition = wait_for(lambda: ready(kube_emulator, "beta"), "beta's Ready condition")
    assert (condition["status"], condition["reason"]) == ("False", "CredentialNotFound")
    assert "beta-credential" in condition["message"]
    assert get(kube_emulator, f"{DEPLOYMENTS}/beta") is None
    wait_for(lambda: any(e["type"] == "Warning" and e["reason"] == "CredentialNotFound"
                         for e in events_for(kube_emulator, "beta")), "a Warning Event")
    create(kube_emulator, f"{CORE}/secrets", credential_secret("beta-credential", {"a": 1}))
    wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/beta"), "beta's Deployment")
    wait_for(lambda: ready(kube_emulator, "beta")["reason"] == "Progressing", "Progressing")


def test_invalid_job_is_reported_and_others_still_served(
        kube_emulator: RunningEmulator, operator: dict) -> None:  # noqa: F811
    # The emulator runs no schema or CEL validation: the operator is the last line of defence.
    create(kube_emulator, JOBS, openfnjob("broken", trigger={
        "webhook": {}, "cron": {"schedule": "* * * * *"}}))
    condition = wait_for(lambda: ready(kube_emulator, "broken"), "broken's Ready condition")
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert "set exactly one of: webhook, cron, flow" in condition["message"]
    wait_for(lambda: any(e["type"] == "Warning" and e["reason"] == "InvalidSpec"
                         for e in events_for(kube_emulator, "broken")), "a Warning Event")
    create(kube_emulator, JOBS, openfnjob("gamma"))
    wait_for(lambda: get(kube_emulator, f"{DEPLOYMENTS}/gamma"), "gamma's Deployment")
    assert get(kube_emulator, f"{DEPLOYMENTS}/broken") is None
    assert operator["process"].poll() is None


def kubectl() -> str | None:
    return shutil.which("kubectl") or next(
        (str(p) for p in [ROOT / ".tools" / "bin" / "kubectl"] if p.exists()), None)


@pytest.mark.skipif(kubectl() is None, reason="kubectl is not installed (make test-tools)")
def test_kubectl_apply_of_the_examples(kube_emulator: RunningEmulator,  # noqa: F811
                                       operator: dict) -> None:
    def run(*args: str) -> str:
        done = subprocess.run([kubectl(), *args], env=kube_emulator.env(), text=True,
                              capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout
    for example in sorted((ROOT / "examples" / "k8s").glob("*.yaml")):
        run("apply", "--validate=false", "-f", str(example))
    names = ["hello-webhook", "orders", "inventory-sync", "nightly-report", "fetch-orders",
             "load-orders", "kobo-intake", "salesforce-contacts"]
    for name in names:
        wait_for(lambda: (c := ready(kube_emulator, name)) and c["reason"] == "Progressing",
                 f"{name} to be reconciled")
    assert get(kube_emulator, f"/apis/batch/v1/namespaces/{NS}/cronjobs/nightly-report")
    assert get(kube_emulator, f"{CORE}/persistentvolumeclaims/nightly-report-data")
    assert get(kube_emulator, f"{CORE}/secrets/orders-inbox") is None  # its own key is used
    table = run("get", "ofj").splitlines()
    assert table[0].split() == ["NAME", "READY", "REASON", "TRIGGER", "URL", "AGE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["nightly-report"][1:5] == [
        "False", "Progressing", "cron", "http://nightly-report.default.svc/inbox"]
    assert rows["orders"][3] == "webhook"
    assert rows["load-orders"][3] == "flow"

    def fetch_env() -> dict[str, str]:
        container = get(kube_emulator, f"{DEPLOYMENTS}/fetch-orders")["spec"]["template"][
            "spec"]["containers"][0]
        return {var["name"]: var.get("value") for var in container["env"]}
    targets = wait_for(lambda: get(kube_emulator, f"{CORE}/configmaps/fetch-orders-flow"),
                       "the flow wiring")["data"]["targets.json"]
    assert json.loads(targets) == [{
        "name": "load-orders", "on": "success", "url": "http://load-orders.default.svc/inbox",
        "key_path": "/etc/osc/flow/load-orders"}]
    assert json.loads(fetch_env()["OSC_FILTER"]) == {"source": "shop"}


def test_operator_health_and_json_logs_without_secrets(
        kube_emulator: RunningEmulator, operator: dict, alpha: dict) -> None:  # noqa: F811
    url = f"http://127.0.0.1:{operator['health_port']}/healthz"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
    lines = [line for line in operator["log"].read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["message"] is not None for line in lines)
    api_key = base64.b64decode(get(kube_emulator, f"{CORE}/secrets/alpha-inbox")["data"][
        "api-key"]).decode()
    log = operator["log"].read_text()
    assert PASSWORD not in log and api_key not in log
