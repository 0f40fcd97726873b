"""Keep the credential out of everything a run leaves behind.

`configuration` is removed from the final state, but a job can still copy a secret into `data`
or print it. Every value of the credential (strings and numbers alike) is masked wherever it
reappears, in each form a job can give it: raw, JSON-escaped as `JSON.stringify` writes it
(also with `\\uXXXX` escapes, and escaped twice), quoted as `console.log` shows a string, and
URL-encoded. Numbers equal to a credential number are masked in the final state too.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values (a port, "true") are too common to mask without mangling ordinary output.
MIN_SECRET_LENGTH = 4
INSPECT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\v": "\\v"}
HEX_ESCAPE = re.compile(r"\\u([0-9a-f]{4})")


class Scrubber:
    def __init__(self, credential: Any) -> None:
        values = [value for value in _leaves(credential) if len(value) >= MIN_SECRET_LENGTH]
        forms = {form for value in values for form in secret_forms(value) if form}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(forms, key=len, reverse=True)
        self._numbers = frozenset(values)
        self._by_first: dict[str, list[str]] = {}
        for secret in self._secrets:
            self._by_first.setdefault(secret[0], []).append(secret)
        self.longest = len(self._secrets[0]) if self._secrets else 0

    def unfinished(self, text: str) -> int:
        """The length of the longest end of `text` that begins a secret (which the next output
        may complete): what a stream must hold back."""
        for index in range(max(len(text) - self.longest + 1, 0), len(text)):
            candidates = self._by_first.get(text[index])
            if candidates:
                end = text[index:]
                if any(len(secret) > len(end) and secret.startswith(end) for secret in candidates):
                    return len(end)
        return 0

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with secrets masked in every string, key and number."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        if isinstance(value, int | float) and not isinstance(value, bool):
            return MASK if js_number(value) in self._numbers else value
        return value

    def final_state(self, state: Any) -> Any:
        if isinstance(state, dict):
            state = {key: item for key, item in state.items() if key != "configuration"}
        return self.value(state)


def credential_values(credential: Any) -> list[str]:
    """Every string value of the credential (what `Scrubber` masks)."""
    return _leaves(credential)


def secret_forms(value: str) -> set[str]:
    """Every spelling of `value` a job's output can carry."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]  # as JSON.stringify writes it
    ascii_escaped = json.dumps(value)[1:-1]
    forms = {value, escaped, ascii_escaped, _upper_hex(ascii_escaped), _upper_hex(escaped)}
    for once in (escaped, ascii_escaped):  # JSON text inside JSON text
        forms |= {json.dumps(once, ensure_ascii=False)[1:-1], json.dumps(once)[1:-1]}
    forms |= {_inspected(value, mark) for mark in "'\"`"}
    try:  # as encodeURIComponent writes it (which refuses a lone surrogate, as here)
        forms |= {quote(value, safe="-_.!~*'()"), quote_plus(value, safe="-_.!~*'()")}
    except UnicodeEncodeError:
        pass
    return forms


def _inspected(value: str, mark: str) -> str:
    """As Node's util.inspect (console.log of an object) writes a string quoted with `mark`."""
    out = []
    for char in value:
        if char == "\\" or char == mark:
            out.append("\\" + char)
        elif char in INSPECT_ESCAPES:
            out.append(INSPECT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def _upper_hex(text: str) -> str:
    return HEX_ESCAPE.sub(lambda match: "\\u" + match[1].upper(), text)


def js_number(number: int | float) -> str:
    """A number as JavaScript prints it (`12.0` is `12`)."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return str(number)


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [js_number(value)]
    return [str(value)]
