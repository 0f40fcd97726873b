"""What the benchmarks share: loopback servers in their own processes, results and tables."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-token-0123456789"
HELLO_JOB = (ROOT / "examples" / "hello" / "job.js").read_text()
UVICORN_SETTINGS = "log_config=None, timeout_graceful_shutdown=5, server_header=False"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def osc_env(data_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
    env.update({
        "OSC_JOB": HELLO_JOB, "OSC_ADAPTOR": "@openfn/language-common", "OSC_HOST": "127.0.0.1",
        "OSC_PORT": str(port), "OSC_DATA_DIR": str(data_dir), "OSC_API_KEYS": TOKEN,
        "OSC_MAX_QUEUED": "1000000",
    })  # fmt: skip
    env.update(overrides)
    return env


@contextmanager
def serve(command: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """Start a server process, wait until it answers, stop it afterwards."""
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def serve_osc(data_dir: Path, port: int, **overrides: str):
    return serve([sys.executable, "-m", "osc_runtime", "serve"],
                 osc_env(data_dir, port, **overrides), port)


def serve_bare(port: int):
    code = (f"import uvicorn; uvicorn.run('bench.bare_app:app', host='127.0.0.1', port={port}, "
            f"{UVICORN_SETTINGS})")
    return serve([sys.executable, "-c", code], dict(os.environ), port)


def wait_ready(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("the runtime did not become ready")


def machine() -> dict:
    memory = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {"cpus": os.cpu_count(), "memory_gb": round(int(memory) / 1e6, 1),
            "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
            "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()}


def write_result(name: str, result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": machine(), **result}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    cells = [header] + [[_format(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def _format(cell: object) -> str:
    return f"{cell:.2f}" if isinstance(cell, float) else str(cell)
