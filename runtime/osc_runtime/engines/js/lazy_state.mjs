// OpenFn's "lazy state" syntax: `$.data` inside an operation's argument stands for
// `(state) => state.data`, so `post('/patient', $.data)` posts the state's data as it is when
// the operation runs. This rewrites a job's source text the way OpenFn's compiler does
// (kit: packages/compiler/src/transforms/lazy-state.ts), leaving every other character alone:
//
//   get($.data.url)                     ─►  get((state) => (state.data.url))
//   post('/p', { id: $.data.id })       ─►  post('/p', (state) => ({ id: state.data.id }))
//   fn(state => `${$.data.name}`)       ─►  fn(state => `${state.data.name}`)   (no new arrow)
//
// The rules, as OpenFn's:
// - Only a member chain whose root is the identifier `$` (`$.a`, `$['a']`, `$.a.b()`) is lazy
//   state; `$` alone, `$` in strings, a property named `$` (`a.$`, `{ $: 1 }`) are untouched.
// - A `$` declared in an enclosing function (parameter, var/let/const, function, catch) is a
//   variable, not lazy state. Top-level declarations do not count: core drops top-level
//   statements, so they never reach the job's operations.
// - The argument of the nearest enclosing call (not counting calls on `$` itself, whose
//   arguments belong to the same expression) is wrapped in `(state) => (…)`, once, however
//   many `$` it holds; if that argument is already an arrow function of one parameter named
//   `state`, nothing is wrapped. An arrow of another parameter name or arity is an error.
// - `$` reached through a statement before any call (`const x = $.data`, `$.a = 1`) is an
//   error: there is no state there. A top-level `const x = { … }` is left alone, as OpenFn does.
// No newline is ever added, so the job's line numbers stay what its author sees.

export class LazyStateError extends Error {
  name = 'LazyStateError';
}

function fail(message, node) {
  const { line, column } = node.loc.start;
  throw new LazyStateError(`Lazy State Error: ${message} (${line}:${column})`);
}

const isFunction = (node) =>
  ['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression'].includes(node.type);
const isStatement = (node) =>
  node.type === 'Program' || node.type.endsWith('Statement') || node.type.endsWith('Declaration');

// The identifier names a pattern binds: `a`, `{ a, b: [c] }`, `...d`, `e = 1`.
function patternNames(pattern, names = []) {
  if (!pattern) return names;
  if (pattern.type === 'Identifier') names.push(pattern.name);
  else if (pattern.type === 'ObjectPattern') pattern.properties.forEach((p) => patternNames(p.value ?? p.argument, names));
  else if (pattern.type === 'ArrayPattern') pattern.elements.forEach((e) => patternNames(e, names));
  else if (pattern.type === 'RestElement') patternNames(pattern.argument, names);
  else if (pattern.type === 'AssignmentPattern') patternNames(pattern.left, names);
  return names;
}

// Names declared in a function's own scope: its parameters, its name (a function expression)
// and the declarations in its body, not those of nested functions (their names do count).
function functionScopeNames(fn) {
  const names = fn.params.flatMap((param) => patternNames(param));
  if (fn.type === 'FunctionExpression' && fn.id) names.push(fn.id.name);
  const visit = (node) => {
    if (!node || typeof node.type !== 'string') return;
    if (node.type === 'VariableDeclarator') patternNames(node.id, names);
    if ((node.type === 'FunctionDeclaration' || node.type === 'ClassDeclaration') && node.id) {
      names.push(node.id.name);
    }
    if (isFunction(node) || node.type === 'ClassDeclaration' || node.type === 'ClassExpression') return;
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value === 'object') visit(value);
    }
  };
  if (fn.body.type === 'BlockStatement') fn.body.body.forEach(visit);
  return names;
}

function declaresDollar(node) {
  if (isFunction(node)) return functionScopeNames(node).includes('$');
  if (node.type === 'CatchClause') return patternNames(node.param).includes('$');
  return false;
}

