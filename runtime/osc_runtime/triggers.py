"""How runs are triggered: the trigger settings and a run's initial state.

The operator sets these variables on the job's Deployment (see the README's *Triggers*):
OSC_FILTER (webhook message filter), OSC_FLOW_TARGETS (the jobs that run after this one) and the
flow callback backoff. They are read once at start-up; an invalid one stops start-up with one
line naming it.
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
    flow_retry_backoff_seconds: float = Field(
        1, gt=0, description="The first flow hand-off retry's delay; doubles each time.")
    flow_retry_max_backoff_seconds: float = Field(
        30, gt=0, description="The longest delay between flow hand-off retries.")

    def message_filter(self) -> MessageFilter:
        return MessageFilter.from_json(self.filter)

    def targets(self) -> list[FlowTarget]:
        if self.flow_targets is None:
            return []
        try:
            raw = json.loads(self.flow_targets)
        except ValueError as error:
            raise SettingsError(f"OSC_FLOW_TARGETS: not valid JSON ({error})") from None
        if not isinstance(raw, list):
            raise SettingsError("OSC_FLOW_TARGETS: must be a JSON list of targets")
        targets = [_target(index, item) for index, item in enumerate(raw)]
        names = [target.name for target in targets]
        if len(set(names)) != len(names):
            raise SettingsError("OSC_FLOW_TARGETS: each target name may appear only once")
        return targets


def _target(index: int, item: Any) -> FlowTarget:
    try:
        return FlowTarget.model_validate(item)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in (index, *first["loc"]))
        raise SettingsError(f"OSC_FLOW_TARGETS: {where}: {first['msg']}") from None


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

