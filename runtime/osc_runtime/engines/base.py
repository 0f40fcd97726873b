"""What every engine gives the dispatcher: run one job on one state, report the outcome.

An engine knows nothing of queues or HTTP. It is built for one job (code + adaptor) and runs it
many times; the dispatcher owns the run records.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"  # the job threw, did not compile, or never settled
    TIMED_OUT = "timed_out"  # past the run timeout; the process (group) was killed
    CRASHED = "crashed"  # the engine itself died (node killed, worker lost)


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    exit_code: int | None = None
    error: str | None = None
    # The job's final state with `configuration` removed; only on success.
    final_state: Any = None
    # A workflow's steps as they ran (osc_runtime.workflow.outcome.StepRecord); None for a job.
    steps: list[Any] | None = None


class Engine(Protocol):
    async def start(self) -> None:
        """Prepare (e.g. start warm workers). Called once before the first run."""

    async def run(self, state: dict[str, Any], *, log_path: Path, timeout: float) -> RunResult:
        """Run the job on `state`, appending its output to `log_path`.

        `state` holds the credential under `configuration`: it may be written only to a private
        (0600) file that is removed before this returns, and never to the log or the result.
        """

    async def close(self) -> None:
        """Stop whatever `start` started."""


class JobInvalid(RuntimeError):
    """The job cannot run at all (it does not compile, or calls what the adaptor lacks): found
    once at start, so the service reports it instead of failing every run. The message is the
    compiler's, with the line and column where it has them."""
