"""Start the real runtime (`python -m osc_runtime`) on a free loopback port and talk to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).resolve().parent / "jobs"
API_KEY = "test-key-0123456789"
FINISHED = {"success", "failed", "timed_out", "crashed", "dead"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RuntimeProcess:
    def __init__(self, data_dir: Path, env: dict[str, str], *, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = data_dir.parent / f"{data_dir.name}-stdout.log"
        clean = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
        self.env = clean | {
            "OSC_HOST": "127.0.0.1",
            "OSC_PORT": str(self.port),
            "OSC_DATA_DIR": str(data_dir),
            "OSC_API_KEYS": API_KEY,
            "PYTHONUNBUFFERED": "1",
        } | env
        self.process: subprocess.Popen | None = None

    def start(self, *, ready: bool = True, timeout: float = 60,
              preexec_fn: Any = None) -> RuntimeProcess:
        with open(self.output, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "osc_runtime"], cwd=REPO, env=self.env,
                stdout=output, stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
            )
        self.wait_for("/readyz" if ready else "/healthz", timeout)
        return self

    def wait_for(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"runtime exited {self.process.returncode}: {self.log_text()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{path} not 200 after {timeout}s: {self.log_text()[-2000:]}")

    def client(self, **headers: str) -> httpx.Client:
        auth = {"Authorization": f"Bearer {API_KEY}"} | headers
        return httpx.Client(base_url=self.url, headers=auth, timeout=60)

    def log_text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def send(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def wait_run(client: httpx.Client, run_id: str, timeout: float = 60,
             until: set[str] = FINISHED) -> dict[str, Any]:
    """Poll GET /runs/{id} until its status is in `until`."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/runs/{run_id}").json()
        if run["status"] in until or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def post_run(client: httpx.Client, payload: Any, **params: Any) -> httpx.Response:
    return client.post("/inbox", json=payload, params=params)


def run_count(client: httpx.Client) -> int:
    return len(client.get("/runs", params={"limit": 500}).json()["runs"])
