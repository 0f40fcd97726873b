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
FALLBACK_LINES = 5  # without an error line: the last lines, as they are


def core_error(stderr_lines: list[str]) -> str | None:
    """The last error line core printed (`Type: message`), or None if it printed none."""
    for line in reversed(stderr_lines):
        match = ERROR_LINE.match(line.rstrip())
        if match is not None:
            return f"{match['type']}: {match['message']}"
    return None


def failure_message(exit_code: int, stderr_lines: list[str]) -> str:
    """A failed run's `error`: the error's own message first, then how core ended."""
    found = core_error(stderr_lines)
    if found is not None:
        return f"{found} (core exited with code {exit_code})"
    detail = "\n".join(stderr_lines[-FALLBACK_LINES:]) or "no error output"
    return f"core exited with code {exit_code}: {detail}"
