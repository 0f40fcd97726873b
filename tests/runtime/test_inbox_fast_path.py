"""POST /inbox has two ways through the runtime: the short stack (`api/inbox_fast.py`) for plain
requests and FastAPI's documented route for the rest. A user must not be able to tell them
apart: the same answers, counters, log lines; and the short stack takes only requests whose
parameters the route would accept as they are."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import StringConstraints, TypeAdapter, ValidationError

from osc_runtime.api.inbox import IDEMPOTENCY_KEY_PATTERN, TRIGGER_PATTERN, UPSTREAM_PATTERN
from osc_runtime.api.inbox_fast import is_plain
from runtime_server import RuntimeProcess

# What FastAPI's route declares for each optional header (api/inbox.py), as pydantic checks it.
ROUTE_RULES = {
    b"idempotency-key": TypeAdapter(Annotated[str, StringConstraints(pattern=IDEMPOTENCY_KEY_PATTERN)]),
    b"x-osc-trigger": TypeAdapter(Annotated[str, StringConstraints(pattern=TRIGGER_PATTERN)]),
    b"x-osc-upstream": TypeAdapter(Annotated[str, StringConstraints(max_length=300,
                                                                    pattern=UPSTREAM_PATTERN)]),
}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    data_dir = tmp_path_factory.mktemp("fast") / "data"
    process = RuntimeProcess(data_dir, {
        "OSC_JOB": "fn(state => state);", "OSC_ADAPTOR": "@openfn/language-held-back",
        "OSC_NPM_REGISTRY": "http://127.0.0.1:9",  # no adaptor: runs stay queued, none is run
    }).start(ready=False)
    yield process
    process.stop()


def counted(runtime: RuntimeProcess, status: str) -> float:
    text = httpx.get(runtime.url + "/metrics").text
    found = re.search(rf'^osc_inbox_requests_total{{status="{status}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_both_ways_answer_count_and_log_alike(runtime: RuntimeProcess) -> None:
    before = counted(runtime, "202")
    with runtime.client() as client:
        # Plain: the short stack. `?sync=false` (an explicit default): the documented route.
        short = client.post("/inbox", json={"n": 1}, headers={"X-OSC-Trigger": "cron"})
        routed = client.post("/inbox", json={"n": 2}, params={"sync": "false"},
                             headers={"X-OSC-Trigger": "cron"})
        slashed = client.post("/inbox/", json={"n": 3})
        stored = [client.get(f"/runs/{answer.json()['run_id']}").json()
                  for answer in (short, routed, slashed)]
    for answer in (short, routed, slashed):
        assert answer.status_code == 202
        run_id = answer.json()["run_id"]
        assert answer.headers["location"] == f"/runs/{run_id}"
        assert answer.headers["x-osc-run-id"] == run_id
    assert short.json().keys() == routed.json().keys() == slashed.json().keys()
    assert short.json()["auth"] == routed.json()["auth"] == "api-key"
    assert [run["trigger"] for run in stored] == ["cron", "cron", "webhook"]
    assert counted(runtime, "202") == before + 3
    runtime.stop()
    lines = [json.loads(line) for line in runtime.log_text().splitlines() if line.startswith("{")]
    for answer in (short, routed, slashed):
        run_id = answer.json()["run_id"]
        assert [line["auth"] for line in lines
                if line.get("event") == "run_accepted" and line.get("run_id") == run_id] == ["api-key"]
    access = [line for line in lines if line.get("event") == "http_request"
              and line.get("method") == "POST" and line["path"].startswith("/inbox")]
    assert [line["status_code"] for line in access] == [202, 202, 202]


def test_invalid_parameters_get_the_routes_answers(tmp_path_factory: pytest.TempPathFactory) -> None:
    process = RuntimeProcess(tmp_path_factory.mktemp("fast-bad") / "data", {
        "OSC_JOB": "fn(state => state);", "OSC_ADAPTOR": "@openfn/language-held-back",
        "OSC_NPM_REGISTRY": "http://127.0.0.1:9"}).start(ready=False)
    try:
        with process.client() as client:
            bad_key = client.post("/inbox", json={}, headers={"Idempotency-Key": "has space"})
            bad_sync = client.post("/inbox?sy%6Ec=perhaps", json={})  # `sync`, percent-encoded
            no_key = httpx.post(process.url + "/inbox", json={})
            schema = client.get("/openapi.json").json()
    finally:
        process.stop()
    assert bad_key.status_code == 422 and bad_key.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert bad_sync.status_code == 422 and bad_sync.json()["detail"][0]["loc"] == ["query", "sync"]
    assert no_key.status_code == 401 and "error" in no_key.json()
    inbox = schema["paths"]["/inbox"]["post"]
    assert inbox["summary"] == "Accept a payload as a new run"
    assert {parameter["name"] for parameter in inbox["parameters"]} >= {"sync", "idempotency-key"}


# Any latin-1 text, and text made to match each pattern (Python's `$` lets a final newline in).
header_values = st.one_of(
    st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=310),
    *(st.from_regex(pattern).filter(lambda text: len(text) <= 310 and text.isascii())
      for pattern in (IDEMPOTENCY_KEY_PATTERN, TRIGGER_PATTERN, UPSTREAM_PATTERN)))


@given(name=st.sampled_from(sorted(ROUTE_RULES)), value=header_values,
       query=st.sampled_from([b"", b"x=1", b"sync=true", b"a=%20"]))
def test_the_short_stack_takes_only_what_the_route_accepts(name: bytes, value: str,
                                                            query: bytes) -> None:
    scope = {"headers": [(name, value.encode("latin-1"))], "query_string": query}
    if not is_plain(scope):
        return
    assert b"sync" not in query and b"%" not in query
    try:
        ROUTE_RULES[name].validate_python(value)
    except ValidationError:
        pytest.fail(f"the short stack took {name!r}: {value!r}, which the route refuses")


def test_a_repeated_optional_header_goes_to_the_route() -> None:
    twice = [(b"idempotency-key", b"a"), (b"idempotency-key", b"b")]
    assert not is_plain({"headers": twice, "query_string": b""})
    assert is_plain({"headers": twice[:1], "query_string": b""})
