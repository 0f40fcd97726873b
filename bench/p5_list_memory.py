"""P5 list memory: the runtime's peak RSS while clients list runs whose bodies are large.

500 runs, each with a 1 MiB input body and a 1 MiB final state, are written into a store with
the runtime's own RunStore; the runtime then serves that data dir (its dispatcher held back, as
in P1, so the runs stay as stored). Measured from /proc: the runtime's peak RSS (VmHWM) once it
is up and has answered a few small requests (the idle baseline), then after 8 clients list
`GET /runs?limit=500` at the same time, 3 rounds. A list shows neither the input nor the final
state, so it must not read them: the peak should stay near the baseline whatever is stored.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import TOKEN, free_port, print_table, serve_osc, write_result

RUNS = 500
BODY_BYTES = 1024 * 1024
CLIENTS = 8
ROUNDS = 3
TARGET_GROWTH_MB = 64.0


def fill_store(data_dir: Path) -> None:
    """RUNS finished runs, each with a BODY_BYTES input and final state."""
    from osc_runtime.store import RunStore, Status, Submission

    data_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(data_dir / "runs.db")
    filler = "x" * (BODY_BYTES - 20)
    for number in range(RUNS):
        store.add_many([Submission(json.dumps({"n": number, "pad": filler}))])
        run = store.claim_next()
        store.finish(run.run_id, Status.SUCCESS, outcome="success", exit_code=0, error=None,
                     final_state=json.dumps({"data": {"n": number, "pad": filler}}))
    store.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def list_all(url: str) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=300, headers=headers) as client:
        answer = client.get(f"{url}/runs", params={"limit": RUNS})
        answer.raise_for_status()
        return len(answer.json()["runs"])


def measure(data_dir: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_osc(data_dir, port, OSC_ADAPTOR="@openfn/language-held-back",
                   OSC_NPM_REGISTRY="http://127.0.0.1:9") as process:
        for _ in range(5):
            httpx.get(f"{url}/healthz", timeout=30)
        time.sleep(1)
        idle = peak_rss_mb(process.pid)
        seconds, listed = [], []
        with ThreadPoolExecutor(CLIENTS) as pool:
            for _ in range(ROUNDS):
                started = time.monotonic()
                listed += list(pool.map(list_all, [url] * CLIENTS))
                seconds.append(time.monotonic() - started)
        peak = peak_rss_mb(process.pid)
    return {"idle_peak_rss_mb": round(idle, 1), "listing_peak_rss_mb": round(peak, 1),
            "growth_mb": round(peak - idle, 1), "runs_per_list": min(listed),
            "round_seconds": [round(value, 2) for value in seconds]}


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="osc-bench-p5-") as tmp:
        data_dir = Path(tmp) / "data"
        fill_store(data_dir)
        stored_mb = (data_dir / "runs.db").stat().st_size / 1e6
        figures = measure(data_dir)
    print_table(f"P5 list memory ({RUNS} runs of 2 x 1 MiB, {CLIENTS} concurrent limit={RUNS} "
                f"lists, {ROUNDS} rounds; MB)",
                ["store", "idle peak RSS", "listing peak RSS", "growth", "s per round"],
                [[round(stored_mb), figures["idle_peak_rss_mb"], figures["listing_peak_rss_mb"],
                  figures["growth_mb"], max(figures["round_seconds"])]])
    result = {**figures, "store_mb": round(stored_mb, 1),
              "target": f"peak RSS grows < {TARGET_GROWTH_MB:g} MB over idle",
              "met": figures["growth_mb"] < TARGET_GROWTH_MB and figures["runs_per_list"] == RUNS}
    write_result("p5_list_memory", result)
    return result


if __name__ == "__main__":
    main()
