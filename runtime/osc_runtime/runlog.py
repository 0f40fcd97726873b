"""A run's log file, bounded: when it grows past its cap the tail is kept and the cut is marked.

The tail is what explains a failure, so the head is what goes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

TRUNCATION_MARK = "[osc: earlier output truncated, {dropped} bytes dropped]\n"
job_output = logging.getLogger("osc_runtime.job")


class RunLog:
    def __init__(self, path: Path, max_bytes: int, *, echo: bool = False) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.echo = echo  # OSC_LOG_JOB_OUTPUT: also log each line on stdout (already scrubbed)
        self._file = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115

    def write(self, text: str) -> None:
        self._file.write(text)
        if self.echo:
            for line in text.splitlines():
                if line.strip():
                    job_output.info(line, extra={"event": "job_output", "run_id": self.path.stem})
        # Let the file run to twice the cap between trims, so trimming stays rare.
        if self._file.tell() > 2 * self.max_bytes:
            self._file.close()
            cap_log(self.path, self.max_bytes)
            self._file = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115

    def close(self) -> None:
        self._file.close()
        cap_log(self.path, self.max_bytes)


def cap_log(path: Path, max_bytes: int) -> None:
    """Keep at most `max_bytes` of the file: a truncation mark, then the newest output."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size <= max_bytes:
        return
    with open(path, "rb") as source:
        head = source.read(200)
        already = head.startswith(b"[osc: earlier output truncated, ")
        earlier = int(head.split(b" bytes dropped")[0].rsplit(b" ", 1)[1]) if already else 0
        keep = max_bytes - 100
        source.seek(size - keep)
        tail = source.read()
    newline = tail.find(b"\n")
    if 0 <= newline < 1000:
        tail = tail[newline + 1 :]  # start on a whole line
    mark = TRUNCATION_MARK.format(dropped=earlier + size - len(tail)).encode()
    temporary = path.with_suffix(".trim")
    temporary.write_bytes(mark + tail)
    os.replace(temporary, path)
