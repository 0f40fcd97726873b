"""Which bodies become a run's `data`: a table from media type to parser.

JSON stays JSON (`payload.py`); forms and XML become a JSON object (`form_body.py`,
`xml_body.py`). Any other media type is refused with 415 and the list of accepted ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from osc_runtime import form_body
from osc_runtime.payload import PayloadError, parse_payload
from osc_runtime.xml_body import XmlError, parse_xml

Parser = Callable[[bytes, dict[str, str]], Any]


class BodyError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(raw: bytes, params: dict[str, str]) -> Any:
    return parse_payload(raw)


def _urlencoded(raw: bytes, params: dict[str, str]) -> Any:
    return form_body.urlencoded(raw, params.get("charset", "utf-8"))


def _multipart(raw: bytes, params: dict[str, str]) -> Any:
    return form_body.multipart(raw, params.get("boundary"))


def _xml(raw: bytes, params: dict[str, str]) -> Any:
    return parse_xml(raw)  # the XML declaration (or BOM) names its encoding, not the header


PARSERS: dict[str, Parser] = {
    "application/json": _json,
    "application/x-www-form-urlencoded": _urlencoded,
    "multipart/form-data": _multipart,
    "application/xml": _xml,
    "text/xml": _xml,
    "application/soap+xml": _xml,
}
SUFFIX_PARSERS: dict[str, Parser] = {"+json": _json, "+xml": _xml}  # application/<x>+json …
ACCEPTED = ", ".join([*PARSERS, "application/*+json", "application/*+xml"])


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """`text/xml; charset=utf-8` → ("text/xml", {"charset": "utf-8"})."""
    kind, *options = content_type.split(";")
    params = {}
    for option in options:
        name, _, value = option.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def parser_for(kind: str) -> Parser | None:
    if kind in PARSERS:
        return PARSERS[kind]
    if kind.startswith("application/"):
        return next((parser for suffix, parser in SUFFIX_PARSERS.items()
                     if kind.endswith(suffix)), None)
    return None


def check_media_type(content_type: str) -> None:
    """415 before the body is read, when no parser takes this media type."""
    if parser_for(media_type(content_type)[0]) is None:
        raise BodyError(415, f"unsupported Content-Type; send one of: {ACCEPTED}")


def parse_body(content_type: str, raw: bytes) -> Any:
    """The body as the run's `data`; BodyError (400, 413, 415) says why it cannot be."""
    kind, params = media_type(content_type)
    parser = parser_for(kind)
    if parser is None:
        raise BodyError(415, f"unsupported Content-Type; send one of: {ACCEPTED}")
    try:
        return parser(raw, params)
    except (PayloadError, XmlError) as error:
        raise BodyError(400, str(error)) from None
    except form_body.FormError as error:
        raise BodyError(error.status, str(error)) from None
