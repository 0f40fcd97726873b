"""A failed run's `error` starts with the error itself (its type and message, and the job's line
where there is one), in both engines; the stack stays in the run's log. A job that cannot
compile is found at start: /readyz and the inbox answer 503 with the compiler's message."""

from __future__ import annotations

import json

import httpx
import pytest
from echo_server import EchoServer
from runtime_server import RuntimeProcess, post_run, run_count, wait_run

COMMON = "@openfn/language-common"
UNDEFINED_VARIABLE = "fn(state => {\n  const y = 1;\n  return x + y;\n});\n"


def start(tmp_path_factory, engine: str, job: str, adaptor: str = COMMON, *, ready: bool = True,
          **env: str) -> RuntimeProcess:
    return RuntimeProcess(tmp_path_factory.mktemp("errors") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB": job, "OSC_ADAPTOR": adaptor} | env).start(ready=ready)


def failed_run(runtime: RuntimeProcess) -> tuple[dict, str]:
    with runtime.client() as client:
        run = wait_run(client, post_run(client, {"n": 1}).json()["run_id"])
        return run, client.get(f"/runs/{run['run_id']}/log").text


@pytest.mark.parametrize(("job", "error"), [
    # the job's own line and column (of the statement that threw), in both engines
    (UNDEFINED_VARIABLE, "ReferenceError: x is not defined (line 3, col 3)"),
    ("fn(state => {\n  return JSON.parse('{oops');\n});\n", "SyntaxError: "),
])  # fmt: skip
def test_a_runtime_error_is_named_with_its_type(tmp_path_factory, engine: str, job: str,
                                               error: str) -> None:
    runtime = start(tmp_path_factory, engine, job)
    try:
        run, log = failed_run(runtime)
    finally:
        runtime.stop()
    assert run["status"] == "failed" and run["exit_code"] == 1
    assert run["error"].startswith(error), run["error"]
    assert "\n" not in run["error"] and "    at " in log  # the stack is in the log only


def test_an_http_500_names_the_request_that_failed(tmp_path_factory, engine: str) -> None:
    with EchoServer(status=500) as server:
        runtime = start(tmp_path_factory, engine, "post('/records', $.data);",
                        "@openfn/language-http", OSC_CREDENTIAL=json.dumps({"baseUrl": server.url}))
        try:
            run, log = failed_run(runtime)
        finally:
            runtime.stop()
    assert run["status"] == "failed"
    # the baseUrl is part of the credential, so it is masked as every credential value is
    expected = "Error: POST to ***/records returned 500: Internal Server Error"
    assert run["error"].startswith(expected), run["error"]
    assert "dist/util." in log  # the stack (in language-common) stays in the log


@pytest.mark.parametrize(("job", "message"), [
    ("fn(state => state.data\n", "SyntaxError: Unexpected token (2:0)"),
    ("fn(state => state);\nlaunch(1);\n", "Function not available: launch (line 2)"),
    ("const total = $.data.total;\nfn(state => state);\n",
     "Lazy State Error: Must be inside an operation (1:14)"),
])  # fmt: skip
def test_a_job_that_does_not_compile_is_refused_at_start(tmp_path_factory, engine: str,
                                                         job: str, message: str) -> None:
    runtime = start(tmp_path_factory, engine, job, ready=False)
    try:
        runtime.wait_for("/healthz", 60)
        ready = wait_not_pending(runtime)
        with runtime.client() as client:
            refused = post_run(client, {"n": 1})
            runs = run_count(client)
            described = client.get("/job").json()
    finally:
        runtime.stop()
    assert ready.status_code == 503 and ready.json()["reason"] == f"job invalid: {message}"
    assert ready.json()["checks"]["job"] == "invalid"
    assert refused.status_code == 503 and message in refused.json()["error"], refused.text
    assert runs == 0  # nothing was queued that could only fail
    assert described["ready"] is False and message in described["reason"]


def wait_not_pending(runtime: RuntimeProcess, timeout: float = 60) -> httpx.Response:
    import time

    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(runtime.url + "/readyz", timeout=5)
        if response.json()["checks"]["job"] != "ok" or response.status_code == 200:
            return response
        if time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_with_on_invalid_job_exit_the_message_becomes_the_termination_message(
        tmp_path_factory, engine: str) -> None:
    # What the operator's pods do: Kubernetes keeps the file as the container's last state.
    message_file = tmp_path_factory.mktemp("termination") / "termination-log"
    runtime = start(tmp_path_factory, engine, "fn(state => state.data\n", ready=False,
                    OSC_ON_INVALID_JOB="exit", OSC_TERMINATION_MESSAGE_PATH=str(message_file))
    try:
        code = runtime.process.wait(60)
    finally:
        runtime.stop()
    assert code == 3
    assert message_file.read_text() == "job invalid: SyntaxError: Unexpected token (2:0)"
