"""WarmWorker: one long-lived `node --experimental-vm-modules js/worker.mjs` process.

It runs one job, one run at a time. Run requests (with the credential inside the state) go over
its stdin; results come back on a separate control pipe, so nothing the job prints can be taken
for a result. What the job prints (stdout and stderr, merged in order) belongs to the run in
progress; after each run the worker prints an end marker so the engine knows the output is
complete before it closes the run's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines import processes
from osc_runtime.engines.core import die_with_parent
from osc_runtime.settings import Settings

WORKER_SCRIPT = Path(__file__).with_name("js") / "worker.mjs"
READY_TIMEOUT = 60.0  # node start, @openfn/runtime, the adaptor and the compile, on a busy host
CONTROL_LIMIT = 256 * 1024 * 1024  # one result line holds the whole final state
OUTPUT_CHUNK = 65_536


class WorkerLost(RuntimeError):
    """The node process ended (crashed or was killed) before answering."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(describe_exit(returncode))
        self.returncode = returncode


def describe_exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"node was killed by signal {-returncode}"
    return f"the node worker exited with code {returncode}"


class WarmWorker:
    def __init__(self, settings: Settings, adaptor: ResolvedAdaptor | None, job_code: str,
                 workflow: dict[str, Any] | None = None,
                 node_path: tuple[Path, ...] | None = None) -> None:
        """`workflow`: a plan for worker.mjs (steps with their resolved adaptors and
        credentials, edges) instead of `adaptor` and `job_code`; `node_path` then covers
        every step's adaptor."""
        self.settings = settings
        self.adaptor = adaptor
        self.job_code = job_code
        self.workflow = workflow
        self.node_path = node_path if node_path is not None else adaptor.node_path
        self.runs = 0
        self.rss = 0
        self.dirty = False  # a stray error or a lost run: do not reuse
        self.versions: dict[str, str] = {}
        self._marker = f"\x00osc-run-end:{secrets.token_hex(8)}:"
        self.tag = processes.new_tag()  # inherited by what its runs start (processes.py)
        self._process: asyncio.subprocess.Process | None = None
        self._control: asyncio.StreamReader | None = None
        self._pump: asyncio.Task | None = None
        self._sink: Callable[[bytes], None] | None = None
        self._ended: asyncio.Event = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self) -> None:
        read_end, write_end = os.pipe()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.settings.node_binary, "--experimental-vm-modules", "--no-warnings",
                str(WORKER_SCRIPT), str(write_end), str(self._work_dir()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,  # one stream keeps the job's output in order
                pass_fds=(write_end,),
                env=self._environment(),
                cwd=self._work_dir(),
                start_new_session=True,  # its own process group, killed as a whole
                preexec_fn=die_with_parent,  # no worker left running a job after a crash
            )  # fmt: skip
        finally:
            os.close(write_end)  # the child holds its copy; ours would hide the child's exit
        processes.roots.add(self._process.pid)
        self._control = await _reader(read_end)
        self._pump = asyncio.create_task(self._pump_output())
        setup: dict[str, Any] = {"nodeModules": str(self.settings.node_modules),
                                 "marker": self._marker}
        if self.workflow is not None:
            setup["workflow"] = self.workflow
        else:
            setup["adaptor"] = {"name": self.adaptor.name, "path": str(self.adaptor.path)}
            setup["job"] = self.job_code
        await self._send(setup)
        ready = await asyncio.wait_for(self._receive(), READY_TIMEOUT)
        self.versions = ready["versions"]
        self.compile_error: str | None = ready.get("compileError")

    async def run(self, run_id: int, state: dict[str, Any], sink: Callable[[bytes], None]) -> dict:
        """Run once; `sink` gets the output. Raises WorkerLost if node dies first."""
        self._sink, self._ended = sink, asyncio.Event()
        try:
            await self._send({"id": run_id, "state": state})
            result = await self._receive()
            await self._ended.wait()  # the marker follows the run's last output
        except BaseException:
            self.dirty = True
            raise
        finally:
            self._sink = None
        self.runs += 1
        self.rss = result.get("rss", 0)
        self.dirty = self.dirty or bool(result.get("dirty"))
        return result

    def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    async def close(self) -> int | None:
        """Kill the process (group) and reap it; returns its exit code."""
        self.kill()
        if self._process is None:
            return None
        returncode = await self._process.wait()
        processes.roots.discard(self._process.pid)
        if self._pump is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._pump, 5)
        return returncode

    async def _send(self, message: dict) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            await self._process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.dirty = True
            raise WorkerLost(await self._process.wait()) from None

    async def _receive(self) -> dict:
        assert self._control is not None and self._process is not None
        line = await self._control.readline()
        if not line:
            self.dirty = True
            raise WorkerLost(await self._process.wait())
        return json.loads(line)

    async def _pump_output(self) -> None:
        """Hand the output to the run in progress, in chunks (no line limit, nothing lost),
        until the run's end marker; output between runs (a stray timer) belongs to no run."""
        assert self._process is not None and self._process.stdout is not None
        marker, pending = self._marker.encode(), b""
        while chunk := await self._process.stdout.read(OUTPUT_CHUNK):
            pending += chunk
            while (found := pending.find(marker)) >= 0 and b"\n" in pending[found:]:
                self._deliver(pending[:found])
                pending = pending[pending.index(b"\n", found) + 1 :]
                self._ended.set()
            # Keep only what may be the start of a marker cut by this read: the rest goes on at
            # once (a run lost to a timeout must not take its last line with it).
            keep = _held(pending, marker)
            self._deliver(pending[: len(pending) - keep])
            pending = pending[len(pending) - keep :]
        self._deliver(pending)
        self._ended.set()

    def _deliver(self, output: bytes) -> None:
        if output and self._sink is not None:
            self._sink(output)

    def _environment(self) -> dict[str, str]:
        # The job must not see the runtime's own secrets (API keys, the raw credential).
        env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
        env["NODE_PATH"] = os.pathsep.join(str(path) for path in self.node_path)
        env[processes.RUN_TAG_VARIABLE] = self.tag
        return env

    def _work_dir(self) -> Path:
        work_dir = self.settings.data_dir / "work"
        work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return work_dir


def _held(pending: bytes, marker: bytes) -> int:
    """How many bytes at the end of `pending` may belong to a marker not complete yet."""
    found = pending.find(marker)
    if found >= 0:
        return len(pending) - found  # the marker, waiting for the end of its line
    for size in range(min(len(marker) - 1, len(pending)), 0, -1):
        if pending.endswith(marker[:size]):
            return size
    return 0


async def _reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=CONTROL_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb"))
    return reader
