"""POST one cron tick to the job's inbox; exit 0 on 202, 1 with one line otherwise.

Run by the job's CronJob, so a missed tick shows up in Kubernetes' own job history and alerts.
It reads the OSC_TRIGGER_* variables below (URL and KEY_PATH are required), not the runtime's
OSC_* set: this pod runs no job.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from osc_runtime.cli import command_parser
from osc_runtime.payload import PayloadError, parse_payload
from osc_runtime.settings import SettingsError

FAILED = 1


class TriggerCommandSettings(BaseSettings):
    """Read as text and checked by `_read_environment`, so each error names its variable."""

    model_config = SettingsConfigDict(env_prefix="OSC_TRIGGER_", extra="ignore", frozen=True)

    url: str = Field("", description="The inbox, e.g. http://<job>.<namespace>.svc/inbox.")
    key_path: str = Field("", description="A file holding the inbox key, the mounted Secret.")
    body: str = Field("{}", description="The JSON body to POST.")
    timeout_seconds: str = Field("30", description="How long to wait for the answer.")


def main(argv: list[str]) -> int:
    command_parser("osc-runtime trigger", __doc__, TriggerCommandSettings).parse_args(argv)
    url, key, body, timeout = _read_environment(TriggerCommandSettings())
    try:
        answer = httpx.post(url, content=body, timeout=timeout, params={"sync": "false"},
                            headers={"Authorization": f"Bearer {key}", "X-OSC-Trigger": "cron",
                                     "Content-Type": "application/json"})
    except httpx.HTTPError as error:
        return _fail(f"cannot reach the inbox at {url}: {type(error).__name__}: {error}")
    if answer.status_code != 202:
        return _fail(f"the inbox at {url} answered {answer.status_code}: {_reason(answer)}")
    run_id = answer.json().get("run_id")
    print(json.dumps({"message": "run accepted", "event": "cron_tick", "run_id": run_id,
                      "url": url, "job": os.environ.get("OSC_JOB_NAME")}), flush=True)
    return 0


def _read_environment(settings: TriggerCommandSettings) -> tuple[str, str, bytes, float]:
    url = settings.url.strip()
    if not url.startswith(("http://", "https://")):
        raise SettingsError("OSC_TRIGGER_URL: set it to the job's inbox URL (http://…/inbox)")
    key_path = settings.key_path.strip()
    if not key_path:
        raise SettingsError("OSC_TRIGGER_KEY_PATH: set it to the file holding the inbox key")
    try:
        key = Path(key_path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"OSC_TRIGGER_KEY_PATH: cannot read {key_path}: {error}") from None
    if not key:
        raise SettingsError(f"OSC_TRIGGER_KEY_PATH: {key_path} is empty")
    body = settings.body.strip() or "{}"
    try:
        parse_payload(body.encode())
    except PayloadError as error:
        raise SettingsError(f"OSC_TRIGGER_BODY: {error}") from None
    try:
        timeout = float(settings.timeout_seconds.strip() or 30)
    except ValueError:
        raise SettingsError("OSC_TRIGGER_TIMEOUT_SECONDS: must be a number of seconds") from None
    return url, key, body.encode(), timeout


def _reason(answer: httpx.Response) -> str:
    try:
        message = answer.json().get("error")
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or answer.text or answer.reason_phrase).split())[:300]


def _fail(message: str) -> int:
    print(f"osc-runtime trigger: {' '.join(message.split())}", file=sys.stderr)
    return FAILED
