"""The error line found in what `core execute` printed on stderr (engines/core_errors.py).

The samples are core 1.5.1's real stderr (captured from `core execute` runs of such jobs); the
live runs of tests/runtime/test_job_errors.py check the same through the whole runtime."""

from __future__ import annotations

from osc_runtime.engines.core_errors import failure_message

SYNTAX_ERROR = """SyntaxError: Unexpected token (2:0)
    at pp$4.raise (/app/node_modules/acorn/dist/acorn.js:3841:15)
    at pp$9.unexpected (/app/node_modules/acorn/dist/acorn.js:839:10)
    at pp$5.parseExprAtomDefault (/app/node_modules/acorn/dist/acorn.js:3178:10)
    at pp$5.parseMaybeAssign (/app/node_modules/acorn/dist/acorn.js:2780:21)
    at /app/node_modules/acorn/dist/acorn.js:2742:27 {
  pos: 15,
  loc: Position { line: 2, column: 0 },
  raisedAt: 15
}"""
HTTP_500 = """(node:30882) ExperimentalWarning: DecompressInterceptor is experimental
POST http://127.0.0.1:18765/records - 500 in 53ms
response body: 
{ ok: false }
Error: POST to http://127.0.0.1:18765/records returned 500: Internal Server Error
    at assertOK (/app/node_modules/@openfn/language-common/dist/util.cjs:224:19)
    at async request (/app/node_modules/@openfn/language-common/dist/util.cjs:310:3) {
  statusCode: 500,
  statusMessage: 'Internal Server Error',
  headers: {
    server: 'BaseHTTP/0.6 Python/3.11.7',
    'content-type': 'application/json'
  }
}"""
REFERENCE_ERROR = """ReferenceError [Error]: x is not defined
    at vm.js:4:5
    at VM2 Wrapper.apply (/app/node_modules/vm2/lib/bridge.js:485:11)
    at /app/node_modules/@openfn/language-common/dist/index.cjs:596:12"""


def test_a_syntax_error_is_its_message_not_acorns_stack() -> None:
    assert failure_message(1, SYNTAX_ERROR.splitlines()) == (
        "SyntaxError: Unexpected token (2:0) (core exited with code 1)")


def test_an_http_error_is_the_returned_500_line_not_the_headers() -> None:
    assert failure_message(1, HTTP_500.splitlines()) == (
        "Error: POST to http://127.0.0.1:18765/records returned 500: Internal Server Error"
        " (core exited with code 1)")


def test_a_job_frame_is_mapped_back_to_the_job_line() -> None:
    # compiled line 4 is the job's line 3, two columns further left (core re-indents)
    lines = REFERENCE_ERROR.splitlines()
    assert failure_message(1, lines, {4: (3, -2)}) == (
        "ReferenceError: x is not defined (line 3, col 3) (core exited with code 1)")
    assert failure_message(1, lines) == "ReferenceError: x is not defined (core exited with code 1)"


def test_without_an_error_line_the_last_lines_are_kept() -> None:
    assert failure_message(1, ["one", "two"]) == "core exited with code 1: one\ntwo"
    assert failure_message(1, []) == "core exited with code 1: no error output"
