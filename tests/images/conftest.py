"""Fixtures for the image tests: podman, the base image, both images, and running containers.

These tests need root and Debian's podman (installed by tests/tools.py when missing). When
podman cannot run here they fail with podman's own message: they are never skipped.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.images.podman import ROOT, Podman, PodmanError
from tests.tools import ToolError, ensure

RUNTIME_IMAGE = "localhost/osc-runtime:test"
OPERATOR_IMAGE = "localhost/osc-operator:test"
SIZES_FILE = ROOT / ".tools" / "podman" / "image-sizes.json"


@pytest.fixture(scope="session")
def podman() -> Podman:
    try:
        ensure("podman")
    except ToolError as error:
        pytest.fail(f"podman cannot be installed, so the images cannot be tested: {error}")
    engine = Podman()
    try:
        engine.check_usable()
        engine.ensure_base()
    except PodmanError as error:
        pytest.fail(f"podman cannot run containers here: {error}")
    return engine


def _build(podman: Podman, dockerfile: str, tag: str, *extra: str) -> str:
    podman.build(ROOT / dockerfile, ROOT, tag, *extra)
    sizes = json.loads(SIZES_FILE.read_text()) if SIZES_FILE.exists() else {}
    sizes[tag] = round(podman.size_mb(tag))
    SIZES_FILE.write_text(json.dumps(sizes, indent=2))
    print(f"{tag}: {sizes[tag]} MB")
    return tag


@pytest.fixture(scope="session")
def runtime_image(podman: Podman) -> str:
    return _build(podman, "Dockerfile.runtime", RUNTIME_IMAGE)


@pytest.fixture(scope="session")
def operator_image(podman: Podman) -> str:
    return _build(podman, "Dockerfile.operator", OPERATOR_IMAGE)


@pytest.fixture(scope="session")
def build_image(podman: Podman):
    return lambda dockerfile, tag, *extra: _build(podman, dockerfile, tag, *extra)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """An HTTP service in a container, reached on a loopback port."""

    def __init__(self, podman: Podman, container: str, port: int, key: str | None) -> None:
        self.podman, self.container, self.port = podman, container, port
        headers = {"Connection": "close"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            state = self.podman.run("inspect", "--format", "{{.State.Status}}", self.container,
                                    check=False).stdout.strip()
            if state in ("exited", "stopped", ""):
                break
            time.sleep(0.5)
        raise AssertionError(f"{self.container} never became ready:\n"
                             f"{self.podman.logs(self.container)[-4000:]}")

    def post(self, body: Any, **headers: str) -> httpx.Response:
        return self.http.post("/inbox", json=body, headers=headers)

    def wait_run(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.http.get(f"/runs/{run_id}").json()
            if run["status"] not in ("queued", "running"):
                return run
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not finish:\n{self.podman.logs(self.container)}")

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def serve(podman: Podman) -> Iterator:
    """serve(image, *podman_run_args, key=…): start a container publishing 8080 on loopback."""
    started: list[Service] = []

    def start(image: str, *args: str, key: str | None = None) -> Service:
        port = free_port()
        container = podman.start("-p", f"127.0.0.1:{port}:8080", *args, image)
        service = Service(podman, container, port, key)
        started.append(service)
        service.wait_ready()
        return service

    yield start
    for service in started:
        service.close()
        podman.remove(service.container)


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path
