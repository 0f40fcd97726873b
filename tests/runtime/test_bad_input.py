"""Hostile and broken requests: always a 4xx with a JSON error, never a 5xx; accepted runs go on.

Also a bounded property-based run of schemathesis against the runtime's own OpenAPI schema.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from runtime_server import API_KEY, RuntimeProcess, post_run, wait_run

AUTH = {"Authorization": f"Bearer {API_KEY}"}
JSON = AUTH | {"Content-Type": "application/json"}
RUN_ID = "0123456789abcdef0123456789abcdef"
EXAMPLES = 20  # per operation: bounded, so `make test` stays quick

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                             for n in range(1, 10))
                  + b"]><lolz>&lol9;</lolz>")
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b"<r>&x;</r>")
FILE_PART = (b'--B\r\nContent-Disposition: form-data; name="upload"; filename="a.csv"\r\n'
             b"Content-Type: text/csv\r\n\r\na,b\r\n--B--\r\n")

# (method, path, headers, body, expected status)
CORPUS = [
    ("POST", "/inbox", JSON, b"[" * 50_000 + b"]" * 50_000, 400),
    ("POST", "/inbox", JSON, b'{"a":' * 101 + b"1" + b"}" * 101, 400),
    ("POST", "/inbox", JSON, b'{"a": "' + b"x" * 300_000 + b'"}', 413),
    ("POST", "/inbox", JSON, b'{"a": "\xff\xfe\xc3"}', 400),
    ("POST", "/inbox", JSON, b'{"a": 1, "a": 2}', 400),
    ("POST", "/inbox", JSON, b'{"a": Infinity}', 400),
    ("POST", "/inbox", JSON, b'{"a": 1} trailing', 400),
    ("POST", "/inbox", JSON, b"\x00\x01\x02", 400),
    # JSON that parses but cannot be stored or handed to a job
    ("POST", "/inbox", JSON, b'{"a": "\\ud800"}', 400),
    ("POST", "/inbox", JSON, b'{"\\udbff": "key"}', 400),
    ("POST", "/inbox", JSON, b'[{"x": ["ok", "\\udc00\\ud800"]}]', 400),
    ("POST", "/inbox", JSON, b'{"a": 1e400}', 400),
    ("POST", "/inbox", JSON, b'{"a": -1E999999999999}', 400),
    ("POST", "/inbox", JSON, b'{"a": ' + b"7" * 5000 + b"}", 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/json; charset=utf-16"},
     '{"a": 1}'.encode("utf-16"), 400),
    ("POST", "/inbox", AUTH | {"Content-Type": b"application/json\xff"}, b"{}", 415),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/pdf"}, b"%PDF-1.7", 415),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/xml"}, BILLION_LAUGHS, 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "text/xml"}, EXTERNAL_ENTITY, 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/soap+xml"}, b"<a><b></a>", 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/xml"}, b"<a>" * 500 + b"</a>" * 500, 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/x-www-form-urlencoded"}, b"a=%ff", 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "multipart/form-data; boundary=B"}, FILE_PART, 415),
    ("POST", "/inbox", AUTH | {"Content-Type": "multipart/form-data"}, FILE_PART, 400),
    ("POST", "/inbox", AUTH | {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"\x1f\x8b", 400),
    ("POST", "/inbox", JSON | {"Idempotency-Key": "has space"}, b"{}", 422),
    ("POST", "/inbox", JSON | {"X-OSC-Trigger": "../../etc"}, b"{}", 422),
    ("POST", "/inbox", JSON | {"Idempotency-Key": b"\xff\xfe\xed"}, b"{}", 422),
    ("POST", "/inbox", JSON | {"Idempotency-Key": "k" * 256}, b"{}", 422),
    ("POST", "/inbox", JSON | {"X-OSC-Upstream": b"job/\xc3\x28"}, b"{}", 422),
    ("POST", "/inbox", {"Authorization": b"Bearer \xff\xfe", "Content-Type": "application/json"}, b"{}", 401),
    ("POST", "/inbox?sync=perhaps", JSON, b"{}", 422),
    ("POST", "/inbox", {"Authorization": "Bearer " + "k" * 8000, "Content-Type": "application/json"}, b"{}", 401),
    ("POST", "/inbox", {"Authorization": "Bearer", "Content-Type": "application/json"}, b"{}", 401),
    ("GET", "/inbox", AUTH, b"", 405),
    ("PUT", "/inbox", JSON, b"{}", 405),
    ("DELETE", "/runs", AUTH, b"", 405),
    ("PATCH", f"/runs/{RUN_ID}", JSON, b"{}", 405),
    ("GET", f"/runs/{RUN_ID}/retry", AUTH, b"", 405),
    ("GET", "/runs/..%2F..%2Fetc%2Fpasswd", AUTH, b"", 404),
    ("GET", "/runs/%2e%2e", AUTH, b"", 404),
    ("GET", f"/runs/{RUN_ID}%00", AUTH, b"", 404),
    ("GET", f"/runs/{RUN_ID.upper()}", AUTH, b"", 404),
    ("GET", "/runs/" + "a" * 5000, AUTH, b"", 404),
    ("GET", "/runs/%ff%fe/log", AUTH, b"", 404),
    ("POST", "/runs/..%2Fhealthz/retry", AUTH, b"", 404),
    ("GET", "/runs?limit=-1", AUTH, b"", 422),
    ("GET", "/runs?limit=1e99", AUTH, b"", 422),
    ("GET", "/runs?cursor=99999999999999999999999999", AUTH, b"", 400),
    ("GET", "/runs?status=success,%00", AUTH, b"", 400),
    ("GET", "/runs?status=%ed%a0%80", AUTH, b"", 400),
    ("GET", "/runs?cursor=%ed%a0%80", AUTH, b"", 400),
    ("GET", "/runs?cursor=1e400", AUTH, b"", 400),
    ("GET", "/runs?limit=" + "9" * 5000, AUTH, b"", 422),
    ("GET", "/runs/%ed%a0%80", AUTH, b"", 404),
    ("GET", "/runs", AUTH | {f"X-Flood-{n}": "v" * 40 for n in range(500)}, b"", 431),
    ("GET", "/runs", AUTH | {"X-Huge": "v" * 100_000}, b"", 431),
    ("GET", "/nowhere", AUTH, b"", 404),
]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("bad-input") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB": "fn(state => ({ ...state, data: { seen: state.data } }));",
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_MAX_BODY_BYTES": "200000",
    }).start()
    yield runtime
    runtime.stop()


def test_the_bad_input_corpus_gets_4xx_json_and_accepted_runs_complete(target: RuntimeProcess) -> None:
    with target.client() as client:
        before = post_run(client, {"before": True}).json()["run_id"]
        answers = [(method, path, client.request(method, path, headers=headers, content=body))
                   for method, path, headers, body, _ in CORPUS]
        after = post_run(client, {"after": True}).json()["run_id"]
        wrong = [(method, path[:60], answer.status_code) for (method, path, answer), case
                 in zip(answers, CORPUS, strict=True) if answer.status_code != case[4]]
        assert not wrong, wrong
        for _, path, answer in answers:
            assert answer.headers["content-type"] == "application/json", path[:60]
            assert isinstance(answer.json()["error"], str), path[:60]
        for run_id in (before, after):
            assert wait_run(client, run_id)["status"] == "success"
        assert client.get("/runs", params={"limit": 500}).json()["runs"][0]["run_id"] == after


def test_a_trailing_slash_is_served_here_never_redirected_to_the_host_header(
        target: RuntimeProcess) -> None:
    evil = {"Host": "evil.example"}
    with target.client(**evil) as client:
        listed = client.get("/runs/")
        assert listed.status_code == 200 and "runs" in listed.json()
        accepted = client.post("/inbox/", json={"slash": True})
        assert accepted.status_code == 202 and accepted.headers["location"].startswith("/runs/")
        run_id = accepted.json()["run_id"]
        assert wait_run(client, run_id)["status"] == "success"
        assert client.get(f"/runs/{run_id}/").json()["run_id"] == run_id
        for path in (f"/runs/{RUN_ID}/", "/nowhere/"):
            answer = client.get(path)
            assert answer.status_code == 404 and "location" not in answer.headers, path


# Any JSON value, with what breaks naive servers: lone surrogates (in keys too), numbers too
# large for a float or an int conversion, deep-ish nesting.
TEXT = st.text(st.characters(codec=None, categories=None), max_size=8) | st.sampled_from(
    ["\ud800", "\udfff", "a\udc00b", "\U0001f600", "\x00", "\u2028"])
NUMBERS = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
# Too large for Python to print, so spliced into the body as text.
BIG_NUMBERS = st.sampled_from([b"1e400", b"-1E999999999", b"123.4e5000", b"7" * 5000,
                               b"-" + b"1" * 4301, b"9" * 4299])


def test_any_json_body_is_either_stored_or_refused_with_a_4xx(target: RuntimeProcess) -> None:
    """A property: whatever JSON arrives, 202 (and the run is stored) or 400, never a 5xx."""
    answers: list[tuple[bytes, int]] = []

    @given(value=st.lists(JSON_VALUES, max_size=3) | st.dictionaries(TEXT, JSON_VALUES, max_size=3),
           big_number=st.none() | BIG_NUMBERS)
    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def post(value, big_number) -> None:
        import json as json_module

        body = json_module.dumps(value).encode()  # ASCII: surrogates travel as \u escapes
        if big_number is not None:
            body = b'{"n": ' + big_number + b', "v": ' + body + b"}"
        with target.client() as client:
            answer = client.post("/inbox", content=body, headers={"Content-Type": "application/json"})
            answers.append((body, answer.status_code))
            assert answer.status_code in (202, 400), (body[:200], answer.text)
            assert isinstance(answer.json().get("run_id" if answer.status_code == 202 else "error"), str)
            if answer.status_code == 202:
                assert client.get(answer.headers["location"]).status_code == 200

    post()
    assert {status for _, status in answers} == {202, 400}, "the strategy must reach both answers"


def test_requests_that_are_not_http_get_4xx_and_the_server_stays_up(target: RuntimeProcess) -> None:
    garbage = [
        b"GET /runs/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}",
        b"POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n{}",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
        b"NONSENSE\r\n\r\n",
    ]
    for request in garbage:
        status = _raw_status(target.port, request)
        assert status is None or 400 <= status < 500, (request[:40], status)
    assert httpx.get(f"{target.url}/healthz").status_code == 200


def _raw_status(port: int, request: bytes) -> int | None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        try:
            first_line = connection.recv(200).split(b"\r\n", 1)[0]
        except (ConnectionResetError, TimeoutError):
            return None
    return int(first_line.split()[1]) if first_line.startswith(b"HTTP/1.1 ") else None


def test_no_generated_request_gets_a_server_error(target: RuntimeProcess) -> None:
    """Every operation of the runtime's own OpenAPI schema, with and without a key."""
    schema = schemathesis.openapi.from_url(f"{target.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"/inbox", "/runs", "/runs/{run_id}"} <= {operation.path for operation in operations}
    failures: list[tuple] = []

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def check(case) -> None:
            for headers in (AUTH, {}):
                response = case.call(base_url=target.url, headers=headers, timeout=60)
                if response.status_code >= 500:
                    failures.append((case.method, case.formatted_path, response.status_code))

        check()
    assert not failures, failures[:5]
