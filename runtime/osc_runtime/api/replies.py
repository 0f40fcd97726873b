"""What the inbox answers: the run as JSON, a fixed accept answer, or the job's own reply.

- By default: the run as JSON (202 accepted, 200 a repeat, 201/502 after a sync run).
- OSC_ACCEPT_STATUS / OSC_ACCEPT_CONTENT_TYPE / OSC_ACCEPT_BODY(_PATH): the answer to an
  accepted (or repeated) delivery, for senders that want a fixed one (Salesforce's SOAP Ack).
- In sync mode a job may set `state.webhookResponse = {status, body, headers}`, as in OpenFn
  Lightning: that is the answer to the request that started it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from osc_runtime.settings import Settings
from osc_runtime.store import Run

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")
# Framing and connection headers belong to the server; cookies would reach the console's origin.
UNSAFE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                            "upgrade", "te", "trailer", "host", "date", "server", "set-cookie",
                            "proxy-authenticate", "proxy-authorization"})


class ReplyError(ValueError):
    """The job's state.webhookResponse cannot be sent; the message says why."""


def run_headers(run: Run) -> dict[str, str]:
    return {"Location": f"/runs/{run.run_id}", "X-OSC-Run-Id": run.run_id}


class RunJSONResponse(JSONResponse):
    """JSONResponse written by orjson (the same bytes for a run record, in a fifth of the time:
    every 202 is one); json for what orjson will not write (an integer past 64 bits in a
    final state, a lone surrogate)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            return super().render(content)


def run_answer(run: Run, status: int, auth: str | None = None) -> JSONResponse:
    record = run.to_json() | ({"auth": auth} if auth else {})
    return RunJSONResponse(record, status, headers=run_headers(run))


def accept_answer(settings: Settings, run: Run, status: int, auth: str) -> Response:
    """The answer to a delivery stored as a run (`status`: 202 new, 200 a repeat)."""
    status = settings.accept_status or status
    body = settings.accept_body_text()
    if body is None:
        return run_answer(run, status, auth)
    return Response(body.encode(), status, headers=run_headers(run),
                    media_type=settings.accept_content_type)


def job_answer(run: Run) -> Response | None:
    """The reply a finished sync run asked for, or None; ReplyError when it is unusable."""
    if run.final_state is None:
        return None
    state = json.loads(run.final_state)
    reply = state.get("webhookResponse") if isinstance(state, dict) else None
    if reply is None:
        return None
    if not isinstance(reply, dict):
        raise ReplyError("state.webhookResponse must be an object {status, body, headers}")
    status = reply.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ReplyError("state.webhookResponse.status must be an HTTP status from 200 to 599")
    headers = _headers(reply.get("headers") or {})
    body, media_type = _body(reply.get("body"), headers)
    return Response(body, status, headers=run_headers(run) | headers, media_type=media_type)


def _headers(headers: Any) -> dict[str, str]:
    if not isinstance(headers, dict):
        raise ReplyError("state.webhookResponse.headers must be an object of name: value")
    result = {}
    for name, value in headers.items():
        if not HEADER_NAME.match(name) or name.lower() in UNSAFE_HEADERS:
            raise ReplyError(f"state.webhookResponse.headers: {name[:60]!r} may not be set")
        if not isinstance(value, str | int | float) or isinstance(value, bool) \
                or re.search(r"[\r\n\x00]", str(value)):
            raise ReplyError(f"state.webhookResponse.headers: the value of {name!r} must be "
                             "one line of text")
        result[name] = str(value)
    return result


def _body(body: Any, headers: dict[str, str]) -> tuple[bytes, str | None]:
    """A string is sent as it is; any other JSON value as JSON."""
    declared = next((value for name, value in headers.items()
                     if name.lower() == "content-type"), None)
    if body is None:
        return b"", declared
    if isinstance(body, str):
        return body.encode(), declared or "text/plain; charset=utf-8"
    return json.dumps(body, ensure_ascii=False).encode(), declared or "application/json"
