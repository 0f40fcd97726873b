"""The rules a request body must meet, credential masking and log capping, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from osc_runtime.payload import MAX_DEPTH, PayloadError, parse_payload
from osc_runtime.runlog import RunLog
from osc_runtime.scrub import Scrubber


@pytest.mark.parametrize("body", [
    b'{"a": 1}', b"[]", b'[{"nested": {"x": [1, 2]}}]', "{\"é\": \"✓\"}".encode(),
    b'{"smile": "\\ud83d\\ude00"}',  # a surrogate pair is one character, not a lone surrogate
    b'{"tiny": 1e-400, "big": 1e308, "int": ' + b"9" * 4300 + b"}",
])
def test_objects_and_arrays_are_payloads(body: bytes) -> None:
    assert parse_payload(body) is not None


@pytest.mark.parametrize(("body", "reason"), [
    (b"\xff\xfe{}", "UTF-8"),
    (b'{"a": 1, "a": 2}', "twice"),
    (b'{"a": NaN}', "NaN"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
    (b"[" * 100_000, "nested"),
    (b"true", "object or array"),
    (b"{", "not valid JSON"),
    (b'{"a": "\\ud800"}', "surrogate"),
    (b'{"\\udfff": 1}', "surrogate"),
    (b'[[{"deep": ["ok", "\\uDC00\\uD800"]}]]', "surrogate"),  # a pair the wrong way round
    (b'{"a": 1e400}', "too large"),
    (b'[-1E999999999]', "too large"),
    (b'{"a": ' + b"1" * 4301 + b"}", "digits"),
    (b'{"a": -' + b"1" * 100_000 + b"}", "digits"),
])
def test_bad_payloads_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_payload(body)


def test_the_scrubber_masks_every_credential_value_and_drops_configuration() -> None:
    scrubber = Scrubber({"user": "alice-admin", "password": "hunter22", "port": 5432, "tls": True})
    state = {"configuration": {"password": "hunter22"},
             "data": {"copy": "pw=hunter22", "who": ["alice-admin"], "hunter22": 1}}
    assert scrubber.final_state(state) == {"data": {"copy": "pw=***", "who": ["***"], "***": 1}}
    assert scrubber.text("login alice-admin:hunter22 on 5432") == "login ***:*** on ***"
    assert Scrubber(None).text("nothing to hide") == "nothing to hide"


def test_a_capped_log_keeps_the_tail_and_marks_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    log = RunLog(path, max_bytes=2048)
    for number in range(1000):
        log.write(f"line {number}\n")
    log.close()
    text = path.read_text()
    assert len(text.encode()) <= 2048
    assert text.startswith("[osc: earlier output truncated, ")
    assert text.endswith("line 999\n") and "line 0\n" not in text
