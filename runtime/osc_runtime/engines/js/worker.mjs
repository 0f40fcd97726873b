// A long-lived node process that runs one job many times with @openfn/runtime.
//
// Started by osc's warm engine as
// `node --experimental-vm-modules worker.mjs <control-fd> <work-dir>` (it runs in <work-dir>).
// Protocol (newline-delimited JSON):
//   stdin, first line   {nodeModules, adaptor: {name, path}, job, marker}
//                       or, for a workflow, {nodeModules, workflow: {steps, edges}, marker}
//                       (steps: {name, adaptor: {name, path}, expression, credential})
//   control fd          {type: "ready", compileError, versions}
//   stdin, then         {id, state}                       one run at a time
//   control fd          {type: "result", id, outcome, state?, error?, steps?, rss, dirty}
// What the job prints goes to stdout/stderr as under core; after each run the worker writes
// `marker + id + "\n"` to stdout so the engine knows the run's output is complete.
// The credential arrives inside `state` over the pipe and is never written anywhere.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

import { compileWithLines } from './compile.mjs';
import { executionPlan, prepareSteps, stepTracker } from './workflow.mjs';

const controlFd = Number(process.argv[2]);
const send = (message) => fs.writeSync(controlFd, JSON.stringify(message) + '\n');
const NEVER_SETTLES_POLL_MS = 50;
const NEVER_SETTLED =
  'the job never finished: its promise never settled and nothing was left to wait for';

// Everything the runtime logs about itself is dropped: only the job's own output is the log.
const silentLogger = new Proxy({}, { get: (_, key) => (key === 'timer' ? () => '' : () => {}) });

async function importPackage(nodeModules, name) {
  const root = path.join(nodeModules, name);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const dot = typeof pkg.exports === 'string' ? pkg.exports : pkg.exports?.['.'];
  const esm = typeof dot === 'string' ? dot : dot?.import?.default ?? dot?.import ?? dot?.default;
  const entry = typeof esm === 'string' ? esm : pkg.module ?? pkg.main ?? 'index.js';
  return { module: await import(pathToFileURL(path.join(root, entry)).href), version: pkg.version };
}

// The names the runtime's linker will offer the job (it unwraps CommonJS defaults this way).
function exportNames(exports) {
  let target = exports;
  if (exports.__esModule && exports.default?.default) target = exports.default.default;
  else if (Object.keys(exports).length === 1 && exports.default) target = exports.default;
  return Object.keys(target);
}

async function prepare({ nodeModules, adaptor, job, workflow }) {
  const runtime = await importPackage(nodeModules, '@openfn/runtime');
  const acorn = (await importPackage(nodeModules, 'acorn')).module;
  const walk = (await importPackage(nodeModules, 'acorn-walk')).module;
  runtime.module.registerEsmHook(); // once, not on every run
  if (workflow) return prepareWorkflow(runtime, workflow, { acorn, walk });
  const entry = await runtime.module.getModuleEntryPoint(adaptor.name, adaptor.path);
  const names = exportNames(await import(pathToFileURL(entry.path).href));
  const prepared = { run: runtime.module.default, source: null, compileError: null, jobLines: [] };
  try {
    const compiled = compileWithLines(job, adaptor.name, names, { acorn, walk });
    prepared.source = compiled.module;
    prepared.jobLines = compiled.jobLines;
  } catch (error) {
    prepared.compileError = error.message;
  }
  prepared.options = {
    logger: silentLogger,
    linker: { modules: { [adaptor.name]: { path: adaptor.path } } },
    globals: { testMode: undefined }, // as core's sandbox without --test
    disableEsmHook: true,
    statePropsToRemove: ['configuration'],
  };
  prepared.versions = { runtime: runtime.version, adaptor: entry.version, node: process.version };
  return prepared;
}

async function prepareWorkflow(runtime, workflow, tools) {
  const prepared = await prepareSteps(runtime, workflow, tools, exportNames);
  return {
    run: runtime.module.default,
    workflow: prepared,
    compileError: prepared.compileError ?? null,
    options: {
      logger: silentLogger,
      linker: { modules: {} }, // each step links its own adaptor
      globals: { testMode: undefined },
      disableEsmHook: true,
      statePropsToRemove: ['configuration'],
    },
    versions: { runtime: runtime.version, node: process.version,
                adaptor: (prepared.steps ?? []).map((s) => `${s.adaptor.name}@${s.version}`).join(', ') },
  };
}

