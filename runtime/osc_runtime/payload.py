"""Turn a request body into the run's `data`, or say clearly why it cannot be one.

Stricter than `json.loads`: the body must be UTF-8, an object or an array, with no duplicate
keys (which value would the job see?), no NaN/Infinity (not JSON), no number too large to be a
number anywhere else (`1e400` is infinite in every JSON parser, an int of thousands of digits
cannot be converted), no lone UTF-16 surrogate (`"\\ud800"` is valid JSON but not text: it can
be neither stored nor handed to the job) and bounded nesting.

Most bodies are decided by orjson (`_quick`), a fifth of the time: it refuses NaN, infinite
numbers, lone surrogates and invalid UTF-8 itself, and a count of colons shows whether an
object lost a duplicate key. Whatever it refuses or cannot decide exactly (a number of 19 or
more digits, which it would turn into a float; an escaped colon) goes to `json.loads` with
the checks below, which also words every error.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

MAX_DEPTH = 100
MAX_INT_DIGITS = 4300  # Python's own int/str conversion limit
# A \u escape of a UTF-16 surrogate (D800-DFFF): only then can the parsed text hold a lone one.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
# What `_quick` leaves to the strict parser: 19+ digits in a row, an escaped colon.
UNDECIDED = re.compile(rb"[0-9]{19}|\\u003[aA]")


class PayloadError(ValueError):
    """The body is not an acceptable JSON payload; the message says why."""


def parse_payload(raw: bytes) -> Any:
    value = _quick(raw)
    return value if value is not None else strict_parse(raw)


def strict_parse(raw: bytes) -> Any:
    """The rules above, checked one by one by `json.loads`'s hooks (slow, but every error worded)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"the body is not valid UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants,
                           parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        raise PayloadError(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise PayloadError(f"the body is not valid JSON: {error.msg} at line {error.lineno} "
                           f"column {error.colno}") from None
    if not isinstance(value, dict | list):
        raise PayloadError("the body must be a JSON object or array, not a single value")
    _check_tree(value, strings=SURROGATE_ESCAPE.search(raw) is not None)
    return value


def _quick(raw: bytes) -> dict | list | None:
    """orjson's value when it is the strict parser's; None to let the strict parser decide."""
    if UNDECIDED.search(raw):
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict | list):
        return None
    # Every colon of the body separates a key from its value or stands in a string: if the
    # parsed value holds fewer, an object kept only one of two equal keys.
    return value if _check_tree(value, strings=False) == raw.count(b":") else None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError(f"the key {_shown(key)} appears twice in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise PayloadError(f"{name} is not valid JSON")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if math.isinf(number):
        raise PayloadError(f"the number {literal[:40]} is too large (it would be infinite)")
    return number


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise PayloadError(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(literal)


def _check_tree(value: Any, *, strings: bool) -> int:
    """Bounded nesting; with `strings`, also no lone surrogate in any string or key. Returns
    the number of keys plus the colons in every key and string (what `_quick` compares)."""
    count, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            count += len(item)
            for key in item:
                count += key.count(":")
                if strings:
                    _check_text(key)
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, str):
                count += item.count(":")
                if strings:
                    _check_text(item)
            continue
        level.extend((child, depth + 1) for child in children)
    return count


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise PayloadError(f"a string holds a lone UTF-16 surrogate (\\u{code:04x}), "
                           "which is not text") from None


def _shown(key: str) -> str:
    return ascii(key[:80])  # ascii(): a key may itself hold a surrogate
