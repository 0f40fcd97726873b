"""POST one cron tick to the job's inbox; exit 0 on 202, 1 with one line otherwise.

Run by the job's CronJob, so a missed tick shows up in Kubernetes' own job history and alerts.
Variables (not the runtime's OSC_* set: this pod runs no job):
  OSC_TRIGGER_URL          the inbox, e.g. http://<job>.<namespace>.svc/inbox   (required)
  OSC_TRIGGER_KEY_PATH     a file holding the inbox key (the mounted Secret)     (required)
  OSC_TRIGGER_BODY         the JSON body to POST (default {})
  OSC_TRIGGER_TIMEOUT_SECONDS  how long to wait for the answer (default 30)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

from osc_runtime.payload import PayloadError, parse_payload
from osc_runtime.settings import SettingsError

FAILED = 1


def main(argv: list[str]) -> int:
    if argv:
        raise SettingsError(f"trigger takes no arguments (got {argv[0]!r}); use OSC_TRIGGER_*")
    url, key, body, timeout = _read_environment()
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


def _read_environment() -> tuple[str, str, bytes, float]:
    url = os.environ.get("OSC_TRIGGER_URL", "").strip()
    if not url.startswith(("http://", "https://")):
        raise SettingsError("OSC_TRIGGER_URL: set it to the job's inbox URL (http://…/inbox)")
    key_path = os.environ.get("OSC_TRIGGER_KEY_PATH", "").strip()
    if not key_path:
        raise SettingsError("OSC_TRIGGER_KEY_PATH: set it to the file holding the inbox key")
    try:
        key = Path(key_path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"OSC_TRIGGER_KEY_PATH: cannot read {key_path}: {error}") from None
    if not key:
        raise SettingsError(f"OSC_TRIGGER_KEY_PATH: {key_path} is empty")
    body = os.environ.get("OSC_TRIGGER_BODY", "").strip() or "{}"
    try:
        parse_payload(body.encode())
    except PayloadError as error:
        raise SettingsError(f"OSC_TRIGGER_BODY: {error}") from None
    try:
        timeout = float(os.environ.get("OSC_TRIGGER_TIMEOUT_SECONDS", "").strip() or 30)
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
