"""A loopback HTTP server that answers every request with what it received, and records it.

`status` makes every answer that status code (e.g. 500, for a failing upstream)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoServer:
    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[str, str, object]] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw) if raw else None
                echo.requests.append((self.command, self.path, body))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"method": self.command, "path": self.path,
                                             "received": body}).encode())

            do_GET = do_POST = _answer  # noqa: N815 (the http.server API)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> EchoServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
