// Prepare a legacy job for @openfn/core, once, at start-up:
//   node prepare_job.mjs        stdin:  {nodeModules, adaptorPath, job}
//                               stdout: {source} (the job core will run) or {error}
// Lazy state (`$.data`) is rewritten into functions of state (lazy_state.mjs), since core does
// not know it; nothing else in the job changes. The result is then compiled with core's own
// compiler, transforms and verification against the adaptor's exports (as `core execute`
// does before every run), so a job core would refuse is found here, with the same verdict.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { rewriteLazyState } from './lazy_state.mjs';

async function importFrom(nodeModules, name, file) {
  return import(pathToFileURL(path.join(nodeModules, name, 'dist', file)).href);
}

function callee(node) {
  const target = node.callee.type === 'MemberExpression' ? node.callee.object : node.callee;
  return target.type === 'Identifier' ? target.name : 'a call';
}

// Where each line of the code core runs (its compile of the job, `vm.js` in its stack traces)
// came from in the job: {generated line: [job line, column shift]}. Core's own transforms, printed
// by recast with a source map; only used when the print is exactly what core runs.
function jobPositions(require, nodeModules, core, source) {
  try {
    const recast = require(path.join(nodeModules, 'recast'));
    const { SourceMapConsumer } = require(path.join(nodeModules, 'source-map'));
    const acorn = require(path.join(nodeModules, 'acorn'));
    const parse = (code) => acorn.parse(code, { sourceType: 'script', ecmaVersion: 10, allowHashBang: true, locations: true });
    const ast = recast.parse(source.replace(/\ $/, ''), { tolerant: true, range: true, sourceFileName: 'job.js', parser: { parse } });
    ast.program.errors = [];
    const printed = recast.print(core.transforms.defaultTransforms.reduce((tree, transform) => transform(tree), ast), { sourceMapName: 'job.map' });
    if (printed.code !== new core.Compile(source, [...core.transforms.defaultTransforms]).toString()) return {};
    const positions = {};
    new SourceMapConsumer(printed.map).eachMapping((m) => {
      if (m.source && !(m.generatedLine in positions)) {
        positions[m.generatedLine] = [m.originalLine, m.originalColumn - m.generatedColumn];
      }
    });
    return positions;
  } catch {
    return {}; // without positions an error has no job line; it still has its message
  }
}

// core's own verdict: a syntax error (as acorn, which core uses, words it) or its compile errors
function coreVerdict(nodeModules, adaptorPath, source) {
  const require = createRequire(path.join(nodeModules, 'osc-prepare.js'));
  const core = require(path.join(nodeModules, '@openfn', 'core'));
  const adaptor = require(adaptorPath);
  const { buildSandbox, VMGlobals } = core.sandbox;
  const sandbox = buildSandbox({ noConsole: false, testMode: false, extensions: [adaptor.Adaptor || adaptor] });
  const { defaultTransforms, verify } = core.transforms;
  let compiled;
  try {
    compiled = new core.Compile(source, [...defaultTransforms, verify({ sandbox: { ...sandbox, ...VMGlobals } })]);
  } catch (error) {
    return { error: error.name === 'Error' ? error.message : `${error.name}: ${error.message}` };
  }
  const [first] = compiled.errors;
  if (!first) return { positions: jobPositions(require, nodeModules, core, source) };
  const where = first.node.loc ? ` (line ${first.node.loc.start.line})` : '';
  return { error: `Function not available: ${callee(first.node)}${where}` };
}

async function prepare({ nodeModules, adaptorPath, job }) {
  const acorn = await importFrom(nodeModules, 'acorn', 'acorn.mjs');
  const walk = await importFrom(nodeModules, 'acorn-walk', 'walk.mjs');
  let source;
  try {
    source = rewriteLazyState(job, { acorn, walk });
  } catch (error) {
    // a syntax error is reported by core's own parse below, as core would report it
    if (error.name !== 'SyntaxError') return { error: error.message };
    source = job;
  }
  const { error, positions } = coreVerdict(nodeModules, adaptorPath, source);
  return error ? { error } : { source, positions };
}

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
prepare(input).then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (error) => {
    process.stdout.write(JSON.stringify({ error: `cannot prepare the job: ${error.message}` }));
  },
);
