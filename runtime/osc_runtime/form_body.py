"""HTML form bodies as a JSON object: urlencoded and the text fields of multipart/form-data.

Each field name becomes a key; a name sent more than once becomes an array of its values, in
order. Names are kept as sent (`a[b]` is the key "a[b]"). A file part is refused: a run's input
is data, not uploads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELDS = 1000


class FormError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def urlencoded(raw: bytes, charset: str = "utf-8") -> dict[str, Any]:
    try:
        text = raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise FormError(400, f"the form body is not valid {charset}") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                          encoding=charset, errors="strict", max_num_fields=MAX_FIELDS)
    except (ValueError, UnicodeDecodeError) as error:
        raise FormError(400, f"the form body is not name=value pairs: {error}") from None
    return grouped(pairs)


def multipart(raw: bytes, boundary: str | None) -> dict[str, Any]:
    if not boundary:
        raise FormError(400, "multipart/form-data needs a boundary parameter in Content-Type")
    parts = _Parts()
    parser = MultipartParser(boundary.encode("latin-1", "replace"), parts.callbacks())
    try:
        parser.write(raw)
        parser.finalize()
    except MultipartParseError as error:
        raise FormError(400, f"the multipart body is malformed: {error}") from None
    if not parts.complete:  # the parser accepts a body cut short: its last part may be partial
        raise FormError(400, "the multipart body ends before its closing boundary")
    if parts.file_field is not None:
        raise FormError(415, f"the field {parts.file_field[:80]!r} is a file: send its content "
                             "as a text field, or as JSON or XML")
    if len(parts.fields) > MAX_FIELDS:
        raise FormError(400, f"more than {MAX_FIELDS} form fields")
    try:
        return grouped([(name, value.decode("utf-8")) for name, value in parts.fields])
    except UnicodeDecodeError:
        raise FormError(400, "a form field is not valid UTF-8") from None


class _Parts:
    """Collects (name, bytes) for each part from the streaming parser's callbacks."""

    def __init__(self) -> None:
        self.fields: list[tuple[str, bytes]] = []
        self.file_field: str | None = None
        self.complete = False
        self._header, self._value, self._headers = b"", b"", {}
        self._data = bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._begin, "on_header_field": self._field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_part_data": self._part_data, "on_part_end": self._end,
                "on_end": self._finished}

    def _finished(self) -> None:
        self.complete = True

    def _begin(self) -> None:
        self._headers, self._data = {}, bytearray()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header.decode("latin-1").lower()] = self._value
        self._header, self._value = b"", b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def _end(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options and self.file_field is None:
            self.file_field = name
        self.fields.append((name, bytes(self._data)))


def grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """name → value, a repeated name → the list of its values (forms, queries, headers)."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name not in result:
            result[name] = value
        elif isinstance(result[name], list):
            result[name].append(value)
        else:
            result[name] = [result[name], value]
    return result
