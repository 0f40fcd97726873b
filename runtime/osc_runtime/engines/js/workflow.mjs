// A workflow plan for the warm worker: every step compiled once, then run as @openfn/runtime's
// execution plan (steps with `next` edges and their conditions), one step after another.
// What each step did is reported back (name, status, times, error) and the run's log gets a
// section per step: `[osc] step <name> started (<adaptor>)` … `[osc] step <name> success in …`.

import { pathToFileURL } from 'node:url';

import { compileWithLines } from './compile.mjs';

// Lightning's edge conditions, by the names osc's plan uses (see @openfn/runtime compile-plan).
const CONDITIONS = { always: 'true', on_success: 'on_job_success', on_failure: 'on_job_failure' };

export async function prepareSteps(runtime, workflow, tools, exportNames) {
  const steps = [];
  for (const step of workflow.steps) {
    const entry = await runtime.module.getModuleEntryPoint(step.adaptor.name, step.adaptor.path);
    const names = exportNames(await import(pathToFileURL(entry.path).href));
    let compiled;
    try {
      compiled = compileWithLines(step.expression, step.adaptor.name, names, tools);
    } catch (error) {
      return { compileError: `step ${step.name}: ${error.message}` };
    }
    steps.push({ ...step, source: compiled.module, jobLines: compiled.jobLines, version: entry.version });
  }
  return { steps, edges: workflow.edges, start: workflow.edges.find((e) => e.from === 'trigger').to };
}

function next(edges, name) {
  const result = {};
  for (const edge of edges.filter((e) => e.from === name)) {
    const condition = edge.condition === 'js' ? edge.expression : CONDITIONS[edge.condition];
    result[edge.to] = { condition, disabled: edge.enabled === false };
  }
  return result;
}

// A fresh plan per run: @openfn/runtime adds ids and compiles conditions into what it is given.
export function executionPlan(prepared) {
  const steps = prepared.steps.map((step) => ({
    id: step.name,
    name: step.name,
    expression: step.source,
    configuration: step.credential ?? {},
    linker: { [step.adaptor.name]: { path: step.adaptor.path } },
    next: next(prepared.edges, step.name),
  }));
  return { workflow: { steps }, options: { start: prepared.start } };
}

// Follows @openfn/runtime's notifications: a record per step that ran, and its log lines.
export function stepTracker(prepared, describe) {
  const records = [];
  const byName = Object.fromEntries(prepared.steps.map((step) => [step.name, step]));
  const open = {};
  const close = (jobId, status, error) => {
    const record = open[jobId];
    if (!record) return;
    record.finished_at = Date.now() / 1000;
    record.status = status;
    record.error = error ?? null;
    const took = (record.finished_at - record.started_at).toFixed(3);
    const why = record.error ? `: ${record.error.split('\n')[0]}` : '';
    console.log(`[osc] step ${record.name} ${status} in ${took} s${why}`);
    delete open[jobId];
  };
  const notify = (event, payload) => {
    const step = byName[payload?.jobId];
    if (event === 'job-start' && step) {
      open[payload.jobId] = { name: step.name, status: 'running', started_at: Date.now() / 1000 };
      records.push(open[payload.jobId]);
      console.log(`[osc] step ${step.name} started (${step.adaptor.name}@${step.version})`);
    } else if (event === 'job-complete') {
      close(payload.jobId, 'success');
    } else if (event === 'job-error') {
      close(payload.jobId, 'failed', describe(payload.error, step?.jobLines));
    }
  };
  // The run stopped (a crash such as a ReferenceError stops @openfn/runtime's whole plan):
  // the run's error names the step it stopped in, with that step's own line. A step still
  // open is closed as failed; one @openfn/runtime closed already (job-error) is the last one.
  const abandon = (error) => {
    const jobId = Object.keys(open)[0];
    if (jobId) {
      const message = describe(error, byName[jobId]?.jobLines);
      for (const id of Object.keys(open)) close(id, 'failed', message);
      return `step ${byName[jobId]?.name ?? jobId}: ${message}`;
    }
    const last = records[records.length - 1];
    if (last?.status === 'failed' && last.error) return `step ${last.name}: ${last.error}`;
    return describe(error);
  };
  return { records, notify, abandon };
}
