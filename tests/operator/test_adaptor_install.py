"""The adaptor init container: rendered only when the runtime image lacks the adaptor, given the
registry and .npmrc of `spec.adaptorInstall` (the runtime container never sees the .npmrc), and
its failure reported as Ready=False AdaptorInstallFailed — by kopf against the Kubernetes
emulator.

The emulator runs no pods: a test writes the pod status the kubelet would write.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest

from osc_operator import adaptor_install, render
from osc_operator.api import parse_spec
from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)
from tests.operator.harness import (  # noqa: F401 (fixture)
    CORE, DEPLOYMENTS, JOBS, NS, ROOT, create, events_for, get, mark_available, merge_patch,
    openfnjob, operator, ready, wait_for,
)

PODS = f"{CORE}/pods"
OLDER = "@openfn/language-http@6.4.3"
NPM_SAYS = ("npm could not install @openfn/language-http@6.4.3: code ECONNREFUSED; FetchError: "
            "request to http://registry.internal/ failed")


def spec_for(adaptor: str, **extra: Any) -> dict[str, Any]:
    return {"job": "fn(state => state);", "adaptor": adaptor, "trigger": {"webhook": {}}, **extra}


def pod_spec(adaptor: str, **extra: Any) -> dict[str, Any]:
    deployment = render.render_deployment("demo", NS, parse_spec(spec_for(adaptor, **extra)),
                                          image="osc-runtime:test",
                                          checksums=render.Checksums(job="x"))
    kubernetes_validate.validate(deployment, "1.37.0", strict=True)
    return deployment["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, str | None]:
    return {var["name"]: var.get("value") for var in container["env"]}


@pytest.mark.parametrize("adaptor", ["@openfn/language-common", "@openfn/language-common@3.3.4",
                                     "@openfn/language-http@7.2.10"])
def test_a_bundled_adaptor_needs_no_init_container(adaptor):
    pod = pod_spec(adaptor)
    assert "initContainers" not in pod
    assert "OSC_ADAPTOR_INSTALL" not in env_of(pod["containers"][0])


@pytest.mark.parametrize("adaptor", [OLDER, "@openfn/language-http@^6", "@openfn/language-dhis2"])
def test_another_adaptor_is_installed_by_an_init_container(adaptor):
    pod = pod_spec(adaptor, env=[{"name": "OSC_NPM_REGISTRY", "value": "https://npm.internal/"},
                                 {"name": "OSC_LOG_JOB_OUTPUT", "value": "true"}])
    [init], [runtime] = pod["initContainers"], pod["containers"]
    assert init["image"] == runtime["image"] == "osc-runtime:test"
    assert init["command"] == ["python", "-m", "osc_runtime", "install-adaptor"]
    assert env_of(init) == {"OSC_ADAPTOR": adaptor, "OSC_ADAPTORS_DIR": "/var/lib/osc-adaptors",
                            "OSC_NPM_REGISTRY": "https://npm.internal/"}
    runtime_env = env_of(runtime)
    assert runtime_env["OSC_ADAPTORS_DIR"] == "/var/lib/osc-adaptors"
    assert runtime_env["OSC_ADAPTOR_INSTALL"] == "never"
    # The same restricted context; the shared folder is written by the init container only.
    assert init["securityContext"] == runtime["securityContext"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["adaptors"] == {"name": "adaptors", "emptyDir": {"sizeLimit": "1Gi"}}
    init_mounts = {m["mountPath"]: m for m in init["volumeMounts"]}
    runtime_mounts = {m["mountPath"]: m for m in runtime["volumeMounts"]}
    assert init_mounts["/var/lib/osc-adaptors"]["name"] == "adaptors"
    assert not init_mounts["/var/lib/osc-adaptors"].get("readOnly")
    assert runtime_mounts["/var/lib/osc-adaptors"] == {
        "name": "adaptors", "mountPath": "/var/lib/osc-adaptors", "readOnly": True}


PRIVATE = {"registry": "https://npm.internal/",
           "npmrcSecretRef": {"name": "npm-auth", "key": "npmrc"}}
NPMRC_MOUNT = {"name": "npmrc", "mountPath": "/etc/osc/npmrc", "readOnly": True}


def test_the_npmrc_and_registry_reach_the_init_container_only():
    pod = pod_spec(OLDER, adaptorInstall=PRIVATE)
    [init], [runtime] = pod["initContainers"], pod["containers"]
    assert env_of(init)["OSC_NPM_REGISTRY"] == "https://npm.internal/"
    assert env_of(init)["OSC_NPMRC_PATH"] == "/etc/osc/npmrc/.npmrc"
    assert NPMRC_MOUNT in init["volumeMounts"]  # the whole folder: no subPath
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["npmrc"]["secret"] == {
        "secretName": "npm-auth", "defaultMode": 0o400,
        "items": [{"key": "npmrc", "path": ".npmrc", "mode": 0o400}]}
    assert "npmrc" not in {mount["name"] for mount in runtime["volumeMounts"]}
    assert not {"OSC_NPMRC_PATH", "OSC_NPM_REGISTRY"} & set(env_of(runtime))


def test_the_spec_s_registry_wins_over_the_same_variable_in_env():
    pod = pod_spec(OLDER, adaptorInstall={"registry": "https://npm.internal/"},
                   env=[{"name": "OSC_NPM_REGISTRY", "value": "https://mirror.old/"}])
    [init] = pod["initContainers"]
    assert [(var["name"], var["value"]) for var in init["env"]
            if var["name"] == "OSC_NPM_REGISTRY"] == [("OSC_NPM_REGISTRY", "https://npm.internal/")]
    assert "npmrc" not in {volume["name"] for volume in pod["volumes"]}
    assert "OSC_NPMRC_PATH" not in env_of(init)


def test_a_bundled_adaptor_mounts_no_npmrc():
    pod = pod_spec("@openfn/language-http@7.2.10", adaptorInstall=PRIVATE)
    assert "initContainers" not in pod
    assert "npmrc" not in {volume["name"] for volume in pod["volumes"]}
    assert "OSC_NPMRC_PATH" not in env_of(pod["containers"][0])


def test_the_bundled_set_is_package_json():
    done = subprocess.run([sys.executable, "-m", "osc_operator.bundledgen", "verify"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def failed_status(message: str, adaptor_state: str = "lastState") -> dict[str, Any]:
    """What the kubelet writes for an init container in CrashLoopBackOff."""
    terminated = {"exitCode": 1, "reason": "Error", "message": message}
    states = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, adaptor_state: {
        "terminated": terminated}}
    return {"phase": "Pending", "initContainerStatuses": [{
        "name": "install-adaptor", "ready": False, "restartCount": 2,
        "image": "osc-runtime:test", "imageID": "", **states}]}


def test_the_failure_read_from_a_pod_is_npm_s_last_line():
    spec = {"initContainers": [{"name": "install-adaptor", "env": [
        {"name": "OSC_ADAPTOR", "value": OLDER}]}]}
    message = f"installing adaptor {OLDER}\ninstall-adaptor: {NPM_SAYS}\n"
    pod = {"spec": spec, "status": failed_status(message)}
    assert adaptor_install.install_failure(pod, OLDER) == NPM_SAYS
    assert adaptor_install.install_failure(pod, "@openfn/language-http@6.4.0") is None  # older spec
    pod["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 0}}
    assert adaptor_install.install_failure(pod, OLDER) is None  # a later attempt succeeded


# ---- against the emulator -----------------------------------------------------------------


def reason(kube: RunningEmulator, name: str) -> str | None:
    return (ready(kube, name) or {}).get("reason")


def create_job(kube: RunningEmulator, name: str, adaptor: str) -> dict[str, Any]:
    create(kube, JOBS, openfnjob(name, adaptor=adaptor))
    wait_for(lambda: reason(kube, name) == "Progressing", f"{name} Progressing", 60)
    return get(kube, f"{DEPLOYMENTS}/{name}")


def test_the_operator_adds_the_init_container_only_when_needed(kube_emulator,  # noqa: F811
                                                               operator):  # noqa: F811
    bundled = create_job(kube_emulator, "bundled", "@openfn/language-http@7.2.10")
    assert "initContainers" not in bundled["spec"]["template"]["spec"]
    older = create_job(kube_emulator, "older", OLDER)
    [init] = older["spec"]["template"]["spec"]["initContainers"]
    assert env_of(init)["OSC_ADAPTOR"] == OLDER


def test_a_failed_install_makes_the_job_not_ready_with_npms_message(kube_emulator,  # noqa: F811
                                                                    operator):  # noqa: F811
    template = get(kube_emulator, f"{DEPLOYMENTS}/older")["spec"]["template"]
    pod = {"metadata": {"name": "older-7d9f-abcde", "labels": template["metadata"]["labels"]},
           "spec": template["spec"]}
    create(kube_emulator, PODS, pod)
    message = f"installing adaptor {OLDER}\ninstall-adaptor: {NPM_SAYS}"
    merge_patch(kube_emulator, f"{PODS}/older-7d9f-abcde/status",
                {"status": failed_status(message)})
    wait_for(lambda: reason(kube_emulator, "older") == "AdaptorInstallFailed",
             "AdaptorInstallFailed")
    condition = ready(kube_emulator, "older")
    assert (condition["status"], condition["message"]) == ("False", NPM_SAYS)
    warnings = [event for event in events_for(kube_emulator, "older")
                if event["type"] == "Warning" and event["reason"] == "AdaptorInstallFailed"]
    assert warnings and warnings[0]["message"] == NPM_SAYS
    # A reconcile (a spec change) keeps the reason while the pod still fails.
    merge_patch(kube_emulator, f"{JOBS}/older", {"spec": {"concurrency": 3}})
    wait_for(lambda: get(kube_emulator, f"{JOBS}/older")["status"]["observedGeneration"] == 2,
             "the spec change reconciled")
    assert reason(kube_emulator, "older") == "AdaptorInstallFailed"


NPMRC = "//npm.internal/:_authToken=npm-token-must-never-be-logged\n"


def npmrc_checksum(kube: RunningEmulator, name: str) -> str | None:
    deployment = get(kube, f"{DEPLOYMENTS}/{name}") or {}
    annotations = deployment.get("spec", {}).get("template", {}).get("metadata", {})
    return (annotations.get("annotations") or {}).get("osc.openfn.org/npmrc-checksum")


def test_a_missing_npmrc_secret_holds_the_job_until_it_exists(kube_emulator,  # noqa: F811
                                                              operator):  # noqa: F811
    create(kube_emulator, JOBS, openfnjob("private", adaptor=OLDER, adaptorInstall={
        **PRIVATE, "npmrcSecretRef": {"name": "npm-auth", "key": ".npmrc"}}))
    condition = wait_for(lambda: ready(kube_emulator, "private"), "private's Ready condition")
    assert (condition["status"], condition["reason"]) == ("False", "CredentialNotFound")
    assert "npm-auth" in condition["message"] and "npmrcSecretRef" in condition["message"]
    assert get(kube_emulator, f"{DEPLOYMENTS}/private") is None
    create(kube_emulator, f"{CORE}/secrets", {"apiVersion": "v1", "kind": "Secret",
                                              "metadata": {"name": "npm-auth"},
                                              "stringData": {".npmrc": NPMRC}})
    wait_for(lambda: reason(kube_emulator, "private") == "Progressing", "Progressing")
    pod = get(kube_emulator, f"{DEPLOYMENTS}/private")["spec"]["template"]["spec"]
    [init], [runtime] = pod["initContainers"], pod["containers"]
    assert NPMRC_MOUNT in init["volumeMounts"]
    assert env_of(init)["OSC_NPMRC_PATH"] == "/etc/osc/npmrc/.npmrc"
    assert env_of(init)["OSC_NPM_REGISTRY"] == "https://npm.internal/"
    assert "npmrc" not in {mount["name"] for mount in runtime["volumeMounts"]}
    assert "OSC_NPMRC_PATH" not in env_of(runtime)


def test_a_changed_npmrc_rolls_the_pods(kube_emulator, operator):  # noqa: F811
    before = wait_for(lambda: npmrc_checksum(kube_emulator, "private"), "the npmrc checksum")
    merge_patch(kube_emulator, f"{CORE}/secrets/npm-auth",
                {"stringData": {".npmrc": NPMRC.replace("never", "still-never")}})
    wait_for(lambda: npmrc_checksum(kube_emulator, "private") not in (None, before),
             "a new npmrc checksum")
    deployment = get(kube_emulator, f"{DEPLOYMENTS}/private")
    assert "npm-token" not in str(deployment)
    assert "npm-token" not in operator["log"].read_text()


def test_the_job_becomes_ready_once_the_install_succeeds(kube_emulator,  # noqa: F811
                                                         operator):  # noqa: F811
    wait_for(lambda: reason(kube_emulator, "older") == "AdaptorInstallFailed", "the failure")
    mark_available(kube_emulator, "older")
    condition = wait_for(lambda: (c := ready(kube_emulator, "older")) and c["status"] == "True"
                         and c, "Ready=True")
    assert condition["reason"] == "Available"
