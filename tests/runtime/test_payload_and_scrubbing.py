"""The rules a request body must meet, credential masking and log capping, without a server."""

from __future__ import annotations

from pathlib import Path

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osc_runtime.payload import MAX_DEPTH, PayloadError, _quick, parse_payload, strict_parse
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
    (b'{"a": 1, "a": 2, "b": "\\u003a"}', "twice"),  # an escaped colon makes up for the lost key
    (b'{"a": NaN}', "NaN"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
    (b"[" * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH, "nested"),  # a value inside 100 arrays
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


# JSON values whose text is hard to decide: colons, escapes, surrogates, long numbers, nesting.
TEXT = st.text(alphabet=st.sampled_from(list('a:"\\\u00e9\u2028\U0001f600') + ["\ud800", "\udc00"]),
               max_size=6)
NUMBERS = st.integers(-10**25, 10**25) | st.floats(allow_nan=False, allow_infinity=False)
VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | TEXT,
                      lambda inner: st.lists(inner, max_size=4)
                      | st.lists(st.tuples(TEXT, inner), max_size=4), max_leaves=20)


def as_json(value: object, ascii_only: bool) -> str:
    """JSON text for VALUES, a list of pairs written as an object (so its keys may repeat)."""
    if isinstance(value, list) and value and all(isinstance(item, tuple) for item in value):
        return "{" + ",".join(f"{json.dumps(key, ensure_ascii=ascii_only)}:{as_json(item, ascii_only)}"
                              for key, item in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(as_json(item, ascii_only) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@given(VALUES, st.booleans())
def test_the_quick_parse_decides_as_the_strict_one(value: object, ascii_only: bool) -> None:
    raw = as_json([value], ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = strict_parse(raw)
    except PayloadError as error:
        with pytest.raises(PayloadError) as refused:
            parse_payload(raw)
        assert str(refused.value) == str(error)
        return
    assert parse_payload(raw) == expected
    assert json.dumps(parse_payload(raw)) == json.dumps(expected)  # an int stays an int


def test_ordinary_bodies_take_the_quick_parse() -> None:
    assert _quick(b'{"a": "b:c", "n": [1, 2.5, -3e-7, null, true], "\\u00e9": {}}') is not None
    assert _quick(b'{"a": 1, "a": 2}') is None  # decided (refused) by the strict parse


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


AWKWARD = {"password": 'pa"ss\\wo\nrd\t\x01é', "quote": "it's \"both\" `three`",
           "pin": 987654, "rate": 12.5, "key": "schlüssel-\U0001f511", "lone": "half-\ud800", "port": 443}


def test_the_scrubber_masks_every_form_a_value_can_take_in_output() -> None:
    import json
    from urllib.parse import quote

    scrubber = Scrubber(AWKWARD)
    dumped = json.dumps(AWKWARD, ensure_ascii=False)
    inspected = "{ password: 'pa\"ss\\\\wo\\nrd\\t\\x01é', quote: 'it\\'s \"both\" `three`' }"
    for output in (dumped, json.dumps(AWKWARD), json.dumps(dumped), inspected,
                   "?p=" + quote(AWKWARD["password"], safe="")):
        masked = scrubber.text(output)
        # No piece of a value is left: each was masked whole, in the form the output gave it.
        for piece in ("pa\\", "pa%22", 'pa"', "rd\\t", "rd%09", "rd\t", "both", "three",
                      "987654", "12.5", "schlüssel", "half"):
            assert piece not in masked, (piece, output, masked)
    # Numbers: masked where they are the credential's, in strings and as numbers; short ones kept.
    state = {"data": {"pin": 987654, "again": 987654.0, "rate": 12.5, "port": 443, "other": 98765}}
    assert scrubber.final_state(state) == {
        "data": {"pin": "***", "again": "***", "rate": "***", "port": 443, "other": 98765}}


def test_a_secret_split_between_two_reads_is_masked_and_nothing_is_lost() -> None:
    from osc_runtime.masked_output import MaskedStream

    secret = AWKWARD["password"]
    for form in (secret, json_escaped(secret)):
        line = ("before " + form + " after\n").encode()
        output = b"first line\n" + b"x" * 70_000 + line + b"last line without newline"
        for cut in range(len(output) - len(line) - 30, len(output) - 20, 3):
            stream = MaskedStream(Scrubber(AWKWARD))
            text = stream.feed(output[:cut]) + stream.feed(output[cut:]) + stream.flush()
            assert form not in text and "before *** after\n" in text, cut
            assert text.startswith("first line\n" + "x" * 70_000)
            assert text.endswith("last line without newline\n")


def test_a_multibyte_character_split_between_reads_survives() -> None:
    from osc_runtime.masked_output import MaskedStream

    stream = MaskedStream(Scrubber(None))
    data = "schlüssel ✓\n".encode()
    assert stream.feed(data[:8]) + stream.feed(data[8:]) + stream.flush() == "schlüssel ✓\n"


def json_escaped(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)[1:-1]
