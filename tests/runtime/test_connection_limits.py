"""Connections that never send a request, or send it slowly, cannot exhaust the runtime.

The runtime runs with a low file limit (RLIMIT_NOFILE 256, set in the child before exec), so
500 held connections would take every descriptor if they were kept: `/healthz` would fail and
a run could not open its pipes ("Too many open files").
"""

from __future__ import annotations

import resource
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from runtime_server import RuntimeProcess, post_run, wait_run

FILE_LIMIT = 256
HELD = 500
HEADER_TIMEOUT = 3


def low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("limited") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB": "fn(state => ({ data: { seen: state.data } }));",
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_ENDPOINT_STYLE": "sync",
        "OSC_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT), "OSC_BODY_TIMEOUT_SECONDS": "2",
    }).start(preexec_fn=low_file_limit)
    yield runtime
    runtime.stop()


def hold_connections(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    held = []
    for number in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        if first_bytes and number % 2:  # half send part of a request and then nothing
            connection.sendall(first_bytes)
        held.append(connection)
    return held


def closed_by_server(connections: list[socket.socket], seconds: float) -> int:
    """How many of them the server closed (EOF or reset, after any final answer) in time."""
    open_ones, deadline = list(connections), time.monotonic() + seconds
    while open_ones and time.monotonic() < deadline:
        readable, _, _ = select.select(open_ones, [], [], 0.5)
        for connection in readable:
            try:
                data = connection.recv(65_536)
            except (ConnectionResetError, TimeoutError):
                data = b""
            if not data or data.rstrip().endswith(b"}"):  # EOF, or a final JSON answer
                open_ones.remove(connection)
    return len(connections) - len(open_ones)


def read_to_end(connection: socket.socket) -> bytes:
    data = b""
    while chunk := connection.recv(65_536):
        data += chunk
    return data


def test_idle_and_half_sent_connections_neither_stop_healthz_nor_fail_a_run(
        limited: RuntimeProcess) -> None:
    held = hold_connections(limited.port, HELD, b"POST /inbox HTTP/1.1\r\nHost: x\r\n")
    try:
        assert httpx.get(f"{limited.url}/healthz", timeout=30).status_code == 200
        with limited.client() as client:
            answer = post_run(client, {"while": "besieged"})
            assert answer.status_code == 201, answer.text
            assert answer.json()["final_state"]["data"] == {"seen": {"while": "besieged"}}
        # Every held connection is closed: at the cap by newer ones, the rest by the timeout.
        assert closed_by_server(held, HEADER_TIMEOUT + 20) == HELD
    finally:
        for connection in held:
            connection.close()
    assert "Too many open files" not in limited.log_text()


def test_a_slow_request_gets_408_and_a_slow_body_too(limited: RuntimeProcess) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        answer = read_to_end(slow)
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"error"' in answer
    with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as slow_body:
        slow_body.sendall(b"POST /inbox HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                          b"test-key-0123456789\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{\"a\":")
        answer = read_to_end(slow_body)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive" in answer


def test_beyond_the_cap_with_every_connection_busy_a_new_one_gets_503(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("capped") / "data", {
        "OSC_JOB": "fn(s => s);", "OSC_ADAPTOR": "@openfn/language-common",
        "OSC_MAX_CONNECTIONS": "40", "OSC_BODY_TIMEOUT_SECONDS": "4",
    }).start()
    request = (b"POST /inbox HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key-0123456789"
               b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    try:
        busy = [socket.create_connection(("127.0.0.1", runtime.port), timeout=30)
                for _ in range(40)]
        for connection in busy:
            connection.sendall(request)  # headers complete, the body never: a request in progress
        time.sleep(0.5)
        refused = httpx.get(f"{runtime.url}/healthz", timeout=30)
        assert refused.status_code == 503 and "connections" in refused.json()["error"]
        assert refused.headers["retry-after"] == "1"
        assert closed_by_server(busy, 15) == 40  # their bodies timed out: 408, closed
        assert httpx.get(f"{runtime.url}/healthz", timeout=30).status_code == 200
    finally:
        runtime.stop()

