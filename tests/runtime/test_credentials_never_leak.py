"""A credential planted in the job's configuration never shows up anywhere a user can look."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from runtime_server import API_KEY, JOBS, RuntimeProcess, post_run

TOKEN = "planted-token-7c1f9e2a"
PASSWORD = "planted-password-b83d"
CREDENTIAL = {"token": TOKEN, "nested": {"password": PASSWORD}, "baseUrl": "http://127.0.0.1:9"}
SECRETS = [TOKEN.encode(), PASSWORD.encode()]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, engine: str) -> RuntimeProcess:
    """A runtime whose inbox waits for the run (OSC_ENDPOINT_STYLE=sync)."""
    data_dir = tmp_path_factory.mktemp("guarded") / "data"
    runtime = RuntimeProcess(data_dir, {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "behaviours.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_CREDENTIAL": json.dumps(CREDENTIAL),
        "OSC_ENDPOINT_STYLE": "sync", "OSC_RUN_TIMEOUT_SECONDS": "6",  # room for a loaded machine
    }).start()
    yield runtime
    runtime.stop()


def test_sync_style_answers_201_with_the_final_state(guarded: RuntimeProcess) -> None:
    with guarded.client() as client:
        answer = post_run(client, {"action": "echo", "n": 1})
        assert answer.status_code == 201, answer.text
        final_state = answer.json()["final_state"]
        # The job passes its state on: state.request comes along, without the API key.
        assert final_state["data"] == {"echoed": {"action": "echo", "n": 1}}
        assert set(final_state) == {"data", "request"} and final_state["request"]["method"] == "POST"
        assert API_KEY not in json.dumps(final_state)
        assert answer.headers["location"] == f"/runs/{answer.json()['run_id']}"


def test_sync_style_answers_502_for_a_failing_job(guarded: RuntimeProcess) -> None:
    with guarded.client() as client:
        answer = post_run(client, {"action": "throw"})
        assert answer.status_code == 502, answer.text
        assert answer.json()["status"] == "failed" and "on purpose" in answer.json()["error"]
        timed_out = post_run(client, {"action": "sleep", "ms": 60_000})
        assert timed_out.status_code == 502 and timed_out.json()["status"] == "timed_out"


def test_sync_false_still_answers_202(guarded: RuntimeProcess) -> None:
    with guarded.client() as client:
        answer = post_run(client, {"action": "echo"}, sync="false")
        assert answer.status_code == 202 and answer.json()["status"] == "queued"


def test_the_credential_never_appears_in_answers_logs_or_files(guarded: RuntimeProcess) -> None:
    answers: list[httpx.Response] = []
    with guarded.client() as client:
        for action in ("leak", "leak-throw", "throw", "echo", "hang"):
            answers.append(post_run(client, {"action": action}))
        assert [answer.status_code for answer in answers[:2]] == [201, 502]
        run_ids = [answer.json()["run_id"] for answer in answers]
        for run_id in run_ids:
            answers += [client.get(f"/runs/{run_id}"), client.get(f"/runs/{run_id}/log")]
        answers.append(client.get("/runs", params={"limit": 500}))
        leaked = answers[0].json()["final_state"]["data"]["copied"]
        leak_log = client.get(f"/runs/{run_ids[0]}/log").text
    assert leaked["nested"]["password"] == "***" and leaked["token"] == "***"
    # The job really printed the configuration: the log shows it masked.
    assert "configuration is" in leak_log and "***" in leak_log
    for answer in answers:
        assert not any(secret in answer.content for secret in SECRETS), answer.text
    guarded.stop()  # so the store's WAL is flushed and every file is final
    files = [path for path in guarded.data_dir.rglob("*") if path.is_file()] + [guarded.output]
    assert any(path.suffix == ".log" for path in files) and any(path.name == "runs.db" for path in files)
    for path in files:
        content = Path(path).read_bytes()
        assert not any(secret in content for secret in SECRETS), path
    assert not list((guarded.data_dir / "work").glob("*.json")), "state/output files left behind"
