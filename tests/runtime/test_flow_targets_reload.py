"""Flow targets from a file that changes under a running upstream, as the operator's ConfigMap
volume does: real runtimes on loopback, no restart of the upstream.

The upstream starts before the file exists (no target yet), then the file names `first`, then
`second` instead: each hand-off goes to the target the file named when the run ended, within
OSC_FLOW_TARGETS_POLL_SECONDS.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_server import API_KEY, JOBS, RuntimeProcess, post_run, wait_run

BEHAVIOURS = {"OSC_JOB_PATH": str(JOBS / "behaviours.js"), "OSC_ADAPTOR": "@openfn/language-common"}
POLL_SECONDS = 0.5


def write_atomically(path: Path, text: str) -> None:
    """The kubelet swaps a volume's files in one rename: a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("reload")
    (root / "flow").mkdir()
    (root / "flow" / "key").write_text(API_KEY)
    started = {name: RuntimeProcess(root / name, BEHAVIOURS | {
        "OSC_JOB_NAME": name, "OSC_TRIGGER": "flow"}).start() for name in ("first", "second")}
    started["fetch"] = RuntimeProcess(root / "fetch", BEHAVIOURS | {
        "OSC_JOB_NAME": "fetch", "OSC_FLOW_TARGETS_PATH": str(root / "flow" / "targets.json"),
        "OSC_FLOW_TARGETS_POLL_SECONDS": str(POLL_SECONDS)}).start()
    started["targets"] = root / "flow" / "targets.json"
    yield started
    for name in ("fetch", "first", "second"):
        started[name].stop()


def point_at(runtimes: dict, name: str) -> None:
    target = {"name": name, "on": "success", "url": f"{runtimes[name].url}/inbox",
              "key_path": str(runtimes["targets"].with_name("key"))}
    write_atomically(runtimes["targets"], json.dumps([target]))


def run_upstream(runtimes: dict) -> str:
    with runtimes["fetch"].client() as client:
        run_id = post_run(client, {"action": "echo"}).json()["run_id"]
        assert wait_run(client, run_id)["status"] == "success"
    return run_id


def callbacks(runtimes: dict, run_id: str) -> list[tuple[str, str]]:
    with runtimes["fetch"].client() as client:
        return [(item["target"], item["status"])
                for item in client.get(f"/runs/{run_id}").json()["callbacks"]]


def upstream_runs(runtime: RuntimeProcess) -> list[str]:
    with runtime.client() as client:
        runs = client.get("/runs", params={"limit": 500}).json()["runs"]
        return [client.get(f"/runs/{run['run_id']}").json()["upstream"] for run in runs]


def wait_until(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_upstream_follows_its_targets_file_without_a_restart(runtimes: dict) -> None:
    pid = runtimes["fetch"].process.pid
    before = run_upstream(runtimes)
    assert callbacks(runtimes, before) == []  # no file yet: no target

    point_at(runtimes, "first")
    time.sleep(3 * POLL_SECONDS)  # the documented bound: one poll interval (here 0.5 s)
    to_first = run_upstream(runtimes)
    wait_until(lambda: callbacks(runtimes, to_first) == [("first", "delivered")],
               "the hand-off to first")
    assert upstream_runs(runtimes["first"]) == [f"fetch/{to_first}"]

    point_at(runtimes, "second")
    time.sleep(3 * POLL_SECONDS)
    to_second = run_upstream(runtimes)
    wait_until(lambda: callbacks(runtimes, to_second) == [("second", "delivered")],
               "the hand-off to second")
    assert upstream_runs(runtimes["second"]) == [f"fetch/{to_second}"]
    assert upstream_runs(runtimes["first"]) == [f"fetch/{to_first}"]  # nothing more for first
    assert runtimes["fetch"].process.pid == pid and runtimes["fetch"].process.poll() is None
    assert "flow targets changed" in runtimes["fetch"].log_text()


def test_a_broken_file_keeps_the_last_targets(runtimes: dict) -> None:
    write_atomically(runtimes["targets"], "[{not json")
    time.sleep(3 * POLL_SECONDS)
    run_id = run_upstream(runtimes)
    wait_until(lambda: callbacks(runtimes, run_id) == [("second", "delivered")],
               "the hand-off to the last good target")
    assert "flow targets not changed: OSC_FLOW_TARGETS_PATH: not valid JSON" in \
        runtimes["fetch"].log_text()
