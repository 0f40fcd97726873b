"""The examples/http job (language-http) posts the payload to the server its credential names."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime_server import REPO, RuntimeProcess, post_run, wait_run


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Recorder.received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"stored": true}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Recorder.received.clear()  # one test per engine: each sees only its own posts
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_http_job_posts_the_payload_to_the_receiver(tmp_path_factory, engine: str,
                                                        receiver: str) -> None:
    credential = {"baseUrl": receiver, "access_token": "token-for-the-receiver"}
    runtime = RuntimeProcess(tmp_path_factory.mktemp("http") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(REPO / "examples/http/job.js"),
        "OSC_ADAPTOR": "@openfn/language-http", "OSC_CREDENTIAL": json.dumps(credential),
    }).start()
    try:
        with runtime.client() as client:
            payload = {"patient": {"id": "p-17", "visit": "2024-03-01"}}
            run = wait_run(client, post_run(client, payload).json()["run_id"])
        assert run["status"] == "success", run
        assert [(path, body) for path, _, body in Recorder.received] == [("/records", payload)]
    finally:
        runtime.stop()
