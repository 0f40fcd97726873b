"""JSON log lines on stdout, with the run id and other context fields when a record has them."""

from __future__ import annotations

import json
import logging
import sys
import time

CONTEXT_FIELDS = ("event", "run_id", "attempt", "job", "trigger", "upstream", "outcome", "status",
                  "duration_seconds", "error", "target", "client", "method", "path", "status_code")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in CONTEXT_FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(job_name: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_JobName(job_name))
    handler.addFilter(_access_fields)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings as JSON lines too, not bare stderr text


class _JobName(logging.Filter):
    def __init__(self, job_name: str) -> None:
        super().__init__()
        self.job_name = job_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.job = self.job_name
        return True


def _access_fields(record: logging.LogRecord) -> bool:
    """uvicorn's access lines as fields: client, method, path, status_code."""
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        record.client, record.method, record.path, _, record.status_code = record.args
        record.event = "http_request"
    return True
