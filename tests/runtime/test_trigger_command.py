"""`python -m osc_runtime trigger` (the CronJob's command) and cron state carry-over, against a
real runtime over loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_server import API_KEY, JOBS, REPO, RuntimeProcess, free_port, wait_run

TOKEN = "cron-token-5f1e2d"
NEW_TOKEN = "rotated-cron-token-88a0c41b"


@pytest.fixture(scope="module")
def cron_job(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    data_dir = tmp_path_factory.mktemp("cron") / "data"
    runtime = RuntimeProcess(data_dir, {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "cursor.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_TRIGGER": "cron",
        "OSC_CREDENTIAL": json.dumps({"token": TOKEN}),
    }).start()
    yield runtime
    runtime.stop()


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "api-key"
    path.write_text(API_KEY + "\n")
    path.chmod(0o400)
    return path


def trigger(url: str, key_path: Path, body: str | None = None) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OSC_")}
    env |= {"OSC_TRIGGER_URL": url, "OSC_TRIGGER_KEY_PATH": str(key_path)}
    if body is not None:
        env["OSC_TRIGGER_BODY"] = body
    return subprocess.run([sys.executable, "-m", "osc_runtime", "trigger"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def tick(runtime: RuntimeProcess, key_file: Path, body: str) -> dict:
    done = trigger(runtime.url + "/inbox", key_file, body)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    with runtime.client() as client:
        return wait_run(client, run_id)


def test_trigger_exits_0_when_the_inbox_accepts(cron_job: RuntimeProcess, key_file: Path) -> None:
    done = trigger(cron_job.url + "/inbox", key_file)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    with cron_job.client() as client:
        run = wait_run(client, run_id)
    assert run["trigger"] == "cron" and run["status"] == "success"


def test_trigger_fails_with_one_line(cron_job: RuntimeProcess, key_file: Path,
                                     tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-key"
    wrong.write_text("not-the-key")
    refused = trigger(cron_job.url + "/inbox", wrong)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "answered 401" in refused.stderr
    assert "not-the-key" not in refused.stderr + refused.stdout

    down = trigger(f"http://127.0.0.1:{free_port()}/inbox", key_file)
    assert down.returncode == 1
    assert down.stderr.count("\n") == 1 and "cannot reach the inbox" in down.stderr

    not_found = trigger(cron_job.url + "/no-such-inbox", key_file)
    assert not_found.returncode == 1 and "answered 404" in not_found.stderr

    missing_key = trigger(cron_job.url + "/inbox", tmp_path / "absent")
    assert missing_key.returncode == 2 and "OSC_TRIGGER_KEY_PATH" in missing_key.stderr
    bad_body = trigger(cron_job.url + "/inbox", key_file, body="[1,")
    assert bad_body.returncode == 2 and "OSC_TRIGGER_BODY" in bad_body.stderr


def test_cron_ticks_carry_state_over(cron_job: RuntimeProcess, key_file: Path) -> None:
    first = tick(cron_job, key_file, '{"start": 5}')
    assert first["status"] == "success", first
    # An earlier test's tick may have succeeded already: then this one went on from there.
    cursor = first["final_state"]["data"]["cursor"]
    assert first["final_state"]["tokenLength"] == len(TOKEN)
    assert "configuration" not in first["final_state"]

    second = tick(cron_job, key_file, '{"start": 100}')  # a later tick's body is ignored
    assert second["final_state"]["data"]["cursor"] == cursor + 1
    assert second["final_state"]["ticks"] == first["final_state"]["ticks"] + 1

    # A webhook run is not a tick: it starts from its own body.
    with cron_job.client() as client:
        webhook = client.post("/inbox", json={"start": 40}).json()
        assert wait_run(client, webhook["run_id"])["final_state"]["data"]["cursor"] == 41


def test_carry_over_survives_a_restart_with_the_current_credential(
        cron_job: RuntimeProcess, key_file: Path) -> None:
    before = tick(cron_job, key_file, "{}")["final_state"]
    cron_job.stop()
    cron_job.env["OSC_CREDENTIAL"] = json.dumps({"token": NEW_TOKEN})
    cron_job.start()
    after = tick(cron_job, key_file, "{}")["final_state"]
    assert after["data"]["cursor"] == before["data"]["cursor"] + 1
    assert after["tokenLength"] == len(NEW_TOKEN)  # the credential of now, not a stored one
    cron_job.stop()
    for path in [*cron_job.data_dir.rglob("*"), cron_job.output]:
        if path.is_file():
            content = path.read_bytes()
            assert TOKEN.encode() not in content and NEW_TOKEN.encode() not in content, path
