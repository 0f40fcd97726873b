"""Bounded connections: no client holds the server's sockets or file descriptors for nothing.

uvicorn arms its keep-alive timeout only after a response, and cancels it on the first byte
of the next request: a connection that never sends a request, or sends its headers a byte at a
time, stays open for ever, and some hundreds of them exhaust the process's file descriptors
(then `/healthz` fails and a run cannot open its pipes). `guarded_protocol` is uvicorn's
httptools protocol with two bounds:

* the request headers must be complete within OSC_HEADER_TIMEOUT_SECONDS of the connection (or
  of the previous response): otherwise a `408` if part of a request came, and the connection is
  closed (the body has its own bound, OSC_BODY_TIMEOUT_SECONDS, in the inbox). One timer checks
  every connection each second (or each quarter of the timeout, if shorter);
* at most OSC_MAX_CONNECTIONS connections are open (fewer if the file limit, RLIMIT_NOFILE,
  leaves less room: FD_RESERVE descriptors stay free for the store, logs and the runs' pipes).
  A new connection beyond it closes the one that has waited longest for its request headers:
  an idle client yields to a working one. When every connection has a request in progress,
  the new one gets a `503` (JSON, `Retry-After`) and is closed.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from osc_runtime.logs import QuickLogger
from osc_runtime.settings import Settings

ACCESS_LOG = QuickLogger("uvicorn.access")
# In the scope once the request's body has arrived whole: the inbox reads it without a timer.
BODY_RECEIVED = "osc.body_received"
FD_RESERVE = 64  # the store, logs, the engine's pipes, the event loop
FD_PER_RUN = 8  # pipes and files of one run in progress


def connection_cap(settings: Settings) -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return settings.max_connections
    room = soft - FD_RESERVE - FD_PER_RUN * settings.concurrency
    return max(32, min(settings.max_connections, room))  # a file limit that low is a bad setup


def _response(status: str, message: str, extra: str = "") -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"{extra}content-length: {len(body)}\r\n\r\n")
    return head.encode() + body


BUSY = _response("503 Service Unavailable", "too many connections; retry shortly",
                 "retry-after: 1\r\n")
TOO_SLOW = _response("408 Request Timeout", "the request headers did not arrive in time")


def guarded_protocol(settings: Settings) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, with this runtime's bounds."""
    bounds = {"cap": connection_cap(settings), "header_timeout": settings.header_timeout_seconds}
    return type("GuardedProtocol", (GuardedProtocol,), bounds)


class GuardedProtocol(HttpToolsProtocol):
    cap = 1000
    header_timeout = 10.0
    waiting_since: float | None = None  # awaiting request headers since (monotonic)
    partial = False  # part of the awaited request has arrived
    _sweep: asyncio.TimerHandle | None = None  # of the class: one timer for every connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_logger = ACCESS_LOG  # type: ignore[assignment] (only its `info` is used)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()
        if len(self.connections) > self.cap and not _evict_idlest(self.connections, self):
            transport.write(BUSY)
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting_since = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.partial = self.partial or self.waiting_since is not None
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self.waiting_since = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.scope[BODY_RECEIVED] = True  # type: ignore[literal-required]

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def _await_headers(self) -> None:
        self.waiting_since, self.partial = time.monotonic(), False
        if type(self)._sweep is None:  # a timer per request cost more than the rest of this class
            self._sweep_later()

    def _sweep_later(self) -> None:
        type(self)._sweep = self.loop.call_later(min(1.0, self.header_timeout / 4), self._close_slow)

    def _close_slow(self) -> None:
        """Close the connections whose request headers are overdue; again later while one waits."""
        type(self)._sweep = None
        overdue = time.monotonic() - self.header_timeout
        waiting = False
        for connection in list(self.connections):
            if not isinstance(connection, GuardedProtocol) or connection.waiting_since is None:
                continue
            if connection.waiting_since <= overdue:
                connection._too_slow()
            else:
                waiting = True
        if waiting:
            self._sweep_later()

    def _too_slow(self) -> None:
        self.waiting_since = None
        if not self.transport.is_closing():
            if self.partial:
                self.transport.write(TOO_SLOW)
            self.transport.close()


def _evict_idlest(connections: set, newcomer: object) -> bool:
    """Close the connection that has waited longest for its request headers, if any."""
    waiting = [connection for connection in connections if connection is not newcomer
               and getattr(connection, "waiting_since", None) is not None
               and not connection.transport.is_closing()]
    if not waiting:
        return False
    idlest = min(waiting, key=lambda connection: connection.waiting_since)
    idlest.transport.close()
    idlest.waiting_since = None  # closing: not to be chosen again before connection_lost
    return True
