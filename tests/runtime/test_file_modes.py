"""The run store and run logs are readable by the runtime's user only (mode 0600).

They hold every run's input, final state and output. A real runtime runs a real job under the
umask most images have (022, which would leave them world-readable), and the files are checked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_server import REPO, RuntimeProcess, post_run, wait_run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The runtime process inherits the test's umask."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_runs_db_its_wal_and_run_logs_are_0600(tmp_path: Path, umask_022: None) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, {"OSC_JOB_PATH": str(REPO / "examples/hello/job.js"),
                                    "OSC_ADAPTOR": "@openfn/language-common"}).start()
    try:
        with runtime.client() as client:
            run_id = post_run(client, {"name": "Ada"}).json()["run_id"]
            assert wait_run(client, run_id)["status"] == "success"
        files = [data / "runs.db", data / "runs.db-wal", data / "runs.db-shm",
                 data / "runs" / f"{run_id}.log"]
        assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
        assert mode(data / "runs") == 0o700
    finally:
        runtime.stop()


def test_files_an_older_version_left_readable_are_narrowed(tmp_path: Path,
                                                             umask_022: None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "runs.db").touch()
    os.chmod(data / "runs.db", 0o644)
    runtime = RuntimeProcess(data, {"OSC_JOB_PATH": str(REPO / "examples/hello/job.js"),
                                    "OSC_ADAPTOR": "@openfn/language-common"}).start()
    try:
        assert mode(data / "runs.db") == 0o600
    finally:
        runtime.stop()
