"""A stdout handler that writes the lines of one event-loop turn with one system call.

`logging.StreamHandler` writes and flushes every record: two lines per accepted run (the
`run_accepted` event and the access line) cost two `write`s each, on the event loop. Here a
record logged on a thread running an event loop is formatted at once (so its fields are those
of the moment) and queued; the queue is written and flushed by a callback at the start of the
loop's next turn, that is before the loop waits for anything. Any other record (another
thread, no loop running) writes the queue and itself at once. `flush()` (called by
`logging.shutdown` at exit) writes whatever is queued, so a clean stop loses nothing; a
`SIGKILL` could lose the lines of the turn it interrupts, as with any buffered writer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TextIO


class TurnBufferedHandler(logging.Handler):
    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._pending: list[str] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        loop = _running_loop()
        with self.lock:
            self._pending.append(line)
            if loop is not None:
                if not self._scheduled:
                    self._scheduled = True
                    loop.call_soon(self.flush)
                return
        self.flush()

    def flush(self) -> None:
        with self.lock:
            self._scheduled = False
            if not self._pending:
                return
            text, self._pending = "".join(self._pending), []
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # stdout closed (a pipe whose reader went away)
                pass


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
