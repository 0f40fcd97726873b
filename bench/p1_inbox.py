"""P1 inbox: authenticated, durable 202 throughput and latency against a bare FastAPI endpoint.

Both servers run under the same uvicorn settings in their own process, side by side; the load
generator is a third process. Each concurrency level is measured in turns (bare, osc, bare,
osc, …) so that a noisy, shared machine treats both alike; the table shows each one's best
round. The runtime's dispatcher is held back (its adaptor can never be installed: the npm
registry points at a closed loopback port) so the inbox alone is measured: authenticate,
validate, commit to SQLite (fsynced), answer 202. Afterwards every accepted run id must be in
the store.

The targets are for 16 and 64 clients, where concurrent requests share a commit. One client
waits for a commit of its own every time: its row is shown with the time of one such commit on
this disk (a one-row SQLite transaction with `synchronous=FULL`, as the store makes them).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import TOKEN, free_port, print_table, serve_bare, serve_osc, write_result

CONCURRENCY = (1, 16, 64)
TARGETED = (16, 64)
SECONDS = 5.0
ROUNDS = 3
TARGET_RATIO, TARGET_P99_MS = 0.5, 50.0


def load(url: str, concurrency: int, token: str | None = None, ids: bool = False) -> dict:
    command = [sys.executable, "-m", "bench.loadgen", url, "--concurrency", str(concurrency),
               "--seconds", str(SECONDS)] + (["--token", token] if token else []) + (["--ids"] if ids else [])
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def measure(data_dir: Path) -> tuple[dict, dict, list[str]]:
    """{concurrency: [round results]} for bare and osc, and every run id osc accepted."""
    bare_port, osc_port = free_port(), free_port()
    bare_url, osc_url = f"http://127.0.0.1:{bare_port}/inbox", f"http://127.0.0.1:{osc_port}/inbox"
    bare: dict[int, list[dict]] = {c: [] for c in CONCURRENCY}
    osc: dict[int, list[dict]] = {c: [] for c in CONCURRENCY}
    with ExitStack() as servers:
        servers.enter_context(serve_bare(bare_port))
        servers.enter_context(serve_osc(data_dir, osc_port, OSC_ADAPTOR="@openfn/language-held-back",
                                        OSC_NPM_REGISTRY="http://127.0.0.1:9"))
        load(bare_url, 4)  # warm up both
        accepted = load(osc_url, 4, TOKEN, ids=True)["ids"]
        for _ in range(ROUNDS):
            for c in CONCURRENCY:
                bare[c].append(load(bare_url, c))
                osc[c].append(load(osc_url, c, TOKEN, ids=True))
                accepted += osc[c][-1].pop("ids")
    return bare, osc, accepted


def missing_from_store(db_path: Path, accepted: list[str]) -> int:
    with sqlite3.connect(db_path) as db:
        stored = {row[0] for row in db.execute("SELECT run_id FROM runs")}
    return len(set(accepted) - stored)


def commit_ms(data_dir: Path, commits: int = 300) -> dict:
    """p50 and p99 of a one-row commit in WAL mode with synchronous=FULL, in the data dir."""
    with sqlite3.connect(data_dir / "commit-probe.db", isolation_level=None) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE probe (n INTEGER)")
        times = []
        for n in range(commits):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO probe VALUES (?)", (n,))
            db.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return {"p50": cuts[49], "p99": cuts[98]}


def best(rounds: list[dict]) -> dict:
    return max(rounds, key=lambda result: result["rps"])


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="osc-bench-p1-") as data_dir:
        bare_rounds, osc_rounds, accepted = measure(Path(data_dir))
        missing = missing_from_store(Path(data_dir) / "runs.db", accepted)
        commit = commit_ms(Path(data_dir))
    bare = {c: best(bare_rounds[c]) for c in CONCURRENCY}
    osc = {c: best(osc_rounds[c]) for c in CONCURRENCY}
    rows = []
    for c in CONCURRENCY:
        ratio = osc[c]["rps"] / bare[c]["rps"]
        rows.append([c, bare[c]["rps"], osc[c]["rps"], ratio, bare[c]["p50_ms"], osc[c]["p50_ms"],
                     bare[c]["p99_ms"], osc[c]["p99_ms"], osc[c]["errors"]])
    print_table(f"P1 inbox (requests/s and ms; osc = authenticated + durable; best of {ROUNDS})",
                ["clients", "bare rps", "osc rps", "ratio", "bare p50", "osc p50", "bare p99",
                 "osc p99", "errors"], rows)
    print(f"  accepted runs: {len(accepted)}, missing from the store: {missing}")
    print(f"  1 client waits for its own commit each time: one commit here takes "
          f"{commit['p50']:.2f} ms (p50), {commit['p99']:.2f} ms (p99)")
    worst = min(row[3] for row in rows if row[0] in TARGETED)
    p99_64 = osc[64]["p99_ms"]
    result = {"bare": bare, "osc": osc, "rounds": {"bare": bare_rounds, "osc": osc_rounds},
              "accepted": len(accepted), "missing_from_store": missing,
              "ratio_min_at_16_and_64": worst, "ratio_at_1": rows[0][3], "commit_ms": commit,
              "p99_ms_at_64": p99_64,
              "target": f">= {TARGET_RATIO}x bare throughput at 16 and 64 clients, "
                        f"p99 < {TARGET_P99_MS} ms at 64",
              "met": worst >= TARGET_RATIO and p99_64 < TARGET_P99_MS and missing == 0}
    write_result("p1_inbox", result)
    return result
