"""P1 inbox: authenticated, durable 202 throughput and latency against a bare FastAPI endpoint.

Both servers run under the same uvicorn settings in their own process; the load generator is a
third process. The runtime's dispatcher is held back (its adaptor can never be installed: the
npm registry points at a closed loopback port) so the inbox alone is measured: authenticate,
validate, commit to SQLite, answer 202. Afterwards every accepted run id must be in the store.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import TOKEN, free_port, print_table, serve_bare, serve_osc, write_result

CONCURRENCY = (1, 16, 64)
SECONDS = 8.0
TARGET_RATIO, TARGET_P99_MS = 0.5, 50.0


def load(url: str, concurrency: int, token: str | None = None, ids: bool = False) -> dict:
    command = [sys.executable, "-m", "bench.loadgen", url, "--concurrency", str(concurrency),
               "--seconds", str(SECONDS)] + (["--token", token] if token else []) + (["--ids"] if ids else [])
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def measure_bare() -> dict[int, dict]:
    port = free_port()
    with serve_bare(port):
        load(f"http://127.0.0.1:{port}/inbox", 4)  # warm up
        return {c: load(f"http://127.0.0.1:{port}/inbox", c) for c in CONCURRENCY}


def measure_osc(data_dir: Path) -> tuple[dict[int, dict], int, int]:
    port = free_port()
    accepted: list[str] = []
    results = {}
    with serve_osc(data_dir, port, OSC_ADAPTOR="@openfn/language-held-back",
                   OSC_NPM_REGISTRY="http://127.0.0.1:9"):
        url = f"http://127.0.0.1:{port}/inbox"
        accepted += load(url, 4, TOKEN, ids=True)["ids"]  # warm up
        for c in CONCURRENCY:
            results[c] = load(url, c, TOKEN, ids=True)
            accepted += results[c].pop("ids")
    with sqlite3.connect(data_dir / "runs.db") as db:
        stored = {row[0] for row in db.execute("SELECT run_id FROM runs")}
    return results, len(accepted), len(set(accepted) - stored)


def main() -> dict:
    bare = measure_bare()
    with tempfile.TemporaryDirectory(prefix="osc-bench-p1-") as data_dir:
        osc, accepted, missing = measure_osc(Path(data_dir))
    rows = []
    for c in CONCURRENCY:
        ratio = osc[c]["rps"] / bare[c]["rps"]
        rows.append([c, bare[c]["rps"], osc[c]["rps"], ratio, bare[c]["p50_ms"], osc[c]["p50_ms"],
                     bare[c]["p99_ms"], osc[c]["p99_ms"], osc[c]["errors"]])
    print_table("P1 inbox (requests/s and ms; osc = authenticated + durable)",
                ["clients", "bare rps", "osc rps", "ratio", "bare p50", "osc p50", "bare p99",
                 "osc p99", "errors"], rows)
    print(f"  accepted runs: {accepted}, missing from the store: {missing}")
    worst = min(row[3] for row in rows)
    p99_64 = osc[64]["p99_ms"]
    result = {"bare": bare, "osc": osc, "accepted": accepted, "missing_from_store": missing,
              "ratio_min": worst, "p99_ms_at_64": p99_64,
              "target": f">= {TARGET_RATIO}x bare throughput, p99 < {TARGET_P99_MS} ms at 64",
              "met": worst >= TARGET_RATIO and p99_64 < TARGET_P99_MS and missing == 0}
    write_result("p1_inbox", result)
    return result
