"""A run's log file, bounded: when it grows past its cap the tail is kept and the cut is marked.

The tail is what explains a failure, so the head is what goes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

TRUNCATION_MARK = "[osc: earlier output truncated, {dropped} bytes dropped]\n"
PRIVATE_FILE_MODE = 0o600  # run logs may hold what a job printed: the runtime user only
job_output = logging.getLogger("osc_runtime.job")


def open_private(path: Path, *, truncate: bool = False) -> int:
    """A file descriptor to append to (or rewrite) `path`, readable by its owner only.

    The mode is set explicitly, not left to the umask, and also on a file an older version
    created with a wider one."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return descriptor


def append_private(path: Path):  # noqa: ANN201 (a text file object)
    return os.fdopen(open_private(path), "a", encoding="utf-8", errors="replace")


class RunLog:
    def __init__(self, path: Path, max_bytes: int, *, echo: bool = False) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.echo = echo  # OSC_LOG_JOB_OUTPUT: also log each line on stdout (already scrubbed)
        self._file = append_private(path)

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
            self._file = append_private(self.path)

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
    with os.fdopen(open_private(temporary, truncate=True), "wb") as trimmed:
        trimmed.write(mark + tail)
    os.replace(temporary, path)
