"""P2 dispatch overhead: N hello runs accepted→finished through the runtime (core engine)
against N bare `core execute` runs of the same job and state, with the same parallelism.

Measured in turns (bare, osc, bare, osc, …) so that a noisy, shared machine treats both alike;
the ratio compares each one's best round."""

from __future__ import annotations

from bench.common import print_table, write_result
from bench.dispatch import PARALLEL, bare_core_runs, served_runs

RUNS = 24
ROUNDS = 3
TARGET = 1.10


def main() -> dict:
    bare_rounds, served_rounds = [], []
    for _ in range(ROUNDS):
        bare_rounds.append(bare_core_runs(RUNS))
        served_rounds.append(served_runs(RUNS, "core"))
    bare = min(bare_rounds, key=lambda result: result["wall_s"])
    served = min(served_rounds, key=lambda result: result["wall_s"])
    ratio = served["wall_s"] / bare["wall_s"]
    print_table(f"P2 dispatch overhead ({RUNS} hello runs, {PARALLEL} at a time; best of {ROUNDS})",
                ["", "wall s", "per run ms", "ratio"],
                [["bare core execute", bare["wall_s"], bare["per_run_ms"], 1.0],
                 ["osc (core engine)", served["wall_s"], served["per_run_ms"], ratio]])
    print("  rounds (wall s): bare " + ", ".join(f"{r['wall_s']:.2f}" for r in bare_rounds)
          + "; osc " + ", ".join(f"{r['wall_s']:.2f}" for r in served_rounds))
    outcomes = {outcome for result in served_rounds for outcome in result["outcomes"]}
    result = {"bare_core": bare, "osc_core": served, "ratio": ratio,
              "rounds": {"bare_core": bare_rounds, "osc_core": served_rounds},
              "target": f"<= {TARGET}x", "met": ratio <= TARGET and outcomes == {"success"}}
    write_result("p2_dispatch", result)
    return result
