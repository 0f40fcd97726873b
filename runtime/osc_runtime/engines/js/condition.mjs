// Evaluates a workflow step's JS edge conditions for osc's core engine, as @openfn/runtime
// does: each expression is the body of `return <expression>` with `state` and
// `upstreamStepId`, in a context without code generation from strings.
// stdin: {expressions: [..], state, upstream}   stdout: {values: [bool..]} or {error}

import vm from 'node:vm';

const TIMEOUT_MS = 1000;

function read() {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => resolve(JSON.parse(text)));
  });
}

const { expressions, state, upstream } = await read();
const context = vm.createContext({}, { codeGeneration: { strings: false, wasm: false } });
const values = [];
try {
  for (const expression of expressions) {
    const condition = vm.compileFunction(`return ${expression}`, ['state', 'upstreamStepId'], {
      parsingContext: context,
    });
    const script = new vm.Script('condition(state, upstream)');
    const sandbox = vm.createContext({ condition, state, upstream });
    values.push(Boolean(script.runInContext(sandbox, { timeout: TIMEOUT_MS })));
  }
  process.stdout.write(JSON.stringify({ values }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: `${error.name}: ${error.message}` }));
}
