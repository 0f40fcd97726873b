// Compile a legacy OpenFn job (bare top-level operations, as @openfn/core runs it) into the
// ES module form @openfn/runtime expects:
//
//   fn(...); get(...)   ─►   import { fn, get, execute } from "<adaptor>";
//                            export { execute };
//                            export default [fn(...), get(...)];
//
// It follows @openfn/core 1.5.1's own transforms (lib/compile/transforms.js) so a job means the
// same thing under both engines: the operations are every call expression that is not inside
// another call, in source order; everything else at the top level is dropped; class statements
// are refused; a top-level call of a function the adaptor does not export is a compile error.
// The adaptor's `execute` is re-exported because core runs the operations through it (some
// adaptors seed state there, e.g. language-http adds `references` and `data`).

// acorn and acorn-walk are passed in by the caller, loaded from the node_modules osc was given
// (this file may live apart from them, e.g. inside a Python package).

import vm from 'node:vm';

import { rewriteLazyState } from './lazy_state.mjs';

export class CompileError extends Error {
  name = 'CompileError';
}

// Globals a job may call at the top level without importing them: the JavaScript built-ins
// and what core's sandbox adds (console, setTimeout, state, testMode).
const SANDBOX_GLOBALS = new Set([
  ...vm.runInNewContext('Object.getOwnPropertyNames(globalThis)'),
  ...['console', 'setTimeout', 'state', 'testMode', 'Buffer'],
]);

function parse(acorn, code) {
  try {
    return acorn.parse(code, {
      sourceType: 'script',
      ecmaVersion: 'latest',
      allowHashBang: true,
      locations: true,
    });
  } catch (error) {
    throw new CompileError(`SyntaxError: ${error.message}`);
  }
}

function rootCalls(walk, ast) {
  const calls = [];
  walk.recursive(ast, null, {
    // Do not descend: calls nested in a call are its arguments, not operations.
    CallExpression(node) {
      calls.push(node);
    },
    ClassDeclaration(node) {
      throw new CompileError(`Illegal class statement (line ${node.loc.start.line})`);
    },
  });
  return calls;
}

function referencedNames(walk, nodes) {
  const names = new Set();
  for (const node of nodes) {
    walk.full(node, (inner) => {
      if (inner.type === 'Identifier') names.add(inner.name);
    });
  }
  return names;
}

function checkCallees(calls, exportNames) {
  for (const call of calls) {
    const callee = call.callee.type === 'MemberExpression' ? call.callee.object : call.callee;
    if (callee.type !== 'Identifier') continue;
    if (!exportNames.has(callee.name) && !SANDBOX_GLOBALS.has(callee.name)) {
      throw new CompileError(
        `Function not available: ${callee.name} (line ${call.loc.start.line})`
      );
    }
  }
}

function lazyState(code, parser) {
  try {
    return rewriteLazyState(code, parser);
  } catch (error) {
    throw new CompileError(error.message);
  }
}

/**
 * @param {string} source the legacy job (lazy state `$.x` is rewritten first, see lazy_state.mjs)
 * @param {string} adaptor the module specifier to import from
 * @param {Iterable<string>} adaptorExports the names the adaptor exports
 * @param {{acorn: object, walk: object}} parser the acorn and acorn-walk modules
 * @returns {string} the ES module source
 */
export function compileLegacyJob(source, adaptor, adaptorExports, parser) {
  return compileWithLines(source, adaptor, adaptorExports, parser).module;
}

/**
 * As compileLegacyJob, and where each line came from: `jobLines[n]` is the job's line that
 * became the module's line n (1-based), so an error's position can name the job's own line.
 */
export function compileWithLines(source, adaptor, adaptorExports, { acorn, walk }) {
  const exportNames = new Set(adaptorExports);
  parse(acorn, source); // a syntax error is reported as the author wrote the job
  const code = lazyState(source, { acorn, walk });
  const ast = parse(acorn, code);
  const calls = rootCalls(walk, ast);
  checkCallees(calls, exportNames);
  const used = [...referencedNames(walk, calls)].filter((name) => exportNames.has(name));
  const imports = new Set([...used, ...(exportNames.has('execute') ? ['execute'] : [])]);
  const lines = [`import { ${[...imports].sort().join(', ')} } from ${JSON.stringify(adaptor)};`];
  if (imports.has('execute')) lines.push('export { execute };');
  lines.push('export default [');
  const jobLines = lines.map(() => null);
  for (const call of calls) {
    const text = code.slice(call.start, call.end);
    lines.push(`  ${text},`);
    text.split('\n').forEach((_, i) => jobLines.push(call.loc.start.line + i));
  }
  lines.push('];');
  return { module: lines.join('\n') + '\n', jobLines: [null, ...jobLines] };
}
