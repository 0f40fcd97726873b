"""P2 dispatch overhead: N hello runs accepted→finished through the runtime (core engine)
against N bare `core execute` runs of the same job and state, with the same parallelism."""

from __future__ import annotations

from bench.common import print_table, write_result
from bench.dispatch import PARALLEL, bare_core_runs, served_runs

RUNS = 24
TARGET = 1.10


def main() -> dict:
    bare = bare_core_runs(RUNS)
    served = served_runs(RUNS, "core")
    ratio = served["wall_s"] / bare["wall_s"]
    print_table(f"P2 dispatch overhead ({RUNS} hello runs, {PARALLEL} at a time)",
                ["", "wall s", "per run ms", "ratio"],
                [["bare core execute", bare["wall_s"], bare["per_run_ms"], 1.0],
                 ["osc (core engine)", served["wall_s"], served["per_run_ms"], ratio]])
    result = {"bare_core": bare, "osc_core": served, "ratio": ratio,
              "target": f"<= {TARGET}x", "met": ratio <= TARGET and served["outcomes"] == ["success"]}
    write_result("p2_dispatch", result)
    return result
