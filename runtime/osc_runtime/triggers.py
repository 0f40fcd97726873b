"""How runs are triggered: the trigger settings and a run's initial state.

The operator sets these variables on the job's Deployment (see the README's *Triggers*):
OSC_FILTER (webhook message filter), OSC_FLOW_TARGETS_PATH (a file listing the jobs that run
after this one; OSC_FLOW_TARGETS holds the same list inline, for a runtime started by hand)
and the flow callback backoff. They are read at start-up; an invalid one stops start-up with
one line naming it. The targets file is read again whenever it changes (flow_targets.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from osc_runtime.filters import MessageFilter
from osc_runtime.settings import SettingsError

CRON = "cron"
FLOW = "flow"
WEBHOOK = "webhook"


class FlowTarget(BaseModel):
    """A downstream job that gets this job's outcome: on success its final state, on failure
    the error and the input."""

    name: str = Field(min_length=1, max_length=253)
    on: Literal["success", "failure"]
    url: str = Field(pattern=r"^https?://")
    key_path: Path


class TriggerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OSC_", extra="ignore", frozen=True,
                                      env_ignore_empty=True)

    filter: str | None = Field(None, description="JSON {path: expected value}: runs only for bodies that match.")
    flow_targets: str | None = Field(None, description="JSON list of the jobs that run after this one.")
    flow_targets_path: Path | None = Field(
        None, description="A file holding that JSON list, read again when it changes.")
    flow_targets_poll_seconds: float = Field(
        5, gt=0, le=300, description="How often the flow targets file is checked for changes.")
    flow_retry_backoff_seconds: float = Field(
        1, gt=0, description="The first flow hand-off retry's delay; doubles each time.")
    flow_retry_max_backoff_seconds: float = Field(
        30, gt=0, description="The longest delay between flow hand-off retries.")

    def message_filter(self) -> MessageFilter:
        return MessageFilter.from_json(self.filter)

    def targets(self) -> list[FlowTarget]:
        """The targets now: from OSC_FLOW_TARGETS, or the file (none while it is missing)."""
        if self.flow_targets is not None and self.flow_targets_path is not None:
            raise SettingsError("OSC_FLOW_TARGETS or OSC_FLOW_TARGETS_PATH: set at most one")
        if self.flow_targets is not None:
            return parse_targets(self.flow_targets, "OSC_FLOW_TARGETS")
        raw = read_targets_file(self.flow_targets_path)
        return [] if raw is None else parse_targets(raw, "OSC_FLOW_TARGETS_PATH")


def read_targets_file(path: Path | None) -> str | None:
    """The targets file's text; None when there is no file (no target yet)."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SettingsError(f"OSC_FLOW_TARGETS_PATH: cannot read {path}: "
                            f"{error.strerror}") from None


def parse_targets(text: str, where: str) -> list[FlowTarget]:
    """Flow targets from their JSON text; SettingsError naming `where` when it is invalid."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise SettingsError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(raw, list):
        raise SettingsError(f"{where}: must be a JSON list of targets")
    targets = [_target(where, index, item) for index, item in enumerate(raw)]
    names = [target.name for target in targets]
    if len(set(names)) != len(names):
        raise SettingsError(f"{where}: each target name may appear only once")
    return targets


def _target(where: str, index: int, item: Any) -> FlowTarget:
    try:
        return FlowTarget.model_validate(item)
    except ValidationError as error:
        first = error.errors()[0]
        at = ".".join(str(part) for part in (index, *first["loc"]))
        raise SettingsError(f"{where}: {at}: {first['msg']}") from None


def load_trigger_settings() -> TriggerSettings:
    """Read and check the trigger variables; raise SettingsError naming the bad one."""
    try:
        settings = TriggerSettings()
    except ValidationError as error:
        first = error.errors()[0]
        raise SettingsError(f"OSC_{str(first['loc'][0]).upper()}: {first['msg']}") from None
    settings.message_filter()
    settings.targets()
    return settings


def initial_state(run_trigger: str, body: Any, credential: Any, carried: Any) -> dict[str, Any]:
    """The state a run starts from.

    A cron tick starts from the last successful run's final state (`carried`, stored without
    `configuration`) so a job can keep a cursor between ticks; its own body is used only when
    there is no such state yet. Every run gets the current credential as `configuration`.
    """
    if run_trigger == CRON and isinstance(carried, dict):
        return {**carried, "configuration": credential}
    return {"configuration": credential, "data": body}

