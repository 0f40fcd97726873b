"""Bad requests to the inbox get a clear JSON 4xx and create no run."""

from __future__ import annotations

import time

import httpx
import pytest

from runtime_server import API_KEY, RuntimeProcess, post_run, run_count

JSON = {"Content-Type": "application/json"}
BAD_REQUESTS = {
    "no key": ({}, JSON, b'{"a": 1}', 401),
    "wrong bearer key": ({"Authorization": "Bearer wrong"}, JSON, b'{"a": 1}', 401),
    "wrong X-API-Key": ({"X-API-Key": "wrong"}, JSON, b'{"a": 1}', 401),
    "key of another scheme": ({"Authorization": f"Basic {API_KEY}"}, JSON, b'{"a": 1}', 401),
    "not JSON": (None, {"Content-Type": "text/plain"}, b'{"a": 1}', 415),
    "no content type": (None, {}, b'{"a": 1}', 415),
    "a file upload": (None, {"Content-Type": "multipart/form-data; boundary=B"},
                      b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\n'
                      b"x\r\n--B--\r\n", 415),
    "malformed XML": (None, {"Content-Type": "application/xml"}, b"<a><b></a>", 400),
    "malformed JSON": (None, JSON, b'{"a": ', 400),
    "empty body": (None, JSON, b"", 400),
    "a scalar": (None, JSON, b"42", 400),
    "a string": (None, JSON, b'"hello"', 400),
    "null": (None, JSON, b"null", 400),
    "too large": (None, JSON, b'{"a": "' + b"x" * 70_000 + b'"}', 413),
}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> RuntimeProcess:
    data_dir = tmp_path_factory.mktemp("inbox") / "data"
    runtime = RuntimeProcess(data_dir, {
        "OSC_JOB": "fn(state => state);", "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_MAX_BODY_BYTES": "65536",
    }).start(ready=False)
    yield runtime
    runtime.stop()


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_bad_request_gets_its_4xx_and_creates_no_run(inbox: RuntimeProcess, case: str) -> None:
    auth, headers, body, expected = BAD_REQUESTS[case]
    auth = {"Authorization": f"Bearer {API_KEY}"} if auth is None else auth
    with inbox.client() as client:
        before = run_count(client)
        answer = httpx.post(f"{inbox.url}/inbox", headers=auth | headers, content=body)
        assert answer.status_code == expected, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]
        if expected == 401:
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert run_count(client) == before


def test_both_key_headers_are_accepted(inbox: RuntimeProcess) -> None:
    for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}):
        answer = httpx.post(f"{inbox.url}/inbox", headers=headers, json=[1, 2])
        assert answer.status_code == 202, answer.text


def test_the_runs_api_needs_the_key_and_the_probes_do_not(inbox: RuntimeProcess) -> None:
    assert httpx.get(f"{inbox.url}/runs").status_code == 401
    assert httpx.get(f"{inbox.url}/runs/{'0' * 32}").status_code == 401
    assert httpx.get(f"{inbox.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{inbox.url}/readyz").status_code in (200, 503)
    assert httpx.get(f"{inbox.url}/openapi.json").json()["paths"]["/inbox"]
    assert httpx.get(f"{inbox.url}/docs").status_code == 200


def test_an_unknown_run_is_404(inbox: RuntimeProcess) -> None:
    with inbox.client() as client:
        for run_id in ("0" * 32, "nope", "..%2f..%2fetc%2fpasswd"):
            answer = client.get(f"/runs/{run_id}")
            assert answer.status_code == 404 and answer.json()["error"], run_id
        assert client.get(f"/runs/{'0' * 32}/log").status_code == 404


def test_an_auth_failure_is_logged_without_the_presented_key(inbox: RuntimeProcess) -> None:
    presented = "presented-key-5ee1c0"
    for headers in ({"Authorization": f"Bearer {presented}"}, {"X-API-Key": presented}):
        assert httpx.post(f"{inbox.url}/inbox", headers=headers, json={}).status_code == 401
    assert httpx.get(f"{inbox.url}/runs", headers={"X-API-Key": presented}).status_code == 401
    log = inbox.log_text()
    assert "authentication failed" in log
    assert presented not in log and API_KEY not in log


def test_the_trigger_header_names_how_a_run_arrived(inbox: RuntimeProcess) -> None:
    with inbox.client() as client:
        assert post_run(client, {}).json()["trigger"] == "webhook"
        cron = client.post("/inbox", json={}, headers={"X-OSC-Trigger": "cron"})
        assert cron.status_code == 202 and cron.json()["trigger"] == "cron"
        assert client.get(cron.headers["location"]).json()["trigger"] == "cron"


def test_auth_none_lets_every_caller_in(tmp_path) -> None:
    runtime = RuntimeProcess(tmp_path / "data", {
        "OSC_JOB": "fn(state => state);", "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_AUTH": "none", "OSC_API_KEYS": "",
    }).start(ready=False)
    try:
        answer = httpx.post(f"{runtime.url}/inbox", json={"open": True})
        assert answer.status_code == 202
        assert httpx.get(f"{runtime.url}{answer.headers['location']}").status_code == 200
    finally:
        runtime.stop()


def test_readyz_names_what_is_missing_and_runs_wait_meanwhile(tmp_path) -> None:
    runtime = RuntimeProcess(tmp_path / "data", {
        "OSC_JOB": "fn(state => state);", "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_NODE_BINARY": str(tmp_path / "no-such-node"),
    }).start(ready=False)
    try:
        with runtime.client() as client:
            accepted = post_run(client, {"waits": True})
            assert accepted.status_code == 202
            deadline = time.monotonic() + 30
            while (ready := httpx.get(f"{runtime.url}/readyz")).json()["checks"]["adaptor"] == "pending":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert ready.status_code == 503 and "node" in ready.json()["reason"]
            assert client.get(accepted.headers["location"]).json()["status"] == "queued"
    finally:
        runtime.stop()
