"""`python -m bench [p1 p2 p3 p4 p5 p6 first-run]`: run the benchmarks (all by default), print the ratios."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {"p1": "bench.p1_inbox", "p2": "bench.p2_dispatch", "p3": "bench.p3_warm",
              "p4": "bench.p4_operator", "p5": "bench.p5_list_memory", "p6": "bench.p6_postgres",
              "first-run": "bench.first_run"}


def main(names: list[str]) -> int:
    summary = []
    for name in names or list(BENCHMARKS):
        result = importlib.import_module(BENCHMARKS[name]).main()
        summary.append((name, result["target"], result["met"]))
    print("\nSummary")
    for name, target, met in summary:
        print(f"  {name}: {'met' if met else 'MISSED'} (target {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
