"""Shared by P2 and P3: N hello runs through a served runtime, and N bare `core execute` runs."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import HELLO_JOB, ROOT, TOKEN, free_port, serve_osc, wait_ready

CORE = ROOT / "node_modules" / "@openfn" / "core" / "bin" / "core"
ADAPTOR = ROOT / "node_modules" / "@openfn" / "language-common"
PAYLOAD = {"name": "bench", "items": [{"amount": 1}, {"amount": 2}]}
PARALLEL = 2  # the runtime's OSC_CONCURRENCY and the bare runs' parallelism alike


def served_runs(count: int, engine: str) -> dict:
    """Submit `count` runs at once; wall time from the first accepted to the last finished."""
    with tempfile.TemporaryDirectory(prefix="osc-bench-") as data_dir:
        port = free_port()
        with serve_osc(Path(data_dir), port, OSC_ENGINE=engine, OSC_CONCURRENCY=str(PARALLEL)):
            wait_ready(port)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                              headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                ids = [client.post("/inbox", json=PAYLOAD).json()["run_id"] for _ in range(count)]
            rows = _wait_finished(Path(data_dir) / "runs.db", ids)
    accepted = min(row[1] for row in rows)
    finished = max(row[2] for row in rows)
    outcomes = sorted({row[0] for row in rows})
    return {"runs": count, "engine": engine, "wall_s": finished - accepted,
            "per_run_ms": (finished - accepted) / count * 1000, "outcomes": outcomes}


def _wait_finished(db_path: Path, ids: list[str], seconds: float = 300) -> list[tuple]:
    deadline = time.monotonic() + seconds
    marks = ",".join("?" * len(ids))
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            rows = db.execute(f"SELECT outcome, created_at, finished_at FROM runs WHERE run_id IN"
                              f" ({marks}) AND finished_at IS NOT NULL", ids).fetchall()
        if len(rows) == len(ids):
            return rows
        time.sleep(0.05)
    raise RuntimeError("the runs did not finish in time")


async def _bare_core_once(work: Path, index: int) -> int:
    state, out = work / f"{index}.state.json", work / f"{index}.out.json"
    state.write_text(json.dumps({"configuration": {}, "data": PAYLOAD}))
    process = await asyncio.create_subprocess_exec(
        "node", str(CORE), "execute", "-l", str(ADAPTOR), "-e", str(work / "job.js"),
        "-s", str(state), "-o", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bare core failed: {errors.decode()[-500:]}")
    return process.returncode


async def _bare_core(count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="osc-bench-core-") as work_dir:
        work = Path(work_dir)
        (work / "job.js").write_text(HELLO_JOB)
        gate = asyncio.Semaphore(PARALLEL)

        async def one(index: int) -> int:
            async with gate:
                return await _bare_core_once(work, index)

        started = time.perf_counter()
        codes = await asyncio.gather(*(one(i) for i in range(count)))
        wall = time.perf_counter() - started
    return {"runs": count, "wall_s": wall, "per_run_ms": wall / count * 1000,
            "exit_codes": sorted(set(codes))}


def bare_core_runs(count: int) -> dict:
    """`count` bare `core execute` runs of the hello job, PARALLEL at a time."""
    return asyncio.run(_bare_core(count))