// One run of the plan. A step's failure is not the run's: @openfn/runtime goes on along the
// edges, and osc decides the run's status from the steps (workflow/outcome.py).
async function executeWorkflow(job, state) {
  if (job.compileError) return { outcome: 'failed', error: job.compileError };
  const tracker = stepTracker(job.workflow, describe);
  try {
    const final = await job.run(executionPlan(job.workflow), state,
                                { ...job.options, callbacks: { notify: tracker.notify } });
    return { outcome: 'success', state: final ?? null, steps: tracker.records };
  } catch (error) {
    const message = tracker.abandon(error);
    return { outcome: 'failed', error: message, stack: error?.stack, steps: tracker.records };
  }
}

// The error's own message, with its type ("ReferenceError: x is not defined"): @openfn/runtime
// already words its RuntimeError/RuntimeCrash so; JobError and AdaptorError wrap an Error.
function describe(error, jobLines = []) {
  if (!error || typeof error !== 'object') return String(error);
  const original = error.details?.message ?? error.message;
  if (!original) return error.name || String(error);
  const typed = /^[A-Z][\w$]*(Error|Exception): /.test(original) ? original : `Error: ${original}`;
  return typed + where(error, jobLines);
}

// The job's line and column of the error's first frame in the job's module, if it has one.
function where(error, jobLines) {
  const frame = /vm:module\(0\):(\d+):(\d+)/.exec(String(error.stack ?? ''));
  const line = frame && jobLines[Number(frame[1])];
  return line ? ` (line ${line}, col ${frame[2]})` : '';
}

async function execute(job, state) {
  if (job.workflow) return executeWorkflow(job, state);
  if (job.compileError) return { outcome: 'failed', error: job.compileError };
  let jobError = null;
  const notify = (event, payload) => {
    if (event === 'job-error') jobError = payload.error;
  };
  try {
    const final = await job.run(job.source, state, { ...job.options, callbacks: { notify } });
    if (jobError) return { outcome: 'failed', error: describe(jobError, job.jobLines), stack: jobError.stack };
    if (!['object', 'string', 'number'].includes(typeof final)) {
      // core refuses to write such a state and exits 1
      const kind = typeof final;
      return { outcome: 'failed', error: `the job's final state is not serialisable (${kind})` };
    }
    return { outcome: 'success', state: final };
  } catch (error) {
    const thrown = jobError ?? error;
    return { outcome: 'failed', error: describe(thrown, job.jobLines), stack: thrown?.stack };
  }
}

// Under core, node exits when nothing is left to wait for; here the process lives on, so a run
// whose promise is pending while no timer, socket or request of its own is active never ends.
async function raceNeverSettles(running, baseline) {
  let timer;
  const stuck = new Promise((resolve) => {
    timer = setInterval(() => {
      if (process.getActiveResourcesInfo().length <= baseline) {
        resolve({ outcome: 'failed', error: NEVER_SETTLED, exitCode: 0 }); // as core exits
      }
    }, NEVER_SETTLES_POLL_MS);
    timer.unref(); // must not count as something to wait for
  });
  try {
    return await Promise.race([running, stuck]);
  } finally {
    clearInterval(timer);
  }
}

// An error thrown from a stray callback fails the current run and retires the worker.
let strayError = null;
const onStray = (error) => {
  strayError ??= error;
  console.error(error);
};
process.on('uncaughtException', onStray);
process.on('unhandledRejection', onStray);

async function runOnce(job, { id, state }) {
  const baseline = process.getActiveResourcesInfo().length;
  const result = await raceNeverSettles(execute(job, state), baseline);
  if (result.outcome === 'success' && strayError) {
    Object.assign(result, { outcome: 'failed', error: describe(strayError), state: undefined });
  }
  if (result.outcome === 'failed') console.error(result.stack || result.error); // the log keeps the stack
  else console.log('Finished.'); // as core prints
  delete result.stack;
  const dirty = strayError !== null;
  process.stdout.write(`${job.marker}${id}\n`);
  send({ type: 'result', id, ...result, rss: process.memoryUsage().rss, dirty });
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let job = null;
  for await (const line of lines) {
    const message = JSON.parse(line);
    if (job === null) {
      job = { ...(await prepare(message)), marker: message.marker };
      send({ type: 'ready', compileError: job.compileError, versions: job.versions });
    } else {
      await runOnce(job, message);
    }
  }
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(70);
});
