"""Processes a job leaves behind end with its run, and with the runtime, on both engines.

The job (jobs/escapees.js) uses a test adaptor (adaptors/language-spawn, installed into the
runtime's adaptors dir as npm would) that starts a node child with `detached: true` holding
the run's output pipes, and `setsid sleep` orphans whose shell exits at once, one of them with
an empty environment. Before, the detached child kept the pipes open until the timeout (the
run ended `timed_out` although the job had finished) and all of them outlived the run and a
SIGTERM of the runtime.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_server import JOBS, RuntimeProcess, post_run, wait_run

ADAPTOR = Path(__file__).resolve().parent / "adaptors" / "language-spawn"
NAME, VERSION = "@osc-test/language-spawn", "1.0.0"


def install_test_adaptor(adaptors_dir: Path) -> None:
    folder = adaptors_dir / NAME / VERSION
    shutil.copytree(ADAPTOR, folder / "node_modules" / NAME)
    (folder / ".osc-installed.json").write_text(json.dumps({"name": NAME, "version": VERSION}))


def escapee_runtime(tmp_path: Path, engine: str, **env: str) -> RuntimeProcess:
    install_test_adaptor(tmp_path / "adaptors")
    return RuntimeProcess(tmp_path / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "escapees.js"),
        "OSC_ADAPTOR": f"{NAME}@{VERSION}", "OSC_ADAPTORS_DIR": str(tmp_path / "adaptors"),
        "OSC_ADAPTOR_INSTALL": "never", "OSC_RUN_TIMEOUT_SECONDS": "15",  # room for a busy host
    } | env).start()


@pytest.fixture(scope="module")
def escapees(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = escapee_runtime(tmp_path_factory.mktemp("escapees"), engine)
    yield runtime
    runtime.stop()


def new_marks() -> dict[str, str]:
    number = random.randrange(10**6)
    return {"tag": f"osc-escapee-{number}", "seconds": f"1000.{number:06d}"}


def processes_with(marks: dict[str, str]) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marks["tag"] in text or marks["seconds"] in text:
            found.append(f"{cmdline.parent.name}: {text}")
    return found


def wait_until_gone(marks: dict[str, str], seconds: float = 10) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(marks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize(("then", "status"), [
    ("return", "success"), ("throw", "failed"), ("hang", "timed_out")])
def test_what_a_run_started_ends_with_it_and_its_status_is_the_jobs_own(
        escapees: RuntimeProcess, then: str, status: str) -> None:
    marks = new_marks()
    with escapees.client() as client:
        run_id = post_run(client, {**marks, "then": then}).json()["run_id"]
        run = wait_run(client, run_id, timeout=60)
    assert run["status"] == status, run
    if status == "success":  # decided by the job's end, not by the timeout of a pipe holder
        assert run["final_state"]["data"] == {"finished": marks["tag"]}
    assert not wait_until_gone(marks), processes_with(marks)


def test_what_a_run_started_ends_when_the_runtime_is_stopped(tmp_path: Path, engine: str) -> None:
    runtime = escapee_runtime(tmp_path, engine, OSC_RUN_TIMEOUT_SECONDS="120",
                              OSC_SHUTDOWN_GRACE_SECONDS="1")
    marks = new_marks()
    try:
        with runtime.client() as client:
            post_run(client, {**marks, "then": "hang"})
        deadline = time.monotonic() + 30
        while len(processes_with(marks)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(processes_with(marks)) >= 3, processes_with(marks)  # they really started
    finally:
        assert runtime.stop(signal.SIGTERM) == 0
    assert not wait_until_gone(marks, 5), processes_with(marks)
