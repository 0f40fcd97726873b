"""Fixtures for the runtime tests: real runtimes under real uvicorn, real node and OpenFn core.

ENGINES lists the engines every job-running test runs on (OSC_ENGINE); `backend` runs a store
test on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_server import PostgresServer  # noqa: E402
from runtime_server import JOBS, REPO, RuntimeProcess  # noqa: E402

from osc_runtime.store import RunStore  # noqa: E402
from osc_runtime.store.postgres import PostgresRunStore  # noqa: E402
from osc_runtime.trigger_store import TriggerStore  # noqa: E402

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


# The run store on both its databases: SQLite (the data dir's file) and PostgreSQL (a throwaway
# server for the session, a fresh database for each test).

@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().init()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


class StoreBackend:
    """Opens run and trigger stores on one database; opening again shows what was committed."""

    def __init__(self, kind: str, where: Path | str) -> None:
        self.kind, self.where = kind, where
        self._opened: list = []

    def runs(self, clock=time.time, **options):  # noqa: ANN001, ANN201
        if self.kind == "sqlite":
            store = RunStore(self.where, clock)
        else:
            store = PostgresRunStore(self.where, clock, **options)
        self._opened.append(store)
        return store

    def triggers(self, runs, clock=time.time) -> TriggerStore:  # noqa: ANN001
        store = (TriggerStore(self.where, clock) if self.kind == "sqlite"
                 else TriggerStore(runs.database, clock, shared=True))
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in reversed(self._opened):
            store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    if request.param == "sqlite":
        opened = StoreBackend("sqlite", tmp_path / "runs.db")
    else:
        opened = StoreBackend("postgres", request.getfixturevalue("postgres_url"))
    yield opened
    opened.close()
