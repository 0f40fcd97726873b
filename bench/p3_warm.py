"""P3 warm engine: the hello job through the runtime with OSC_ENGINE=warm, and the engine alone,
against bare `core execute` (P2's baseline). Memory: the workers' peak RSS over many runs, with
recycling at the engine's default ceiling."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import HELLO_JOB, print_table, write_result
from bench.dispatch import PAYLOAD, bare_core_runs, served_runs

SERVED_RUNS = 200
ENGINE_RUNS = 1000
BARE_RUNS = 12
TARGET = 20.0


async def engine_alone(runs: int) -> dict:
    from osc_runtime.adaptors import ensure_adaptor
    from osc_runtime.engines.warm import WarmEngine
    from osc_runtime.settings import load

    with tempfile.TemporaryDirectory(prefix="osc-bench-warm-") as data_dir:
        settings = load(job=HELLO_JOB, adaptor="@openfn/language-common", auth="none",
                        data_dir=Path(data_dir), concurrency=1)
        engine = WarmEngine(settings, await ensure_adaptor(settings))
        await engine.start()
        latencies, peak_rss = [], 0
        try:
            for index in range(runs):
                started = time.perf_counter()
                result = await engine.run({"configuration": {}, "data": PAYLOAD},
                                          log_path=Path(data_dir) / f"{index % 10}.log", timeout=30)
                latencies.append(time.perf_counter() - started)
                assert result.outcome == "success", result
                peak_rss = max(peak_rss, max((w.rss for w in engine._live), default=0))
        finally:
            await engine.close()
    return {"runs": runs, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000,
            "peak_worker_rss_mb": peak_rss / 2**20, "workers_recycled": engine.replaced,
            "rss_ceiling_mb": engine.max_rss_bytes / 2**20}


def main() -> dict:
    bare = bare_core_runs(BARE_RUNS)
    served = served_runs(SERVED_RUNS, "warm")
    alone = asyncio.run(engine_alone(ENGINE_RUNS))
    served_ratio = bare["per_run_ms"] / served["per_run_ms"]
    alone_ratio = bare["per_run_ms"] / alone["p50_ms"]
    print_table("P3 warm engine (hello job; ms per run; ratio = speed-up over bare core)",
                ["", "runs", "per run ms", "runs/s", "speed-up"],
                [["bare core execute (2 at a time)", bare["runs"], bare["per_run_ms"],
                  1000 / bare["per_run_ms"], 1.0],
                 ["osc, OSC_ENGINE=warm (2 workers)", served["runs"], served["per_run_ms"],
                  1000 / served["per_run_ms"], served_ratio],
                 ["warm engine alone, p50 (1 worker)", alone["runs"], alone["p50_ms"],
                  1000 / alone["p50_ms"], alone_ratio]])
    print(f"  worker peak RSS {alone['peak_worker_rss_mb']:.0f} MB (ceiling "
          f"{alone['rss_ceiling_mb']:.0f} MB), recycled {alone['workers_recycled']} times")
    result = {"bare_core": bare, "osc_warm": served, "engine_alone": alone,
              "speedup_served": served_ratio, "speedup_engine": alone_ratio,
              "target": f">= {TARGET}x per run, memory bounded",
              "met": served_ratio >= TARGET and served["outcomes"] == ["success"]
              and alone["peak_worker_rss_mb"] <= alone["rss_ceiling_mb"] * 1.1}
    write_result("p3_warm", result)
    return result
