"""P6 PostgreSQL: runs per second with one and with two replicas on one PostgreSQL database (the
warm engine, the hello job), and the inbox on PostgreSQL against the inbox on SQLite, in the
same run, on the same machine.

The server is a throwaway Debian PostgreSQL (tests/runtime/postgres_server.py) with fsync on,
as SQLite's synchronous=FULL is. Runs per second: RUNS runs are posted as fast as the replicas
accept them (split across them), timed until the last one has finished (read from the database).
Inbox: P1's load generator at 16 clients against a runtime whose dispatcher is held back, the
two stores in turns, best of ROUNDS.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg

from bench.common import TOKEN, free_port, print_table, serve_osc, wait_ready, write_result
from bench.p1_inbox import load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "runtime"))
from postgres_server import PostgresServer  # noqa: E402

RUNS = 600
ROUNDS = 2
CLIENTS = 16
TARGET_SCALING, TARGET_INBOX_RATIO = 1.2, 0.5


async def post_all(urls: list[str], runs: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        semaphore = asyncio.Semaphore(32)

        async def post(number: int) -> None:
            async with semaphore:
                answer = await client.post(urls[number % len(urls)], json={"n": number})
                answer.raise_for_status()

        await asyncio.gather(*(post(number) for number in range(runs)))


def finished(url: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT COUNT(*) FROM runs WHERE status = 'success'").fetchone()[0]


def runs_per_second(server: PostgresServer, replicas: int) -> dict:
    url = server.new_database()
    with ExitStack() as stack:
        ports = [free_port() for _ in range(replicas)]
        for port in ports:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="osc-bench-p6-"))
            stack.enter_context(serve_osc(Path(data_dir), port, OSC_ENGINE="warm",
                                          OSC_DATABASE_URL=url))
            wait_ready(port)
        started = time.monotonic()
        asyncio.run(post_all([f"http://127.0.0.1:{port}/inbox" for port in ports], RUNS))
        while finished(url) < RUNS:
            time.sleep(0.05)
        seconds = time.monotonic() - started
    return {"replicas": replicas, "runs": RUNS, "seconds": round(seconds, 2),
            "runs_per_second": round(RUNS / seconds, 1)}


def inbox(server: PostgresServer) -> dict:
    held_back = {"OSC_ADAPTOR": "@openfn/language-held-back", "OSC_NPM_REGISTRY": "http://127.0.0.1:9"}
    results: dict[str, list[dict]] = {"sqlite": [], "postgres": []}
    with ExitStack() as stack:
        ports = {"sqlite": free_port(), "postgres": free_port()}
        sqlite_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="osc-bench-p6-"))
        postgres_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="osc-bench-p6-"))
        stack.enter_context(serve_osc(Path(sqlite_dir), ports["sqlite"], **held_back))
        stack.enter_context(serve_osc(Path(postgres_dir), ports["postgres"],
                                      OSC_DATABASE_URL=server.new_database(), **held_back))
        for _ in range(ROUNDS):
            for store, port in ports.items():
                results[store].append(load(f"http://127.0.0.1:{port}/inbox", CLIENTS, TOKEN))
    return {store: max(rounds, key=lambda r: r["rps"]) for store, rounds in results.items()}


def main() -> dict:
    server = PostgresServer(durable=True).init()
    try:
        one, two = runs_per_second(server, 1), runs_per_second(server, 2)
        accepted = inbox(server)
    finally:
        server.remove()
    scaling = two["runs_per_second"] / one["runs_per_second"]
    inbox_ratio = accepted["postgres"]["rps"] / accepted["sqlite"]["rps"]
    print_table(f"P6 PostgreSQL: runs/s (warm engine, hello job, {RUNS} runs)",
                ["replicas", "seconds", "runs/s"],
                [[one["replicas"], one["seconds"], one["runs_per_second"]],
                 [two["replicas"], two["seconds"], two["runs_per_second"]]])
    print_table(f"P6 inbox at {CLIENTS} clients (requests/s, ms; best of {ROUNDS})",
                ["store", "rps", "p50", "p99", "errors"],
                [[store, r["rps"], r["p50_ms"], r["p99_ms"], r["errors"]]
                 for store, r in accepted.items()])
    result = {"one_replica": one, "two_replicas": two, "scaling": round(scaling, 2),
              "inbox": accepted, "inbox_ratio": round(inbox_ratio, 2),
              "target": f"two replicas >= {TARGET_SCALING}x one; PostgreSQL inbox >= "
                        f"{TARGET_INBOX_RATIO}x SQLite's",
              "met": scaling >= TARGET_SCALING and inbox_ratio >= TARGET_INBOX_RATIO}
    write_result("p6_postgres", result)
    return result


if __name__ == "__main__":
    main()
