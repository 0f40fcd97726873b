"""The adaptor init container: run any adaptor, at any version, without building an image.

The runtime image bundles the packages of package.json (`BUNDLED`, generated from it). An
OpenFnJob naming anything else gets an init container in its pods: the same runtime image
running `python -m osc_runtime install-adaptor`, which npm-installs the adaptor into an emptyDir
shared with the runtime container (from `spec.adaptorInstall`: a registry, and an .npmrc
mounted into the init container alone). The runtime container then finds it there (installs
forbidden), so it keeps a read-only root filesystem and starts ready. When the init container
fails, its last log line (npm's message) becomes `Ready=False, reason AdaptorInstallFailed`.

`bundled_adaptors.py` is generated from package.json by `osc_operator.bundledgen`
(`make generate`; `make verify` fails when it is stale).
"""

from __future__ import annotations

import re
from typing import Any

from osc_operator import kube
from osc_operator.bundled_adaptors import BUNDLED

INIT_CONTAINER = "install-adaptor"
VOLUME = "adaptors"
ADAPTORS_DIR = "/var/lib/osc-adaptors"
SIZE_LIMIT = "1Gi"  # an adaptor and its dependencies: a few hundred MB at most
FAILED_REASON = "AdaptorInstallFailed"
# spec.adaptorInstall.npmrcSecretRef: a private registry's token, for the init container only.
NPMRC_VOLUME, NPMRC_DIR, NPMRC_FILE = "npmrc", "/etc/osc/npmrc", ".npmrc"
# What npm needs from the user's `env` to reach a private registry or mirror.
NPM_ENV = re.compile(r"^(OSC_NPM_.*|npm_config_.*|NPM_CONFIG_.*|NODE_EXTRA_CA_CERTS|"
                     r"(HTTPS?|NO)_PROXY|(https?|no)_proxy)$")


def needs_install(adaptor: str) -> bool:
    """Whether the runtime image lacks `adaptor`. A range is not evaluated here: anything but
    no version or the bundled version exactly gets the init container, which finds a bundled
    version that satisfies the range and exits at once."""
    name, version = _split(adaptor)
    bundled = BUNDLED.get(name)
    return bundled is None or version.strip() not in ("", bundled)


def _split(adaptor: str) -> tuple[str, str]:
    at = adaptor.find("@", 1)  # a scope's leading `@` is part of the name
    return (adaptor, "") if at < 0 else (adaptor[:at], adaptor[at + 1:])


def init_container_name(index: int) -> str:
    """`install-adaptor`, then `install-adaptor-2`, … (one per adaptor a workflow installs)."""
    return INIT_CONTAINER if index == 0 else f"{INIT_CONTAINER}-{index + 1}"


def add_init_containers(pod_spec: dict[str, Any], adaptors: list[str], image: str,
                        security_context: dict[str, Any], *, registry: str | None = None,
                        npmrc: dict[str, Any] | None = None) -> None:
    """For each of `adaptors` that is not bundled, an init container installing it; then the
    shared emptyDir, and the runtime container told to find them there and never to install
    (pod_spec is changed). A single job has one adaptor; a workflow one per step.

    `registry` becomes each init container's OSC_NPM_REGISTRY; `npmrc` (a Secret volume source
    whose one item is NPMRC_FILE) is mounted into the init containers alone.
    """
    missing = [adaptor for adaptor in adaptors if needs_install(adaptor)]
    if not missing:
        return
    runtime = pod_spec["containers"][0]
    pod_spec["initContainers"] = [
        _init_container(init_container_name(index), adaptor, image, runtime, security_context,
                        registry, npmrc is not None) for index, adaptor in enumerate(missing)]
    pod_spec["volumes"].append({"name": VOLUME, "emptyDir": {"sizeLimit": SIZE_LIMIT}})
    if npmrc is not None:
        pod_spec["volumes"].append({"name": NPMRC_VOLUME, "secret": npmrc})
    runtime["volumeMounts"].append({"name": VOLUME, "mountPath": ADAPTORS_DIR, "readOnly": True})
    names = [var["name"] for var in runtime["env"]]
    after = "OSC_ADAPTOR" if "OSC_ADAPTOR" in names else "OSC_WORKFLOW_PATH"
    at = names.index(after) + 1
    runtime["env"][at:at] = [{"name": "OSC_ADAPTORS_DIR", "value": ADAPTORS_DIR},
                             {"name": "OSC_ADAPTOR_INSTALL", "value": "never"}]


