"""JSON log lines on stdout, with the run id and other context fields when a record has them."""

from __future__ import annotations

import json
import logging
import sys
import time

import orjson

from osc_runtime.log_writer import TurnBufferedHandler
from osc_runtime.request_meta import mask_query

CONTEXT_FIELDS = ("event", "run_id", "attempt", "job", "trigger", "upstream", "outcome", "status",
                  "duration_seconds", "error", "target", "client", "method", "path", "status_code",
                  "auth")


class JsonFormatter(logging.Formatter):
    _stamp: tuple[int, str] = (-1, "")  # (second, its text): one tuple, safe across threads

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        line.update({name: fields[name] for name in CONTEXT_FIELDS if name in fields})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        try:  # orjson: a tenth of json's time, and two lines per accepted run
            return orjson.dumps(line, default=str).decode()
        except TypeError:  # what orjson will not write (a lone surrogate, an int past 64 bits)
            return json.dumps(line, default=str)

    def _time(self, created: float) -> str:
        """The record's time to the second, formatted once per second (not once per line)."""
        second, text = self._stamp
        if int(created) != second:
            second = int(created)
            text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            self._stamp = (second, text)
        return text


def configure_logging(job_name: str, level: int = logging.INFO,
                      hidden_query_params: frozenset[str] = frozenset()) -> None:
    """`hidden_query_params`: query parameters (OSC_API_KEY_QUERY_PARAM) masked in access lines."""
    handler = TurnBufferedHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_JobName(job_name))
    handler.addFilter(_MaskQuery(hidden_query_params))
    handler.addFilter(_access_fields)
    # No line shows the caller's file, thread or process: logging need not look them up
    # (the "Optimization" advice of Python's logging HOWTO); a frame walk per line otherwise.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # Python 3.12+: the task name
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


class _MaskQuery(logging.Filter):
    """uvicorn's access line prints the query string: a key in it must not reach the log."""

    def __init__(self, params: frozenset[str]) -> None:
        super().__init__()
        self.params = params

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if self.params and record.name == "uvicorn.access" and isinstance(args, tuple) \
                and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], mask_query(args[2], self.params), *args[3:])
        return True


def _access_fields(record: logging.LogRecord) -> bool:
    """uvicorn's access lines as fields: client, method, path, status_code."""
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        record.client, record.method, record.path, _, record.status_code = record.args
        record.event = "http_request"
    return True
