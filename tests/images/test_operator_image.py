"""The operator image against the Kubernetes API emulator the operator tests use.

There is no kube-apiserver here: the emulator (kmock, see tests/operator/emulator.py) serves
the API on a loopback port, and the operator container reaches it on the host network.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.images.conftest import RUNTIME_IMAGE
from tests.images.podman import ROOT, Podman
from tests.operator.emulator import RunningEmulator, start_emulator
from tests.tools import tool

# A cold build of an image (the first test to need it) takes minutes on two cores.
pytestmark = pytest.mark.timeout(1800)

NAMESPACE = "default"
JOB_MANIFEST = ROOT / "examples" / "k8s" / "webhook-generated-key.yaml"
LIVENESS_PORT = 8080  # fixed by the operator image (kopf --liveness)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    running = start_emulator(tmp_path)
    running.kubeconfig.chmod(0o644)  # read by the image's non-root user
    yield running
    running.stop()


def kubectl(emulator: RunningEmulator, *args: str) -> str:
    result = subprocess.run([str(tool("kubectl")), *args], capture_output=True, text=True,
                            env=emulator.env(), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for(read, what: str, logs, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} after {timeout:.0f} s; operator log:\n{logs()[-6000:]}")


def test_operator_image_reconciles_an_openfnjob(podman: Podman, operator_image: str,
                                                emulator: RunningEmulator) -> None:
    with socket.socket() as probe:  # kopf's liveness endpoint shares the host's network
        if probe.connect_ex(("127.0.0.1", LIVENESS_PORT)) == 0:
            pytest.fail(f"port {LIVENESS_PORT} is taken on this host; the operator container "
                        "runs on the host network to reach the emulator and needs it")
    container = podman.start(
        "--network", "host", "--read-only",
        "-v", f"{emulator.kubeconfig}:/etc/osc/kubeconfig:ro",
        "-e", "KUBECONFIG=/etc/osc/kubeconfig",
        "-e", f"OSC_OPERATOR_WATCH_NAMESPACES={NAMESPACE}",
        "-e", f"OSC_OPERATOR_RUNTIME_IMAGE={RUNTIME_IMAGE}", operator_image)
    try:
        logs = lambda: podman.logs(container)  # noqa: E731
        kubectl(emulator, "apply", "--validate=false", "-n", NAMESPACE, "-f", str(JOB_MANIFEST))
        get = lambda api, plural, name: emulator.get(api, plural, NAMESPACE, name)  # noqa: E731
        deployment = wait_for(lambda: get("apps/v1", "deployments", "hello-webhook"),
                              "Deployment", logs)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == RUNTIME_IMAGE
        assert deployment["metadata"]["ownerReferences"][0]["kind"] == "OpenFnJob"
        assert get("v1", "services", "hello-webhook") is not None
        assert get("v1", "secrets", "hello-webhook-inbox") is not None
        job = wait_for(lambda: (get("osc.openfn.org/v1alpha1", "openfnjobs", "hello-webhook")
                                or {}).get("status", {}).get("conditions"), "status", logs)
        assert job[0]["type"] == "Ready"
        health = httpx.get(f"http://127.0.0.1:{LIVENESS_PORT}/healthz", timeout=10)
        assert health.status_code == 200
        assert podman.run("exec", container, "id", "-u").stdout.strip() == "10001"
        lines = [line for line in logs().splitlines() if line.startswith("{")]
        assert lines and all("message" in json.loads(line) for line in lines[:5])
    finally:
        podman.remove(container)
