"""The legacy-job compiler (engines/js/compile.mjs) under real node with acorn."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from osc_runtime.settings import DEFAULT_NODE_MODULES

COMPILE = Path("runtime/osc_runtime/engines/js/compile.mjs").resolve()
NODE_MODULES = DEFAULT_NODE_MODULES
SCRIPT = """
import { compileLegacyJob } from %(compile)s;
const load = (name) => import(%(modules)s + '/' + name + '/dist/' + (name === 'acorn' ? 'acorn.mjs' : 'walk.mjs'));
const [acorn, walk] = await Promise.all([load('acorn'), load('acorn-walk')]);
const job = await new Promise((resolve) => { let text = ''; process.stdin.on('data', (c) => text += c).on('end', () => resolve(text)); });
try {
  console.log(compileLegacyJob(job, '@openfn/language-http', ['fn', 'get', 'post', 'each', 'dataValue', 'execute', 'alterState'], { acorn, walk }));
} catch (error) {
  console.log(`${error.name}: ${error.message}`);
}
"""


def compile_job(job: str) -> str:
    script = SCRIPT % {"compile": json.dumps(COMPILE.as_uri()), "modules": json.dumps(NODE_MODULES.as_uri())}
    done = subprocess.run(["node", "--input-type=module", "-e", script], input=job,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.rstrip("\n")


def test_operations_become_the_default_export_with_only_the_used_imports() -> None:
    module = compile_job(
        "// a comment\n"
        "get('/people', {}, state => { console.log(dataValue('id')(state)); return state });\n"
        "each('$.data[*]', post('/copies', state => state.data))\n"
    )
    assert module.splitlines() == [
        'import { dataValue, each, execute, get, post } from "@openfn/language-http";',
        "export { execute };",
        "export default [",
        "  get('/people', {}, state => { console.log(dataValue('id')(state)); return state }),",
        "  each('$.data[*]', post('/copies', state => state.data)),",
        "];",
    ]


def test_top_level_statements_other_than_operations_are_dropped_as_core_does() -> None:
    module = compile_job("const limit = 3;\nif (true) { fn(s => s) }\n")
    assert "limit" not in module and "  fn(s => s)," in module


@pytest.mark.parametrize("job, error", [
    ("fn(s => ", "CompileError: SyntaxError: Unexpected token (1:8)"),
    ("fn(s => s);\nlaunch(1)", "CompileError: Function not available: launch (line 2)"),
    ("class Sneaky {}\nfn(s => s)", "CompileError: Illegal class statement (line 1)"),
])  # fmt: skip
def test_jobs_core_would_refuse_are_refused(job: str, error: str) -> None:
    assert compile_job(job).strip() == error
