"""The README's runtime examples stay true: its `curl` lines, run against `make run`'s own
server (python -m osc_runtime.dev examples/hello), get the status codes their comments name,
and the console output it shows is what the commands print."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime_server import REPO, free_port, wait_run

README = (REPO / "README.md").read_text(encoding="utf-8")
RUNTIME_SECTION = README.split("<!-- section: runtime -->")[1].split("<!-- end: runtime -->")[0]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECTED = re.compile(r"#\s*→\s*(\d{3})\b")


def blocks(kind: str) -> list[str]:
    return [body for language, body in FENCE.findall(RUNTIME_SECTION) if language == kind]


CURL_LINES = [line for body in blocks("sh") for line in body.splitlines()
              if line.startswith("curl ")]


class DevServer:
    """`make run`'s server, in a folder of its own (its .osc-data and key go there)."""

    def __init__(self, workdir: Path) -> None:
        (workdir / "examples").symlink_to(REPO / "examples")
        self.port = free_port()
        self.workdir = workdir
        env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
        self.output = workdir / "stdout.log"
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "osc_runtime.dev", "examples/hello"], cwd=workdir,
                env=env | {"OSC_PORT": str(self.port), "PYTHONUNBUFFERED": "1"},
                stdout=output, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        for _ in range(600):
            assert self.process.poll() is None, self.output.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            subprocess.run(["sleep", "0.1"])
        raise AssertionError(self.output.read_text())

    @property
    def key(self) -> str:
        return (self.workdir / ".osc-data/hello/api-key").read_text().strip()


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("readme"))
    server.wait_ready()
    yield server
    server.process.terminate()
    server.process.wait(60)


def curl(server: DevServer, line: str, run_id: str) -> tuple[int, str]:
    command = line.split("#", 1)[0].strip()
    env = os.environ | {"URL": server.url, "KEY": server.key, "RUN": run_id}
    answer = subprocess.run(["bash", "-c", command + " -s -w '\\n%{http_code}'"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)
    body, _, code = answer.stdout.rpartition("\n")
    return int(code), body


def test_the_readme_has_curl_examples_with_their_status_codes() -> None:
    assert len(CURL_LINES) >= 8
    assert all(EXPECTED.search(line) for line in CURL_LINES), CURL_LINES


def test_every_curl_line_gets_the_status_code_it_documents(dev_server: DevServer) -> None:
    run_id = ""
    got = []
    for line in CURL_LINES:
        if "/retry" in line and run_id:  # retrying needs the run finished first
            with httpx.Client(base_url=dev_server.url,
                              headers={"X-API-Key": dev_server.key}) as client:
                assert wait_run(client, run_id)["status"] == "success"
        code, body = curl(dev_server, line, run_id)
        if not run_id and "/inbox" in line:
            run_id = httpx.Response(200, content=body).json()["run_id"]
        got.append((line[:70], code, int(EXPECTED.search(line)[1])))
    assert run_id
    assert [(line, code) for line, code, _ in got] == [(line, want) for line, _, want in got]


def test_the_welcome_make_run_prints_is_the_one_shown(dev_server: DevServer) -> None:
    shown = next(body for body in blocks("console") if body.startswith("$ make run\n"))
    expected = shown.split("…\n", 1)[1].strip()
    printed = dev_server.output.read_text()
    printed = printed.replace(dev_server.key, "<key>").replace(str(dev_server.port), "8080")
    assert expected in printed


@pytest.mark.parametrize("shown", [body for body in blocks("console")
                                   if body.startswith("$ python -m osc_runtime")])
def test_the_command_output_shown_is_what_it_prints(shown: str) -> None:
    command, _, expected = shown.partition("\n")
    args = shlex.split(command.removeprefix("$ "))
    assert args[:3] == ["python", "-m", "osc_runtime"]
    answer = subprocess.run([sys.executable, *args[1:]], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert answer.returncode == 0
    assert answer.stdout.strip() == expected.strip()
