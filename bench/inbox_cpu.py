"""CPU per POST /inbox through the runtime's ASGI app, in-process (no sockets, no load generator):
`python -m bench.inbox_cpu [CONCURRENCY] [REQUESTS]`.

A shared host's load changes requests per second a lot but CPU time per request little, so
this is the figure to compare two versions of the inbox by. Every request is authenticated,
parsed, committed (fsynced) and answered 202 as in P1; the process's CPU time (all threads) is
divided by the number of requests. The dispatcher is held back as in P1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import TOKEN, osc_env
from bench.loadgen import BODY

HEADERS = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
           (b"content-length", str(len(BODY)).encode()), (b"authorization", f"Bearer {TOKEN}".encode())]


def scope() -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/inbox", "raw_path": b"/inbox", "query_string": b"",
            "root_path": "", "headers": list(HEADERS), "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 8000), "state": {}}


async def post(app, statuses: list[int]) -> None:
    async def receive() -> dict:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope(), receive, send)


async def measure(app, requests: int, concurrency: int) -> float:
    statuses: list[int] = []

    async def client() -> None:
        for _ in range(requests // concurrency):
            await post(app, statuses)

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    cpu = time.process_time() - started
    assert set(statuses) == {202}, set(statuses)
    return cpu / len(statuses)


async def main(concurrency: int, requests: int) -> None:
    from osc_runtime.app import create_app
    from osc_runtime.logs import configure_logging
    from osc_runtime.settings import load

    configure_logging("bench")
    logging.getLogger().handlers[0].stream = open(os.devnull, "w")  # noqa: SIM115 (lives on)
    app = create_app(load())
    async with app.router.lifespan_context(app):
        await measure(app, 200, concurrency)  # warm up
        seconds = await measure(app, requests, concurrency)
    print(json.dumps({"concurrency": concurrency, "requests": requests,
                      "cpu_us_per_request": round(seconds * 1e6, 1)}))


if __name__ == "__main__":
    concurrency, requests = (int(arg) for arg in (sys.argv[1:] + ["64", "6400"])[:2])
    with tempfile.TemporaryDirectory(prefix="osc-bench-cpu-") as data_dir:
        os.environ.update(osc_env(Path(data_dir), 1, OSC_ADAPTOR="@openfn/language-held-back",
                                  OSC_NPM_REGISTRY="http://127.0.0.1:9"))
        asyncio.run(main(concurrency, requests))
