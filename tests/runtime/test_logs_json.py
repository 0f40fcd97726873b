"""stdout of a real runtime: JSON lines only, run events with the run id, access lines as JSON,
job output echoed with OSC_LOG_JOB_OUTPUT=true, and a planted credential nowhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from osc_runtime.logs import QuickLogger, configure_logging

from runtime_server import API_KEY, JOBS, RuntimeProcess, post_run, wait_run

TOKEN = "logs-planted-token-91c2"
PASSWORD = "logs-planted-password-0d4f"
CREDENTIAL = {"token": TOKEN, "nested": {"password": PASSWORD}}


def start(tmp_path_factory: pytest.TempPathFactory, engine: str, name: str,
          **env: str) -> RuntimeProcess:
    data_dir = tmp_path_factory.mktemp(name) / "data"
    return RuntimeProcess(data_dir, {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "behaviours.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_JOB_NAME": name,
        "OSC_CREDENTIAL": json.dumps(CREDENTIAL), "OSC_MAX_ATTEMPTS": "2",
        "OSC_RETRY_BACKOFF_SECONDS": "0",
    } | env).start()


@pytest.fixture(scope="module")
def echoing(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = start(tmp_path_factory, engine, "echoing", OSC_LOG_JOB_OUTPUT="true")
    yield runtime
    runtime.stop()


def run_all(runtime: RuntimeProcess, *bodies: dict) -> list[dict]:
    with runtime.client() as client:
        ids = [post_run(client, body).json()["run_id"] for body in bodies]
        return [wait_run(client, run_id) for run_id in ids]


def stdout_lines(runtime: RuntimeProcess) -> list[dict]:
    runtime.stop()  # every line written and flushed
    lines = [line for line in runtime.log_text().splitlines() if line.strip()]
    assert lines
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    return parsed


def test_stdout_is_json_with_run_events_and_no_credential(echoing: RuntimeProcess) -> None:
    leak, thrown = run_all(echoing, {"action": "leak"}, {"action": "leak-throw"})
    assert leak["status"] == "success" and thrown["status"] == "dead"
    lines = stdout_lines(echoing)
    for secret in (TOKEN, PASSWORD, API_KEY):
        assert secret not in echoing.log_text()

    def events(run_id: str, event: str) -> list[dict]:
        return [line for line in lines if line.get("run_id") == run_id and line.get("event") == event]

    [accepted] = events(leak["run_id"], "run_accepted")
    [started] = events(leak["run_id"], "run_started")
    [finished] = events(leak["run_id"], "run_finished")
    assert accepted["job"] == started["job"] == finished["job"] == "echoing"
    assert accepted["trigger"] == "webhook" and started["attempt"] == 1
    assert finished["outcome"] == "success" and finished["status"] == "success"
    assert finished["duration_seconds"] >= 0

    # The failing run: a retry event for attempt 1, then the final one for attempt 2.
    [retrying] = events(thrown["run_id"], "run_retrying")
    [final] = events(thrown["run_id"], "run_finished")
    assert (retrying["attempt"], final["attempt"]) == (1, 2)
    assert final["outcome"] == "failed" and final["status"] == "dead" and "***" in final["error"]

    # Job output, echoed line by line with its run id, the credential masked.
    output = [line["message"] for line in events(leak["run_id"], "job_output")]
    assert any("configuration is" in line and "***" in line for line in output), output

    access = [line for line in lines if line.get("event") == "http_request"]
    assert any(line["method"] == "POST" and line["path"] == "/inbox" and line["status_code"] == 202
               for line in access)
    assert all(line["logger"] == "uvicorn.access" for line in access)


def test_job_output_stays_in_the_run_log_by_default(
        tmp_path_factory: pytest.TempPathFactory, engine: str) -> None:
    runtime = start(tmp_path_factory, engine, "quiet")
    try:
        [leak] = run_all(runtime, {"action": "leak"})
        with runtime.client() as client:
            run_log = client.get(f"/runs/{leak['run_id']}/log").text
    finally:
        lines = stdout_lines(runtime)
    assert "configuration is" in run_log and TOKEN not in run_log
    assert not [line for line in lines if line.get("event") == "job_output"]
    assert not any("configuration is" in line["message"] for line in lines)
    assert any(line.get("event") == "run_finished" for line in lines)


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """configure_logging's handler writing to a buffer; the test process's logging put back."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))
    configure_logging("quick", hidden_query_params=frozenset({"api_token"}))
    buffer = io.StringIO()
    root.handlers[0].stream = buffer  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def test_quick_lines_are_the_lines_logging_writes(configured: io.StringIO) -> None:
    access = ('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5555", "POST", "/inbox?api_token=k3y&x=1",
              "1.1", 202)
    event = {"event": "run_accepted", "run_id": "0" * 32, "attempt": 1, "trigger": "webhook"}
    logging.getLogger("uvicorn.access").info(*access)
    QuickLogger("uvicorn.access").info(*access)
    logging.getLogger("osc_runtime.runs").info("run accepted", extra=event)
    QuickLogger("osc_runtime.runs").info("run accepted", extra=event)
    logging.getLogger().handlers[0].flush()
    lines = [json.loads(line) for line in configured.getvalue().splitlines()]
    assert lines[0] == lines[1] and lines[2] == lines[3]
    assert lines[1]["path"] == "/inbox?api_token=***&x=1" and "k3y" not in configured.getvalue()
    assert lines[1]["status_code"] == 202 and lines[3]["job"] == "quick"


def test_quick_lines_reach_any_other_handler_and_respect_the_level(configured: io.StringIO) -> None:
    seen: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger("osc_runtime").addHandler(collector)
    try:
        QuickLogger("osc_runtime.runs").info("run accepted", extra={"run_id": "1" * 32})
    finally:
        logging.getLogger("osc_runtime").removeHandler(collector)
    assert [record.run_id for record in seen] == ["1" * 32]  # type: ignore[attr-defined]
    logging.getLogger().setLevel(logging.WARNING)
    QuickLogger("osc_runtime.runs").info("run accepted", extra={"run_id": "2" * 32})
    logging.getLogger().handlers[0].flush()
    assert "1" * 32 in configured.getvalue() and "2" * 32 not in configured.getvalue()
