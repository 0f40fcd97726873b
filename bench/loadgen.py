"""A minimal HTTP/1.1 keep-alive load generator, run as its own process so it does not share the
server's interpreter: `python -m bench.loadgen URL --concurrency C --seconds S [--token T]`.

Each client holds one connection and sends POSTs back to back for S seconds; the result is one
JSON line on stdout (count, errors, requests/s, p50/p99 latency in ms, the run ids if asked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit

BODY = json.dumps({"name": "bench", "items": [{"amount": 1}, {"amount": 2}]}).encode()


def request_bytes(host: str, port: int, path: str, token: str | None) -> bytes:
    headers = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}",
               "Content-Type: application/json", f"Content-Length: {len(BODY)}"]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + BODY


async def client(url: str, token: str | None, deadline: float, out: dict) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    request = request_bytes(parts.hostname, parts.port, parts.path, token)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        writer.write(request)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await reader.readexactly(length)
        out["latencies"].append(time.perf_counter() - started)
        if status_line.split()[1] == b"202":
            if out["ids"] is not None:
                out["ids"].append(json.loads(body)["run_id"])
        else:
            out["errors"] += 1
    writer.close()


async def main(url: str, concurrency: int, seconds: float, token: str | None, ids: bool) -> dict:
    out: dict = {"latencies": [], "errors": 0, "ids": [] if ids else None}
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(client(url, token, deadline, out) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies = sorted(out["latencies"])
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"count": len(latencies), "errors": out["errors"], "rps": len(latencies) / elapsed,
            "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "ids": out["ids"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--token")
    parser.add_argument("--ids", action="store_true", help="return the accepted run ids")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.url, args.concurrency, args.seconds, args.token, args.ids))))
