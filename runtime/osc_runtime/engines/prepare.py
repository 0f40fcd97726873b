"""Prepare a job for @openfn/core once, at start: rewrite lazy state, check it compiles.

`js/prepare_job.mjs` does the work in node (acorn, core's own compiler, the adaptor's exports);
this runs it and turns its verdict into the job core runs, or JobInvalid.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines.base import JobInvalid
from osc_runtime.settings import Settings

PREPARE_SCRIPT = Path(__file__).with_name("js") / "prepare_job.mjs"
PREPARE_TIMEOUT = 60.0  # node, core and the adaptor loaded once, on a busy host


@dataclass(frozen=True)
class PreparedJob:
    source: str  # what core runs: the job with lazy state rewritten
    # line of core's compiled code (`vm.js:<line>` in its stack traces) -> (job line, column
    # shift): so an error can name the job's own line
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)


async def prepare_core_job(settings: Settings, adaptor: ResolvedAdaptor, job: str) -> PreparedJob:
    """The job as core should run it (lazy state rewritten); JobInvalid if it cannot run."""
    request = {"nodeModules": str(settings.node_modules), "adaptorPath": str(adaptor.path),
               "job": job}
    process = await asyncio.create_subprocess_exec(
        settings.node_binary, str(PREPARE_SCRIPT),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(adaptor),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(json.dumps(request).encode()),
                                          PREPARE_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"preparing the job took longer than {PREPARE_TIMEOUT:g} s") from None
    try:
        verdict = json.loads(out)
    except ValueError:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"cannot prepare the job: {tail[0]}") from None
    if verdict.get("error"):
        raise JobInvalid(verdict["error"])
    positions = {int(line): (int(at[0]), int(at[1]))
                 for line, at in (verdict.get("positions") or {}).items()}
    return PreparedJob(verdict["source"], positions)


def _environment(adaptor: ResolvedAdaptor) -> dict[str, str]:
    # As for a run: the adaptor's folders on NODE_PATH, none of the runtime's own settings.
    env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
    env["NODE_PATH"] = os.pathsep.join(str(path) for path in adaptor.node_path)
    return env
