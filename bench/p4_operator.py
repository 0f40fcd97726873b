"""P4 operator: 200 OpenFnJobs applied to the Kubernetes emulator; time until every Deployment
exists, per-CR latency and the operator's peak RSS, against a minimal kopf operator that creates
one Deployment per CR (the floor).

Both operators run as their own process against a fresh emulator (tests/operator/emulator.py,
served by a thread of this process) and are measured in turns (floor, osc, floor, osc, …) so
that a noisy machine treats them alike. Each first reconciles one warm-up CR, so start-up is
not counted. CRs are posted back to back, as `kubectl apply -f` of one file would.
"""

from __future__ import annotations

import collections
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, free_port, print_table, write_result
from kmock import resource

from tests.operator.emulator import OscEmulator, RunningEmulator, start_emulator
from tests.operator.harness import DEPLOYMENTS, JOBS, openfnjob

CRS = 200
ROUNDS = 2
TIMEOUT_S = 300.0  # per operator and round: a stuck operator fails the benchmark, not hangs it
TARGET_RATIO, TARGET_RSS_MB = 1.5, 150.0
DEPLOYMENT_RESOURCE = resource("apps/v1/deployments")
OPERATORS = {
    "floor": [sys.executable, "-m", "kopf", "run", str(ROOT / "bench" / "floor_operator.py"),
              "--standalone", "--namespace=default"],
    "osc": [sys.executable, "-m", "osc_operator"],
}


def deployment_names(kube: RunningEmulator) -> set[str]:
    def read(emulator: OscEmulator) -> set[str]:
        return {key[2] for key, obj in emulator.objects.items()
                if key[0] == DEPLOYMENT_RESOURCE and not obj.deleted}
    return kube.call(read)


def wait_for_deployments(kube: RunningEmulator, names: set[str], process: subprocess.Popen,
                         seen: dict[str, float]) -> None:
    """Poll every 20 ms, recording when each Deployment was first seen."""
    deadline = time.monotonic() + TIMEOUT_S
    while not names <= seen.keys():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{len(names - seen.keys())} Deployments missing "
                               f"(operator exit code {process.poll()})")
        now = time.perf_counter()
        for name in deployment_names(kube) - seen.keys():
            seen[name] = now
        time.sleep(0.02)


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def measure(which: str, workdir: Path) -> dict:
    kube = start_emulator(workdir)
    env = {**kube.env(), "OSC_OPERATOR_WATCH_NAMESPACES": "default",
           "OSC_OPERATOR_HEALTH_PORT": str(free_port()),
           "OSC_OPERATOR_METRICS_PORT": str(free_port())}
    with (workdir / f"{which}.log").open("w") as log:
        process = subprocess.Popen(OPERATORS[which], env=env, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        seen: dict[str, float] = {}
        kube.request("POST", JOBS, openfnjob("warmup"))
        wait_for_deployments(kube, {"warmup"}, process, seen)
        posted: dict[str, float] = {}
        for index in range(CRS):
            name = f"job-{index:03d}"
            status, body = kube.request("POST", JOBS, openfnjob(name))
            assert status in (200, 201), body
            posted[name] = time.perf_counter()
        wait_for_deployments(kube, set(posted), process, seen)
        rss = peak_rss_mb(process.pid)
        calls = kube.call(lambda emulator: [request_kind(r) for r in emulator._requests])
    finally:
        process.terminate()
        process.wait(30)
        kube.stop()
    first = min(posted.values())
    latencies = sorted(seen[name] - posted[name] for name in posted)
    cuts = statistics.quantiles(latencies, n=100)
    return {"crs": CRS, "wall_s": max(seen[name] for name in posted) - first,
            "p50_s": cuts[49], "p95_s": cuts[94], "peak_rss_mb": rss,
            "api_requests_per_cr": round(len(calls) / (CRS + 1), 1),
            "api_requests": dict(collections.Counter(calls).most_common())}


def request_kind(request) -> str:
    """`POST deployments`, `PATCH openfnjobs/status`: what one request to the emulator did."""
    parts = request.url.path.strip("/").split("/")
    if "namespaces" in parts and len(parts) > parts.index("namespaces") + 2:
        parts = parts[parts.index("namespaces") + 2:]  # <plural>[/<name>[/<subresource>]]
    else:
        parts = parts[-1:]
    plural = parts[0] + (f"/{parts[2]}" if len(parts) > 2 else "")
    return f"{getattr(request.method, 'value', request.method)} {plural}"  # kmock's enum or a str


def main() -> dict:
    runs: dict[str, list[dict]] = {"floor": [], "osc": []}
    for _ in range(ROUNDS):
        for which in runs:
            with tempfile.TemporaryDirectory(prefix=f"osc-bench-p4-{which}-") as workdir:
                runs[which].append(measure(which, Path(workdir)))
    best = {which: min(results, key=lambda r: r["wall_s"]) for which, results in runs.items()}
    ratio = best["osc"]["wall_s"] / best["floor"]["wall_s"]
    rss = max(r["peak_rss_mb"] for r in runs["osc"])
    rows = [[which, r["wall_s"], r["p50_s"], r["p95_s"], r["peak_rss_mb"], r["api_requests_per_cr"]]
            for which, r in best.items()]
    rows[1].append(ratio)
    rows[0].append(1.0)
    print_table(f"P4 operator ({CRS} OpenFnJobs on the emulator; best of {ROUNDS} rounds)",
                ["operator", "all Deployments s", "p50 s", "p95 s", "peak RSS MB", "API requests/CR",
                 "ratio"], rows)
    result = {"rounds": runs, "best": best, "ratio": ratio, "osc_peak_rss_mb": rss,
              "target": f"<= {TARGET_RATIO}x the floor, RSS < {TARGET_RSS_MB:.0f} MB",
              "met": ratio <= TARGET_RATIO and rss < TARGET_RSS_MB}
    write_result("p4_operator", result)
    return result
