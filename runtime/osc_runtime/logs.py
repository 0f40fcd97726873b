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


class QuickLogger:
    """A logger's `info` for the lines written on every request (the access line, `run_accepted`).

    When the only handler a record would reach is the one `configure_logging` installed (the
    usual case), the handler gets a `_Line`: what its filters and formatter read of a record,
    without `logging` building a LogRecord (its caller, thread and process fields) and walking
    the loggers: the same JSON line in half the time. Otherwise (another handler or filter was
    added, as a test's log capture does) the logger logs as always.
    """

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def info(self, msg: str, *args: object, extra: dict[str, object] | None = None) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = _sole_handler(logger)
        if handler is None:
            logger.info(msg, *args, extra=extra)
            return
        handler.handle(_Line(logger.name, msg, args, extra))  # type: ignore[arg-type]


class _Line:
    levelname, levelno = "INFO", logging.INFO
    exc_info = exc_text = stack_info = None

    def __init__(self, name: str, msg: str, args: tuple, extra: dict[str, object] | None) -> None:
        if extra:
            self.__dict__.update(extra)
        self.name, self.msg, self.args, self.created = name, msg, args, time.time()

    def getMessage(self) -> str:  # noqa: N802 (LogRecord's name)
        return self.msg % self.args if self.args else self.msg


def _sole_handler(logger: logging.Logger) -> TurnBufferedHandler | None:
    """The handler of `configure_logging` if a record of `logger` would reach it and no other."""
    node: logging.Logger | None = logger
    root = logging.root
    while node is not root:
        if node is None or node.handlers or node.filters or not node.propagate:
            return None
        node = node.parent  # type: ignore[assignment]
    handlers = root.handlers
    if len(handlers) != 1 or root.filters or not getattr(handlers[0], "quick_lines", False) \
            or handlers[0].level > logging.INFO:
        return None
    return handlers[0]  # type: ignore[return-value]


def configure_logging(job_name: str, level: int = logging.INFO,
                      hidden_query_params: frozenset[str] = frozenset()) -> None:
    """`hidden_query_params`: query parameters (OSC_API_KEY_QUERY_PARAM) masked in access lines."""
    handler = TurnBufferedHandler(sys.stdout)
    handler.quick_lines = True  # its filters and formatter read what a QuickLogger gives them
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_Fields(job_name, hidden_query_params))
    # No line shows the caller's file, thread or process: logging need not look them up
    # (the "Optimization" advice of Python's logging HOWTO); a frame walk per line otherwise.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # Python 3.12+: the task name
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings as JSON lines too, not bare stderr text


class _Fields(logging.Filter):
    """Every line names the job; uvicorn's access lines also get their parts as fields (client,
    method, path, status_code), with the API key query parameter masked (uvicorn prints the
    query string: a key in it must not reach the log)."""

    def __init__(self, job_name: str, hidden_query_params: frozenset[str]) -> None:
        super().__init__()
        self.job_name = job_name
        self.params = hidden_query_params

    def filter(self, record: logging.LogRecord) -> bool:
        record.job = self.job_name
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            if self.params and isinstance(args[2], str):
                record.args = args = (*args[:2], mask_query(args[2], self.params), *args[3:])
            record.client, record.method, record.path, _, record.status_code = args
            record.event = "http_request"
        return True
