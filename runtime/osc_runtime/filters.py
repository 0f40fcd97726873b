"""The message filter (OSC_FILTER): which request bodies become runs.

OSC_FILTER is a JSON object `{"<path>": <expected JSON value>, ...}`. A body matches when every
path exists in it and holds a value deeply equal to the expected one. Paths are dotted
(`data.patient.status`), may start with `$.`, and may index arrays (`items[0].code`, `[1]`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from osc_runtime.settings import SettingsError

SEGMENT = re.compile(r"(?P<key>[^.\[\]]+)?(?P<indexes>(\[\d+\])*)")
INDEX = re.compile(r"\[(\d+)\]")
MISSING = object()


def parse_path(path: str) -> tuple[str | int, ...]:
    """`$.a.b[0]` → ("a", "b", 0); raise ValueError for an empty or malformed path."""
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    text = text[1:] if text.startswith(".") else text
    if not text:
        raise ValueError(f"{path!r} is an empty path")
    steps: list[str | int] = []
    for part in text.split("."):
        found = SEGMENT.fullmatch(part)
        if not part or found is None or not (found["key"] or found["indexes"]):
            raise ValueError(f"{path!r} is not a dotted path such as data.items[0].code")
        if found["key"]:
            steps.append(found["key"])
        steps.extend(int(index) for index in INDEX.findall(found["indexes"]))
    return tuple(steps)


def lookup(value: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return MISSING
    return value


def same_json(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's ==, true is not 1 and 1 is not "1"."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    return type(left) is type(right) and left == right


@dataclass(frozen=True)
class MessageFilter:
    rules: tuple[tuple[str, tuple[str | int, ...], Any], ...] = ()

    @classmethod
    def from_json(cls, text: str | None) -> MessageFilter:
        """Parse OSC_FILTER; raise SettingsError naming the variable when it is not usable."""
        if text is None or not text.strip():
            return cls()
        try:
            spec = json.loads(text)
        except ValueError as error:
            raise SettingsError(f"OSC_FILTER: not valid JSON ({error})") from None
        if not isinstance(spec, dict):
            raise SettingsError('OSC_FILTER: must be a JSON object {"<path>": <value>, ...}')
        try:
            return cls(tuple((path, parse_path(path), value) for path, value in spec.items()))
        except ValueError as error:
            raise SettingsError(f"OSC_FILTER: {error}") from None

    def mismatch(self, body: Any) -> str | None:
        """The first path the body does not satisfy, or None when it matches."""
        for path, steps, expected in self.rules:
            if not same_json(lookup(body, steps), expected):
                return path
        return None
