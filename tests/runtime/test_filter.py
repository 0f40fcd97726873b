"""The message filter (OSC_FILTER): paths and JSON equality, then a real runtime that answers
200 {"matched": false} and creates no run for a body that does not match."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from osc_runtime.filters import MessageFilter, parse_path
from osc_runtime.settings import SettingsError
from runtime_server import REPO, RuntimeProcess, run_count, wait_run

FILTER = {"data.patient.status": "active", "$.kind": "visit", "items[0].code": 7,
          "flags": {"urgent": True}}
MATCHING = {"kind": "visit", "data": {"patient": {"status": "active", "age": 40}},
            "items": [{"code": 7}, {"code": 9}], "flags": {"urgent": True}}


def test_paths() -> None:
    assert parse_path("data.patient.status") == ("data", "patient", "status")
    assert parse_path("$.items[0].codes[2]") == ("items", 0, "codes", 2)
    assert parse_path("[1].name") == (1, "name")
    for bad in ("", "$", "a..b", "a[x]", "a.[0]x"):
        with pytest.raises(ValueError):
            parse_path(bad)


@pytest.mark.parametrize("body, mismatch", [
    (MATCHING, None),
    (MATCHING | {"kind": "admission"}, "$.kind"),
    (MATCHING | {"items": []}, "items[0].code"),
    (MATCHING | {"items": [{"code": "7"}]}, "items[0].code"),  # a string is not a number
    (MATCHING | {"flags": {"urgent": 1}}, "flags"),  # 1 is not true
    (MATCHING | {"flags": {"urgent": True, "more": 1}}, "flags"),  # deep equality, not subset
    ({"kind": "visit"}, "data.patient.status"),
    ([MATCHING], "data.patient.status"),
])
def test_matching(body: object, mismatch: str | None) -> None:
    assert MessageFilter.from_json(json.dumps(FILTER)).mismatch(body) == mismatch


def test_an_empty_filter_matches_everything() -> None:
    assert MessageFilter.from_json(None).mismatch({"any": 1}) is None
    assert MessageFilter.from_json("{}").mismatch([1, 2]) is None


@pytest.mark.parametrize("text", ["[1]", "{", '{"a..b": 1}', '"x"'])
def test_a_bad_filter_names_the_variable(text: str) -> None:
    with pytest.raises(SettingsError, match="^OSC_FILTER: "):
        MessageFilter.from_json(text)


@pytest.fixture(scope="module")
def filtered(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    data_dir = tmp_path_factory.mktemp("filtered") / "data"
    runtime = RuntimeProcess(data_dir, {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(REPO / "examples/hello/job.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_FILTER": json.dumps(FILTER),
    }).start()
    yield runtime
    runtime.stop()


def test_a_matching_body_becomes_a_run(filtered: RuntimeProcess) -> None:
    with filtered.client() as client:
        answer = client.post("/inbox", json=MATCHING)
        assert answer.status_code == 202, answer.text
        assert wait_run(client, answer.json()["run_id"])["status"] == "success"


def test_a_body_that_does_not_match_creates_no_run(filtered: RuntimeProcess) -> None:
    with filtered.client() as client:
        before = run_count(client)
        answer = client.post("/inbox", json=MATCHING | {"kind": "admission"})
        assert answer.status_code == 200
        assert answer.json()["matched"] is False and "$.kind" in answer.json()["reason"]
        assert run_count(client) == before
        # The filter comes after authentication and validation, not instead of them.
        assert client.post("/inbox", content=b"{", headers={"Content-Type": "application/json"}
                           ).status_code == 400
    assert filtered.client(Authorization="Bearer nope").post("/inbox", json=MATCHING
                                                             ).status_code == 401


def test_an_invalid_filter_stops_start_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("bad-filter") / "data"
    runtime = RuntimeProcess(data_dir, {
        "OSC_JOB_PATH": str(REPO / "examples/hello/job.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_FILTER": '{"a[x]": 1}',
    })
    with pytest.raises(AssertionError, match="exited 2"):
        runtime.start(timeout=30)
    assert "OSC_FILTER: " in runtime.log_text()
