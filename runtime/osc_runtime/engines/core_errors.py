"""The error a failed `core execute` printed, in one line, from its stderr.

Core prints the error with its stack and, for an adaptor's error, the error object's fields
(a response's headers, say), so the last stderr lines are often stack frames or headers. The
error's own line is the one that starts with its type: `SyntaxError: Unexpected token (2:0)`,
`ReferenceError [Error]: x is not defined` (vm2 adds the `[Error]`), language-http's
`Error: POST to http://… returned 500: Internal Server Error`. The stack stays in the run's log.
"""

from __future__ import annotations

import re

ERROR_LINE = re.compile(
    r"^(?P<type>[A-Za-z_$][\w$.]*(?:Error|Exception)|Error)(?: \[[\w ]+\])?: (?P<message>\S.*)$"
)
JOB_FRAME = re.compile(r"\bvm\.js:(\d+):(\d+)\b")  # a frame in the job (core's compiled code)
FALLBACK_LINES = 5  # without an error line: the last lines, as they are

Positions = dict[int, tuple[int, int]]  # compiled line -> (job line, column shift)


def core_error(stderr_lines: list[str], positions: Positions | None = None) -> str | None:
    """The last error line core printed (`Type: message`), with the job's line and column
    from its first frame in the job when `positions` can map it; None if core printed none."""
    for index in range(len(stderr_lines) - 1, -1, -1):
        match = ERROR_LINE.match(stderr_lines[index].rstrip())
        if match is not None:
            where = _job_position(stderr_lines[index + 1:], positions or {})
            return f"{match['type']}: {match['message']}{where}"
    return None


def _job_position(frames: list[str], positions: Positions) -> str:
    for frame in frames:
        if not frame.startswith((" ", "\t")):
            return ""  # past the stack
        found = JOB_FRAME.search(frame)
        if found is not None and int(found[1]) in positions:
            line, shift = positions[int(found[1])]
            return f" (line {line}, col {int(found[2]) + shift})"
    return ""


def failure_message(exit_code: int, stderr_lines: list[str],
                    positions: Positions | None = None) -> str:
    """A failed run's `error`: the error's own message first, then how core ended."""
    found = core_error(stderr_lines, positions)
    if found is not None:
        return f"{found} (core exited with code {exit_code})"
    detail = "\n".join(stderr_lines[-FALLBACK_LINES:]) or "no error output"
    return f"core exited with code {exit_code}: {detail}"
