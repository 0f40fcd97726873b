"""The lazy-state rewrite (engines/js/lazy_state.mjs) under real node with acorn: OpenFn's own
compiler tests (kit: packages/compiler/test/transforms/lazy-state.test.ts), case by case."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from osc_runtime.settings import DEFAULT_NODE_MODULES

LAZY = Path("runtime/osc_runtime/engines/js/lazy_state.mjs").resolve()
SCRIPT = """
import { rewriteLazyState } from %(lazy)s;
const load = (name, file) => import(%(modules)s + '/' + name + '/dist/' + file);
const [acorn, walk] = await Promise.all([load('acorn', 'acorn.mjs'), load('acorn-walk', 'walk.mjs')]);
const jobs = JSON.parse(await new Promise((resolve) => { let text = ''; process.stdin.on('data', (c) => text += c).on('end', () => resolve(text)); }));
console.log(JSON.stringify(jobs.map((job) => {
  try { return rewriteLazyState(job, { acorn, walk }); } catch (error) { return `${error.name}: ${error.message}`; }
})));
"""

REWRITTEN = [
    ("get($.data)", "get((state) => (state.data))"),
    ("get($.a.b.c.d)", "get((state) => (state.a.b.c.d))"),
    ("get(`hello ${$.first} ${$.last}`)", "get((state) => (`hello ${state.first} ${state.last}`))"),
    ("get(state => `hello ${$.data}`)", "get(state => `hello ${state.data}`)"),
    ('get($.first + " " + $.last)', 'get((state) => (state.first + " " + state.last))'),
    ("get(city[$.location])", "get((state) => (city[state.location]))"),
    ("fn(() => {\n  get($.data)\n})", "fn(() => {\n  get((state) => (state.data))\n})"),
    ("get($.a?.b)", "get((state) => (state.a?.b))"),
    ("get(!$.data.x)", "get((state) => (!state.data.x))"),
    ("fn($.callMeMaybe($.age))", "fn((state) => (state.callMeMaybe(state.age)))"),
    ("post('/p', {id: $.data.id, tags: [$.tag, 1]})",
     "post('/p', (state) => ({id: state.data.id, tags: [state.tag, 1]}))"),
    ("each($.data.items, post('/x', $.data))",
     "each((state) => (state.data.items), post('/x', (state) => (state.data)))"),
    ("get($['data'])", "get((state) => (state['data']))"),
]
UNTOUCHED = [
    "get(a.b.c.d)",
    'get("$.a.b")',  # a string
    "fn(($) => {\n  return $.a.b;\n})",  # a parameter
    "fn(s => {\n  const $ = 10;\n  s.data = $.a;\n  return s;\n})",  # a local constant
    "fn(s => { try { f() } catch ($) { return $.message } })",  # a catch parameter
    "fn(s => ({ ...s, $: 1, a: s.$, b: s.$.c }))",  # a property named $
    "fn(s => $)",  # $ alone is not lazy state
    "const x = { x: $.data };\nfn(s => s)",  # a top-level object, as OpenFn leaves it
]
REFUSED = [
    ("get((s) => `hello ${$.data}`)", 'parameter "s" should be called "state" (1:4)'),
    ("get((state, b) => $.data)", "parent has wrong arity (1:4)"),
    ("const x = $.data;", "Must be inside an operation (1:10)"),
    ("$.data = 20;", "Must be inside an operation (1:0)"),
    ("fn(() => { $.data = 20; })", "Must be inside an operation (1:11)"),
]


def rewrite(jobs: list[str]) -> list[str]:
    script = SCRIPT % {"lazy": json.dumps(LAZY.as_uri()),
                       "modules": json.dumps(DEFAULT_NODE_MODULES.as_uri())}
    done = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(jobs),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_lazy_state_becomes_a_function_of_state() -> None:
    assert rewrite([job for job, _ in REWRITTEN]) == [expected for _, expected in REWRITTEN]


def test_what_is_not_lazy_state_is_left_exactly_as_written() -> None:
    assert rewrite(UNTOUCHED) == UNTOUCHED


@pytest.mark.parametrize(("job", "message"), REFUSED)
def test_misplaced_lazy_state_is_refused_with_its_position(job: str, message: str) -> None:
    assert rewrite([job]) == [f"LazyStateError: Lazy State Error: {message}"]


def test_line_numbers_never_move() -> None:
    job = "fn(s => s);\n\npost('/p', {\n  a: $.data.a,\n});\nget($.url);\n"
    assert rewrite([job])[0].count("\n") == job.count("\n")
