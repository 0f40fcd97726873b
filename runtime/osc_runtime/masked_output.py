"""A job's output stream with the credential masked, read in chunks without losing a byte.

Reading line by line with a fixed limit loses what a longer line had buffered, and masking
each read on its own misses a secret that two reads split. Here chunks are decoded
incrementally and masked together with what came before; what is passed on stops at the last
complete line, and never includes an end of the text that begins a secret (the next read may
complete it), so a secret cut by a read is still whole when it is masked.
"""

from __future__ import annotations

import codecs
import collections

from osc_runtime.scrub import Scrubber

MAX_HELD_LINE = 65_536  # a longer line without a newline is passed on in pieces


class MaskedStream:
    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> str:
        """What of the output so far can be passed on, masked."""
        text = self.scrubber.text(self._pending + self._decoder.decode(data))
        complete = len(text) - self.scrubber.unfinished(text)  # beyond: maybe half a secret
        line_end = text.rfind("\n", 0, complete) + 1
        # Whole lines (stdout and stderr share the log), unless a line grows too long.
        cut = line_end if len(text) - line_end <= MAX_HELD_LINE else complete
        self._pending = text[cut:]
        return text[:cut]

    def flush(self) -> str:
        """The rest, at the end of the output (ended by a newline)."""
        text = self.scrubber.text(self._pending + self._decoder.decode(b"", final=True))
        self._pending = ""
        return text if not text or text.endswith("\n") else text + "\n"


class LineTail:
    """The last `size` non-blank lines of masked text passed on in arbitrary pieces."""

    def __init__(self, size: int) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self._partial = ""

    def add(self, text: str) -> None:
        *complete, self._partial = (self._partial + text).split("\n")
        self.lines.extend(line.rstrip() for line in complete if line.strip())
        if len(self._partial) > MAX_HELD_LINE:
            self._partial = self._partial[-MAX_HELD_LINE:]

    def last(self) -> list[str]:
        partial = [self._partial.rstrip()] if self._partial.strip() else []
        return (list(self.lines) + partial)[-self.lines.maxlen:]
