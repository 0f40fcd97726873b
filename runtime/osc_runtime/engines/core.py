"""CoreRunner: one `node …/@openfn/core/bin/core execute` process per run.

Core has no timeout and can exit 0 without an output file (a job whose promise never settles),
so success means exit 0 AND a fresh output file. Core's own exit decides the outcome (a child
the job left behind may hold the output pipes open long after). Each run gets its own process
group, and when the run ends (success, failure, timeout, shutdown) whatever it started is
killed, also children that left the group (see processes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines import processes
from osc_runtime.engines.base import Outcome, RunResult
from osc_runtime.engines.core_errors import failure_message
from osc_runtime.engines.prepare import prepare_core_job
from osc_runtime.masked_output import LineTail, MaskedStream
from osc_runtime.runlog import RunLog
from osc_runtime.scrub import Scrubber
from osc_runtime.settings import Settings

ERROR_LINES = 200  # the last stderr lines searched for the error's own line (core_errors.py)
OUTPUT_CHUNK = 65_536
PR_SET_PDEATHSIG = 1


class CoreRunner:
    """Runs OSC_JOB; a workflow's core engine (core_workflow.py) makes one per step, with the
    step's `code` and its own `job_file`."""

    def __init__(self, settings: Settings, adaptor: ResolvedAdaptor, *,
                 code: str | None = None, job_file: str = "job.js") -> None:
        self.settings = settings
        self.adaptor = adaptor
        self.core_bin = settings.node_modules / "@openfn" / "core" / "bin" / "core"
        self.work_dir = (settings.data_dir / "work").resolve()
        self.job_file = self.work_dir / job_file
        self._code = code
        self.positions: dict[int, tuple[int, int]] = {}  # see engines/prepare.py

    async def start(self) -> None:
        if not self.core_bin.is_file():
            raise RuntimeError(f"OpenFn core is not installed at {self.core_bin}")
        await _check_node(self.settings.node_binary)
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.work_dir.chmod(0o700)
        # A runtime killed mid-run leaves state files (with the credential) behind: remove them.
        for leftover in [*self.work_dir.glob("*.state.json"), *self.work_dir.glob("*.out.json")]:
            leftover.unlink(missing_ok=True)
        code = self._code if self._code is not None else self.settings.job_code()
        job = await prepare_core_job(self.settings, self.adaptor, code)
        self.job_file.write_text(job.source, encoding="utf-8")
        self.positions = job.positions

    async def close(self) -> None:
        pass

    async def run(self, state: dict[str, Any], *, log_path: Path, timeout: float) -> RunResult:
        log = RunLog(log_path, self.settings.max_log_bytes, echo=self.settings.log_job_output)
        try:
            return await self.execute(state, log=log, scrubber=Scrubber(state.get("configuration")),
                                      timeout=timeout)
        finally:
            log.close()

    async def execute(self, state: dict[str, Any], *, log: RunLog, scrubber: Scrubber,
                      timeout: float) -> RunResult:
        """One core process on `state`, its output into `log` (masked by `scrubber`)."""
        name = uuid.uuid4().hex
        state_file = self.work_dir / f"{name}.state.json"
        output_file = self.work_dir / f"{name}.out.json"
        try:
            _write_private(state_file, json.dumps(state))
            exit_code, timed_out, stderr_tail = await self._execute(
                state_file, output_file, log, scrubber, timeout
            )
            return _result(exit_code, timed_out, stderr_tail, output_file, scrubber, timeout,
                           self.positions)
        finally:
            state_file.unlink(missing_ok=True)
            output_file.unlink(missing_ok=True)

    def _command(self, state_file: Path, output_file: Path) -> list[str]:
        return [
            self.settings.node_binary, str(self.core_bin), "execute",
            "-l", self.adaptor.load_arg, "-e", str(self.job_file),
            "-s", str(state_file), "-o", str(output_file),
        ]  # fmt: skip

    def _environment(self, tag: str) -> dict[str, str]:
        # The job must not see the runtime's own secrets (API keys, the raw credential).
        env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
        env["NODE_PATH"] = os.pathsep.join(str(path) for path in self.adaptor.node_path)
        env[processes.RUN_TAG_VARIABLE] = tag  # how the run's orphans are recognised
        return env

    async def _execute(self, state_file: Path, output_file: Path, log: RunLog,
                       scrubber: Scrubber, timeout: float) -> tuple[int | None, bool, list[str]]:
        tag = processes.new_tag()
        process = await asyncio.create_subprocess_exec(
            *self._command(state_file, output_file),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment(tag),
            cwd=self.work_dir,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=die_with_parent,
        )
        processes.roots.add(process.pid)
        stderr_tail = LineTail(ERROR_LINES)
        pumps = asyncio.gather(
            _pump(process.stdout, log, MaskedStream(scrubber), None),
            _pump(process.stderr, log, MaskedStream(scrubber), stderr_tail),
        )
        timed_out = False
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            timed_out = True
        finally:
            # On timeout, on cancellation (shutdown), and whatever the job left behind.
            _kill_group(process.pid)
            try:
                await asyncio.to_thread(processes.end_run_processes, process.pid, tag)
            finally:
                await process.wait()
                processes.roots.discard(process.pid)
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(pumps, 5)  # the rest of the output: the pipes close
        return process.returncode, timed_out, stderr_tail.last()


async def _check_node(node: str) -> None:
    """Fail at start, visibly in /readyz, rather than on every run."""
    try:
        process = await asyncio.create_subprocess_exec(
            node, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        version = (await asyncio.wait_for(process.communicate(), 30))[0].decode().strip()
    except (OSError, TimeoutError) as error:
        raise RuntimeError(f"cannot run node ({node}): {error}") from None
    if process.returncode != 0 or not version.startswith("v"):
        raise RuntimeError(f"{node} --version failed: is OSC_NODE_BINARY a Node.js executable?")


async def _pump(stream: asyncio.StreamReader, log: RunLog, masked: MaskedStream,
                tail: LineTail | None) -> None:
    while True:
        chunk = await stream.read(OUTPUT_CHUNK)
        text = masked.feed(chunk) if chunk else masked.flush()
        if text:
            log.write(text)
            if tail is not None:
                tail.add(text)
        if not chunk:
            return


def die_with_parent() -> None:
    """In the child: if the runtime is killed (SIGKILL), take node down too (Linux only).

    Otherwise an orphaned run goes on after a crash and may write an output file, holding the
    credential, after the next start has cleaned the work dir.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def _result(exit_code: int | None, timed_out: bool, stderr_tail: list[str], output_file: Path,
            scrubber: Scrubber, timeout: float,
            positions: dict[int, tuple[int, int]] | None = None) -> RunResult:
    if timed_out:
        return RunResult(Outcome.TIMED_OUT, exit_code, f"the run took longer than {timeout:g} s")
    if exit_code is not None and exit_code < 0:
        return RunResult(Outcome.CRASHED, exit_code, f"node was killed by signal {-exit_code}")
    if exit_code != 0:
        return RunResult(Outcome.FAILED, exit_code, failure_message(exit_code, stderr_tail, positions))
    try:
        final = json.loads(output_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RunResult(Outcome.FAILED, 0, "core exited 0 without writing the final state "
                                            "(the job's promise never settled?)")
    except (ValueError, UnicodeDecodeError):
        return RunResult(Outcome.FAILED, 0, "core wrote a final state that is not valid JSON")
    return RunResult(Outcome.SUCCESS, 0, None, scrubber.final_state(final))