def _init_container(name: str, adaptor: str, image: str, runtime: dict[str, Any],
                    security_context: dict[str, Any], registry: str | None,
                    with_npmrc: bool) -> dict[str, Any]:
    init: dict[str, Any] = {
        "name": name, "image": image,
        "command": ["python", "-m", "osc_runtime", INIT_CONTAINER],
        "env": _init_env(adaptor, runtime.get("env", []), registry, with_npmrc),
        "volumeMounts": [{"name": VOLUME, "mountPath": ADAPTORS_DIR},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": security_context,
        # npm's message is the last log line: Kubernetes keeps it in the container's status.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if "resources" in runtime:
        init["resources"] = runtime["resources"]
    if with_npmrc:
        init["volumeMounts"].append(
            {"name": NPMRC_VOLUME, "mountPath": NPMRC_DIR, "readOnly": True})
    return init


def _init_env(adaptor: str, runtime_env: list[dict[str, Any]], registry: str | None,
              with_npmrc: bool) -> list[dict[str, Any]]:
    """What to install and where, then the npm settings; `spec.adaptorInstall` wins over
    the same variables in the user's `env`."""
    own = {"OSC_ADAPTOR": adaptor, "OSC_ADAPTORS_DIR": ADAPTORS_DIR}
    if registry is not None:
        own["OSC_NPM_REGISTRY"] = registry
    if with_npmrc:
        own["OSC_NPMRC_PATH"] = f"{NPMRC_DIR}/{NPMRC_FILE}"
    passed = [var for var in runtime_env
              if NPM_ENV.match(var["name"]) and var["name"] not in own]
    return [{"name": name, "value": value} for name, value in own.items()] + passed


def install_failure(pod: dict[str, Any], adaptor: str) -> str | None:
    """npm's message when this pod's install of `adaptor` failed (pods installing another
    adaptor, from an older spec, do not count); None when it did not fail (yet)."""
    init = next((c for c in pod.get("spec", {}).get("initContainers") or []
                 if str(c.get("name", "")).startswith(INIT_CONTAINER)
                 and _asked(c).get("OSC_ADAPTOR") == adaptor), None)
    if init is None:
        return None
    for status in pod.get("status", {}).get("initContainerStatuses") or []:
        if status.get("name") != init["name"]:
            continue
        current = (status.get("state") or {}).get("terminated")
        if current and current.get("exitCode") == 0:
            return None  # installed, whatever an earlier attempt said
        for state in (status.get("state"), status.get("lastState")):
            terminated = (state or {}).get("terminated")
            if terminated and terminated.get("exitCode", 0) != 0:
                return _describe(terminated)
    return None


def _asked(container: dict[str, Any]) -> dict[str, Any]:
    return {var.get("name"): var.get("value") for var in container.get("env") or []}


def _describe(terminated: dict[str, Any]) -> str:
    lines = [line.strip() for line in (terminated.get("message") or "").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    if last:
        return last.removeprefix(f"{INIT_CONTAINER}: ")
    return (f"the {INIT_CONTAINER} init container exited with code "
            f"{terminated.get('exitCode')} ({terminated.get('reason') or 'Error'})")


def adaptors_of(spec: dict[str, Any]) -> list[str]:
    """The adaptors of a raw spec: its own, or each workflow step's."""
    named = [(step or {}).get("adaptor") for step in spec.get("steps") or []] or [
        spec.get("adaptor")]
    return [adaptor for adaptor in named if isinstance(adaptor, str) and adaptor]


def find_install_failure(client: kube.Kube, body: dict[str, Any],
                         selector: dict[str, str]) -> str | None:
    """npm's message from any pod of this OpenFnJob whose adaptor install failed."""
    meta = body["metadata"]
    adaptors = [adaptor for adaptor in adaptors_of(body.get("spec") or {})
                if needs_install(adaptor)]
    if not adaptors:
        return None
    failures = (install_failure(pod, adaptor)
                for pod in kube.pods_of(client, meta["namespace"], selector)
                for adaptor in adaptors)
    return next((failure for failure in failures if failure), None)
