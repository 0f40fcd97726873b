"""GET /metrics: drive runs through a real runtime and watch the Prometheus counters move."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime_server import API_KEY, JOBS, RuntimeProcess, post_run, wait_run

TOKEN = "metrics-secret-4e7a1c"
Samples = dict[tuple[str, frozenset], float]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    data_dir = tmp_path_factory.mktemp("metrics") / "data"
    process = RuntimeProcess(data_dir, {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "behaviours.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_CREDENTIAL": json.dumps({"token": TOKEN}),
        "OSC_MAX_ATTEMPTS": "2", "OSC_RETRY_BACKOFF_SECONDS": "0", "OSC_CONCURRENCY": "1",
    }).start()
    yield process
    process.stop()


def scrape(runtime: RuntimeProcess) -> tuple[str, Samples]:
    answer = httpx.get(runtime.url + "/metrics", timeout=30)  # no key: scrapers have none
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {(sample.name, frozenset(sample.labels.items())): sample.value
               for family in text_string_to_metric_families(answer.text)
               for sample in family.samples}
    return answer.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_until(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_runs_move_the_counters(runtime: RuntimeProcess) -> None:
    _, before = scrape(runtime)
    started = time.time()
    with runtime.client() as client:
        ok = post_run(client, {"action": "echo", "secret_body_marker": "m-1"}).json()["run_id"]
        bad = post_run(client, {"action": "throw"}).json()["run_id"]
        assert wait_run(client, ok)["status"] == "success"
        assert wait_run(client, bad)["status"] == "dead"  # failed twice: attempts exhausted
        assert client.post("/inbox", content=b"[1,", headers={"Content-Type": "application/json"}
                           ).status_code == 400
    assert httpx.post(runtime.url + "/inbox", json={}).status_code == 401
    text, after = scrape(runtime)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("osc_runs_accepted_total", trigger="webhook") == 2
    assert moved("osc_runs_finished_total", outcome="success") == 1
    assert moved("osc_runs_finished_total", outcome="dead") == 1
    assert moved("osc_run_attempts_total", outcome="success") == 1
    assert moved("osc_run_attempts_total", outcome="failed") == 2
    assert moved("osc_run_retries_total") == 1
    assert moved("osc_run_duration_seconds_count", outcome="success") == 1
    assert moved("osc_run_duration_seconds_count", outcome="failed") == 2
    assert moved("osc_run_duration_seconds_sum", outcome="success") > 0
    assert moved("osc_inbox_requests_total", status="202") == 2
    assert moved("osc_inbox_requests_total", status="400") == 1
    assert moved("osc_inbox_requests_total", status="401") == 1
    assert value(after, "osc_last_success_timestamp_seconds") >= int(started)
    assert value(after, "osc_queue_depth") == 0 and value(after, "osc_runs_in_flight") == 0
    for secret in (API_KEY, TOKEN, "secret_body_marker", "m-1"):
        assert secret not in text


def test_gauges_show_queued_and_running_runs(runtime: RuntimeProcess) -> None:
    with runtime.client() as client:  # one worker: the first sleeps, the second waits
        slow = post_run(client, {"action": "sleep", "ms": 4000}).json()["run_id"]
        queued = post_run(client, {"action": "echo"}).json()["run_id"]
        assert wait_until(lambda: value(scrape(runtime)[1], "osc_runs_in_flight") == 1)
        assert value(scrape(runtime)[1], "osc_queue_depth") == 1
        wait_run(client, slow), wait_run(client, queued)
    _, samples = scrape(runtime)
    assert value(samples, "osc_runs_in_flight") == 0 and value(samples, "osc_queue_depth") == 0