// The identifier at the root of a member/call chain: `$` for `$.a.b()`.
function chainRoot(node) {
  while (node) {
    if (node.type === 'MemberExpression') node = node.object;
    else if (node.type === 'CallExpression') node = node.callee;
    else if (node.type === 'ChainExpression') node = node.expression;
    else return node;
  }
  return node;
}

const rootedAtDollar = (node) => chainRoot(node)?.type === 'Identifier' && chainRoot(node).name === '$';

// A top-level `const x = { … }`: OpenFn leaves lazy state in it alone.
function inTopLevelObject(ancestors) {
  return ancestors.some((node, i) =>
    node.type === 'ObjectExpression' &&
    ancestors[i - 1]?.type === 'VariableDeclarator' && ancestors[i - 1].init === node &&
    ancestors[i - 2]?.type === 'VariableDeclaration' && ancestors[i - 3]?.type === 'Program');
}

// The operation argument a `$` belongs to: the argument of the nearest call that is not a
// call on `$` itself.
function operationArgument(ancestors) {
  for (let i = ancestors.length - 2; i >= 0; i -= 1) {
    const parent = ancestors[i];
    const child = ancestors[i + 1];
    if (isStatement(parent)) fail('Must be inside an operation', ancestors.at(-1));
    if (parent.type !== 'CallExpression' || parent.callee === child) continue;
    if (rootedAtDollar(parent.callee)) continue;
    return child;
  }
  return fail('Must be inside an operation', ancestors.at(-1));
}

function needsWrapping(argument) {
  if (argument.type === 'SpreadElement') fail('Lazy state cannot be spread', argument);
  if (argument.type !== 'ArrowFunctionExpression') return true;
  if (argument.params.length !== 1) fail('parent has wrong arity', argument);
  const [param] = argument.params;
  if (param.type !== 'Identifier' || param.name !== 'state') {
    fail(`parameter "${param.name ?? param.type}" should be called "state"`, argument);
  }
  return false;
}

function lazyReferences(walk, ast) {
  const found = [];
  walk.fullAncestor(ast, (node, _state, ancestors) => {
    const parent = ancestors.at(-2);
    if (node.type !== 'Identifier' || node.name !== '$') return;
    if (parent?.type !== 'MemberExpression' || parent.object !== node) return;
    if (ancestors.some(declaresDollar) || inTopLevelObject(ancestors)) return;
    found.push({ node, argument: operationArgument([...ancestors]) });
  });
  return found;
}

function applyEdits(code, edits) {
  // From the end, so earlier offsets stay valid; at one offset a rename goes before an insert.
  edits.sort((a, b) => b.start - a.start || (b.end - b.start) - (a.end - a.start));
  let out = code;
  for (const { start, end, text } of edits) out = out.slice(0, start) + text + out.slice(end);
  return out;
}

/**
 * Rewrite lazy state (`$.x`) in a legacy job into functions of state.
 * @param {string} code the job
 * @param {{acorn: object, walk: object}} parser the acorn and acorn-walk modules
 * @returns {string} the job, unchanged when it uses no lazy state
 * @throws {SyntaxError} when the job does not parse; LazyStateError when `$` is misplaced
 */
export function rewriteLazyState(code, { acorn, walk }) {
  if (!code.includes('$')) return code;
  const ast = acorn.parse(code, {
    sourceType: 'script', ecmaVersion: 'latest', allowHashBang: true, locations: true,
  });
  const edits = [];
  const wrapped = new Set();
  for (const { node, argument } of lazyReferences(walk, ast)) {
    edits.push({ start: node.start, end: node.end, text: 'state' });
    if (wrapped.has(argument) || !needsWrapping(argument)) continue;
    wrapped.add(argument);
    edits.push({ start: argument.start, end: argument.start, text: '(state) => (' });
    edits.push({ start: argument.end, end: argument.end, text: ')' });
  }
  return applyEdits(code, edits);
}
