"""The warm engine against real node and @openfn/runtime: outcomes, timeouts, crashes, recycling,
scrubbing, and a language-http job against a loopback server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from osc_runtime.adaptors import ensure_adaptor
from osc_runtime.engines import make_engine
from osc_runtime.engines.base import JobInvalid, Outcome
from osc_runtime.engines.warm import WarmEngine
from osc_runtime.settings import load

SECRET = "pa55-w0rd-that-must-never-show"
STATE = {"configuration": {"password": SECRET}, "data": {"name": "Ada"}}

EngineFactory = Callable[..., "asyncio.Future[WarmEngine]"]


@pytest.fixture
async def warm(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    engines: list[WarmEngine] = []

    async def build(job: str, adaptor: str = "@openfn/language-common", **options: Any):
        settings = load(job=job, adaptor=adaptor, auth="none", engine="warm",
                        data_dir=tmp_path / "data", concurrency=options.pop("concurrency", 1))
        engine = WarmEngine(settings, await ensure_adaptor(settings), **options)
        engines.append(engine)
        await engine.start()
        return engine

    yield build
    for engine in engines:
        await engine.close()


async def run(engine: WarmEngine, tmp_path: Path, state: dict = STATE, timeout: float = 30):
    log_path = tmp_path / f"run-{len(list(tmp_path.glob('run-*.log')))}.log"
    result = await engine.run(json.loads(json.dumps(state)), log_path=log_path, timeout=timeout)
    return result, log_path.read_text()


def worker_pids(engine: WarmEngine) -> set[int]:
    return {worker.pid for worker in engine._live if worker.pid}


async def test_make_engine_picks_warm_for_osc_engine_warm(tmp_path: Path) -> None:
    settings = load(job="fn(s => s)", adaptor="@openfn/language-common", auth="none",
                    engine="warm", data_dir=tmp_path)
    assert isinstance(make_engine(settings, await ensure_adaptor(settings)), WarmEngine)


async def test_hello_job_succeeds_with_its_output_in_the_log(warm, tmp_path: Path) -> None:
    engine = await warm("fn(state => { console.log('hi', state.data.name);"
                        " return {...state, data: {greeting: 'Hello, ' + state.data.name}}; })")
    result, log = await run(engine, tmp_path)
    assert result.outcome is Outcome.SUCCESS and result.exit_code == 0
    assert result.final_state == {"data": {"greeting": "Hello, Ada"}}  # no configuration
    assert "hi Ada" in log
    assert "@openfn/language-common@3.3.4" in log and "@openfn/runtime 1.9.5" in log
    # the second run is served by the same warm worker
    pids = worker_pids(engine)
    again, _ = await run(engine, tmp_path, {"configuration": {}, "data": {"name": "Bob"}})
    assert again.final_state == {"data": {"greeting": "Hello, Bob"}}
    assert worker_pids(engine) == pids


async def test_throwing_job_fails_with_its_message(warm, tmp_path: Path) -> None:
    engine = await warm("fn(state => { throw new Error('the ledger is closed') })")
    result, log = await run(engine, tmp_path)
    assert result.outcome is Outcome.FAILED and result.exit_code == 1
    assert "the ledger is closed" in result.error and "the ledger is closed" in log
    assert result.final_state is None


@pytest.mark.parametrize("job, message", [
    ("fn(state => ", "SyntaxError"),
    ("fn(s => s); launchRockets(1)", "launchRockets"),
    ("fn(s => s); class Sneaky {}", "class"),
])  # fmt: skip
async def test_job_that_does_not_compile_is_refused_at_start(warm, job: str, message: str):
    with pytest.raises(JobInvalid, match=message):
        await warm(job)


async def test_never_settling_job_is_not_a_success(warm, tmp_path: Path) -> None:
    engine = await warm("fn(state => new Promise(() => {}))")
    result, _ = await run(engine, tmp_path, timeout=60)
    # detected as core detects it (nothing left to wait for), long before the timeout
    assert result.outcome is Outcome.FAILED and "never settled" in result.error


async def test_timeout_kills_and_replaces_the_worker(warm, tmp_path: Path) -> None:
    engine = await warm("fn(state => { if (state.data.spin) { while (true) {} } return state })")
    before = worker_pids(engine)
    result, _ = await run(engine, tmp_path, {"data": {"spin": True}}, timeout=2)
    assert result.outcome is Outcome.TIMED_OUT and "2 s" in result.error
    for pid in before:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    after, _ = await run(engine, tmp_path, {"data": {"spin": False}})
    assert after.outcome is Outcome.SUCCESS
    assert worker_pids(engine).isdisjoint(before)


async def test_worker_killed_mid_run_crashes_only_that_run(warm, tmp_path: Path) -> None:
    engine = await warm("fn(state => new Promise(resolve => setTimeout(() => resolve(state),"
                        " state.data.wait)))")
    (pid,) = worker_pids(engine)
    running = asyncio.create_task(run(engine, tmp_path, {"data": {"wait": 60_000}}))
    await asyncio.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    result, _ = await running
    assert result.outcome is Outcome.CRASHED and result.exit_code == -signal.SIGKILL
    after, _ = await run(engine, tmp_path, {"data": {"wait": 1}})
    assert after.outcome is Outcome.SUCCESS


async def test_workers_are_recycled_after_max_runs(warm, tmp_path: Path) -> None:
    engine = await warm("fn(s => s)", max_runs=2)
    first = worker_pids(engine)
    for _ in range(5):
        result, _ = await run(engine, tmp_path, {"data": {}})
        assert result.outcome is Outcome.SUCCESS
    # retired after runs 2 and 4; run 5 ran on the second replacement
    assert engine.replaced == 2 and worker_pids(engine).isdisjoint(first)


async def test_workers_are_recycled_past_the_memory_ceiling(warm, tmp_path: Path) -> None:
    engine = await warm("fn(s => s)", max_rss_bytes=1)
    first = worker_pids(engine)
    await run(engine, tmp_path, {"data": {}})
    result, _ = await run(engine, tmp_path, {"data": {}})
    assert result.outcome is Outcome.SUCCESS and worker_pids(engine).isdisjoint(first)


async def test_credential_is_masked_in_log_result_and_error(warm, tmp_path: Path) -> None:
    engine = await warm("fn(state => { console.log('pw', state.configuration.password);"
                        " if (state.data.fail) throw new Error('bad ' + state.configuration.password);"
                        " return {...state, data: {leak: state.configuration.password}} })")
    ok, ok_log = await run(engine, tmp_path)
    failed, failed_log = await run(engine, tmp_path, {**STATE, "data": {"fail": True}})
    assert ok.final_state == {"data": {"leak": "***"}}
    assert failed.outcome is Outcome.FAILED
    for text in (ok_log, failed_log, failed.error, json.dumps(ok.final_state)):
        assert SECRET not in text
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and SECRET in p.read_text()]
    assert leftovers == []


class _Records(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append({"path": self.path, "body": body,
                              "auth": self.headers.get("Authorization")})
        reply = json.dumps({"stored": body}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def records_server() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Records)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


async def test_language_http_job_posts_to_a_loopback_server(warm, tmp_path, records_server):
    engine = await warm("post('/records', state => state.data)",
                        adaptor="@openfn/language-http")
    state = {"configuration": {"baseUrl": records_server, "username": "osc",
                               "password": SECRET}, "data": {"amount": 42}}
    result, log = await run(engine, tmp_path, state)
    assert result.outcome is Outcome.SUCCESS, log
    assert result.final_state["data"] == {"stored": {"amount": 42}}
    assert _Records.received[-1]["path"] == "/records"
    assert _Records.received[-1]["auth"].startswith("Basic ")
    assert SECRET not in log
