"""What the operator tests share: the operator subprocess fixture and API helpers.

A module that uses `operator` gets its own emulator (`kube_emulator`, module-scoped) and its
own operator process, with the health and metrics ports on free loopback ports.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.operator.emulator import RunningEmulator, kube_emulator  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
NS = "default"
JOBS = f"/apis/osc.openfn.org/v1alpha1/namespaces/{NS}/openfnjobs"
CORE = f"/api/v1/namespaces/{NS}"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
PASSWORD = "credential-password-must-never-be-logged"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def operator(kube_emulator: RunningEmulator,  # noqa: F811
             request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The operator as a subprocess, as the console script runs it; its log is kept. A test
    module's OPERATOR_ENV adds to its environment (e.g. an operator setting)."""
    log_path = kube_emulator.workdir / "operator.log"
    health_port, metrics_port = free_port(), free_port()
    env = {**kube_emulator.env(), "OSC_OPERATOR_WATCH_NAMESPACES": NS,
           "OSC_OPERATOR_HEALTH_PORT": str(health_port),
           "OSC_OPERATOR_METRICS_PORT": str(metrics_port),
           **getattr(request.module, "OPERATOR_ENV", {})}
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "osc_operator"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield {"process": process, "log": log_path, "health_port": health_port,
               "metrics_port": metrics_port}
    finally:
        process.terminate()
        process.wait(30)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def get(kube: RunningEmulator, path: str) -> dict[str, Any] | None:
    status, body = kube.request("GET", path)
    return body if status == 200 else None


def create(kube: RunningEmulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, created = kube.request("POST", path, body)
    assert status == 201 or status == 200, created
    return created


def merge_patch(kube: RunningEmulator, path: str, patch: dict[str, Any]) -> dict[str, Any]:
    status, body = kube.request("PATCH", path, patch, "application/merge-patch+json")
    assert status == 200, body
    return body


def openfnjob(name: str, **spec: Any) -> dict[str, Any]:
    base = {"job": "fn(state => state);", "adaptor": "@openfn/language-common",
            "trigger": {"webhook": {}}}
    return {"apiVersion": "osc.openfn.org/v1alpha1", "kind": "OpenFnJob",
            "metadata": {"name": name}, "spec": {**base, **spec}}


def credential_secret(name: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {"credential.json": json.dumps(content)}}


def ready(kube: RunningEmulator, name: str) -> dict[str, Any] | None:
    job = get(kube, f"{JOBS}/{name}") or {}
    return next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c["type"] == "Ready"), None)


def events_for(kube: RunningEmulator, name: str) -> list[dict[str, Any]]:
    items = (get(kube, f"{CORE}/events") or {}).get("items", [])
    return [event for event in items if event["involvedObject"]["name"] == name]


def template_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["annotations"]


def mark_available(kube: RunningEmulator, name: str) -> None:
    """What the Deployment controller would write once the pods are ready."""
    deployment = get(kube, f"{DEPLOYMENTS}/{name}")
    replicas = deployment["spec"]["replicas"]
    merge_patch(kube, f"{DEPLOYMENTS}/{name}/status", {"status": {
        "observedGeneration": deployment["metadata"]["generation"], "replicas": replicas,
        "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicas"}]}})


