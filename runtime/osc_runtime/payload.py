"""Turn a request body into the run's `data`, or say clearly why it cannot be one.

Stricter than `json.loads`: the body must be UTF-8, an object or an array, with no duplicate
keys (which value would the job see?), no NaN/Infinity (not JSON), and bounded nesting.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100


class PayloadError(ValueError):
    """The body is not an acceptable JSON payload; the message says why."""


def parse_payload(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"the body is not valid UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except RecursionError:
        raise PayloadError(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise PayloadError(f"the body is not valid JSON: {error.msg} at line {error.lineno} "
                           f"column {error.colno}") from None
    if not isinstance(value, dict | list):
        raise PayloadError("the body must be a JSON object or array, not a single value")
    if _depth(value) > MAX_DEPTH:
        raise PayloadError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError(f"the key {key[:80]!r} appears twice in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise PayloadError(f"{name} is not valid JSON")


def _depth(value: Any) -> int:
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        level.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest
