"""Fixtures for the runtime tests: real runtimes under real uvicorn, real node and OpenFn core.

ENGINES lists the engines every job-running test runs on (OSC_ENGINE).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_server import JOBS, REPO, RuntimeProcess  # noqa: E402

ENGINES = ["core", "warm"]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def start_runtime(tmp_path_factory: pytest.TempPathFactory, engine: str, name: str,
                  **env: str) -> RuntimeProcess:
    data_dir = tmp_path_factory.mktemp(name) / "data"
    return RuntimeProcess(data_dir, {"OSC_ENGINE": engine} | env).start()


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    """The examples/hello job, as `make run` serves it."""
    runtime = start_runtime(
        tmp_path_factory, engine, "hello",
        OSC_JOB_PATH=str(REPO / "examples/hello/job.js"), OSC_ADAPTOR="@openfn/language-common",
    )
    yield runtime
    runtime.stop()


@pytest.fixture(scope="module")
def behaviours(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    """A job that does what the payload's `action` says: throw, hang, sleep, echo."""
    runtime = start_runtime(
        tmp_path_factory, engine, "behaviours",
        OSC_JOB_PATH=str(JOBS / "behaviours.js"), OSC_ADAPTOR="@openfn/language-common",
        OSC_RUN_TIMEOUT_SECONDS="8", OSC_CONCURRENCY="2",
    )
    yield runtime
    runtime.stop()
