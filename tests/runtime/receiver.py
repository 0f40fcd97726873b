"""A loopback HTTP server that jobs POST to: it counts every side effect a job has.

The body's `n` names the effect; `fail_times` makes the first N posts of that `n` answer 500;
`delay` (seconds) holds the answer back, so a run stays `running` for a while.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                time.sleep(float(body.get("delay", 0)))
                with receiver.lock:
                    receiver.counts[str(body.get("n"))] += 1
                    failing = receiver.counts[str(body.get("n"))] <= int(body.get("fail_times", 0))
                try:
                    self.send_response(500 if failing else 201)
                    self.send_header("content-type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"ok": false}' if failing else b'{"ok": true}')
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the job's process was killed while it waited (the crash tests do that)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()

    def count(self, n: object) -> int:
        with self.lock:
            return self.counts[str(n)]

    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())
