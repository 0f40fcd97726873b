// The osc run console: plain JavaScript, no build step, no network beyond this runtime.
// The API key is asked for once and kept in sessionStorage (never in a URL); every call sends it
// as a Bearer token to the same runs API that scripts use.
"use strict";

const KEY = "osc-api-key";
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = "Bearer " + key;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    show("sign-in");
    throw new Error("The API key was refused.");
  }
  return response;
}

function show(section) {
  for (const id of ["sign-in", "runs", "run"]) $(id).hidden = id !== section;
  $("sign-out").hidden = section === "sign-in";
}

function fact(list, name, value) {
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  dt.textContent = name;
  dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
  list.append(dt, dd);
  return dd;
}

function statusBadge(status) {
  const span = document.createElement("span");
  span.className = "status status-" + status;
  span.textContent = status;
  return span;
}

function seconds(value) {
  return typeof value === "number" ? value.toFixed(2) + " s" : "—";
}

// One time convention everywhere: UTC, ISO-like, to the second; the local time on hover.
function utc(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") + " UTC" : "";
}

function timeElement(iso) {
  if (!iso) return document.createTextNode("—");
  const element = document.createElement("time");
  element.dateTime = iso;
  const [day, clock] = utc(iso).split(" ", 2);
  const date = document.createElement("span");
  date.className = "date";  // on a phone the date goes on a line of its own
  date.textContent = day;
  element.append(date, " " + clock + " UTC");
  element.title = new Date(iso).toLocaleString() + " (your time)";
  return element;
}

async function loadJob() {
  const response = await api("/job");
  if (!response.ok) return;
  const job = await response.json();
  $("job-name").textContent = job.name;
  document.title = job.name + " · osc";
  const facts = $("job-facts");
  facts.replaceChildren();
  fact(facts, "adaptor", job.adaptor);
  fact(facts, "trigger", job.trigger);
  fact(facts, "health", job.ready ? "ready" : "not ready: " + (job.reason || "starting"));
}

async function loadRuns() {
  const status = $("status-filter").value;
  const query = new URLSearchParams({ limit: "50" });
  if (status) query.set("status", status);
  const response = await api("/runs?" + query);
  const page = await response.json();
  const rows = $("run-rows");
  rows.replaceChildren();
  for (const run of page.runs || []) {
    const tr = document.createElement("tr");
    tr.dataset.runId = run.run_id;
    const link = document.createElement("a");
    link.href = "#/runs/" + encodeURIComponent(run.run_id);
    link.textContent = run.run_id;
    const cells = [link, statusBadge(run.status), String(run.attempt), run.trigger || "webhook",
      timeElement(run.created_at), seconds(run.duration_seconds)];
    for (const content of cells) {
      const td = document.createElement("td");
      td.append(content);
      tr.append(td);
    }
    rows.append(tr);
  }
  $("runs-empty").hidden = rows.children.length > 0;
  loadStats().catch(() => {});
}

async function loadStats() {
  const response = await api("/runs/stats");
  if (response.ok) drawStats($("stats"), await response.json());  // chart.js
}

// Forget the previous run before showing another (or none): no stale heading, log or Retry.
function clearRun(id) {
  $("run-id").textContent = id;
  $("run-facts").replaceChildren();
  $("run-missing").hidden = true;
  $("run-details").hidden = true;
  $("retry").hidden = true;
  delete $("retry").dataset.runId;
  $("retry-result").textContent = "";
  for (const part of ["run-input", "run-log", "run-state"]) $(part).textContent = "";
  $("run-steps").replaceChildren();
  $("run-steps-part").hidden = true;
  $("run-input-type").textContent = "";
}

function showFacts(facts, run) {
  fact(facts, "status", "").replaceChildren(statusBadge(run.status));
  fact(facts, "attempt", run.attempt);
  fact(facts, "trigger", run.trigger);
  fact(facts, "created", "").replaceChildren(timeElement(run.created_at));
  fact(facts, "started", "").replaceChildren(timeElement(run.started_at));
  fact(facts, "finished", "").replaceChildren(timeElement(run.finished_at));
  fact(facts, "duration", seconds(run.duration_seconds));
  fact(facts, "exit code", run.exit_code);
  fact(facts, "error", run.error);
  if (run.upstream) fact(facts, "from", run.upstream);
  for (const handOff of run.callbacks || []) {  // flow hand-offs to downstream jobs
    const detail = handOff.status + " after " + handOff.attempts + " attempt(s)";
    fact(facts, "then " + handOff.target, handOff.last_error ? detail + ": " + handOff.last_error : detail);
  }
  for (const item of run.attempts || []) {  // each attempt's own outcome, oldest first
    const parts = [item.status, item.exit_code == null ? null : "exit code " + item.exit_code, item.error];
    fact(facts, "attempt " + item.attempt, parts.filter((part) => part != null).join(" · "));
  }
}

let shownRun = 0;  // which loadRun call may still write to the page

async function loadRun(id, { keepResult = false } = {}) {
  const token = ++shownRun;
  const result = $("retry-result").textContent;
  clearRun(id);
  if (keepResult) $("retry-result").textContent = result;
  const response = await api("/runs/" + encodeURIComponent(id));
  if (token !== shownRun) return;  // another run was opened meanwhile
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    $("run-missing").hidden = false;
    $("run-missing").textContent = response.status === 404
      ? "There is no run with this id (finished runs are deleted after OSC_RETENTION_DAYS)."
      : "Cannot show this run: " + (body.error || response.statusText);
    return;
  }
  const run = await response.json();
  if (token !== shownRun) return;
  $("run-details").hidden = false;
  $("run-id").textContent = run.run_id;
  showFacts($("run-facts"), run);
  showSteps(run.steps);
  const finished = !["queued", "running", "retrying"].includes(run.status);
  $("retry").hidden = !finished;
  $("retry").dataset.runId = run.run_id;
  const [input, log] = await Promise.all([
    api("/runs/" + encodeURIComponent(id) + "/input", { headers: { Accept: "*/*" } }),
    api("/runs/" + encodeURIComponent(id) + "/log", { headers: { Accept: "text/plain" } }),
  ]);
  if (token !== shownRun) return;
  await showInput(input);
  $("run-log").textContent = log.ok ? await log.text() : "(no log yet)";
  $("run-state").textContent = run.final_state === undefined || run.final_state === null
    ? "(none)" : JSON.stringify(run.final_state, null, 2);
}

// A workflow's steps as they ran (GET /runs/{id} lists them; a single job has none).
function showSteps(steps) {
  $("run-steps-part").hidden = !steps || steps.length === 0;
  for (const step of steps || []) {
    const row = document.createElement("tr");
    const cells = [step.name, "", "", stepDuration(step), step.error || ""];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    row.children[1].replaceChildren(statusBadge(step.status));
    row.children[2].replaceChildren(timeElement(step.started_at));
    $("run-steps").append(row);
  }
}

function stepDuration(step) {
  if (!step.started_at || !step.finished_at) return "";
  return seconds((Date.parse(step.finished_at) - Date.parse(step.started_at)) / 1000);
}

// The body as the inbox received it (credential values masked by the runtime), with its type.
async function showInput(response) {
  if (!response.ok) {
    $("run-input").textContent = "(not available)";
    return;
  }
  const type = response.headers.get("Content-Type") || "";
  const text = await response.text();
  $("run-input-type").textContent = type;
  let shown = text;
  if (/^application\/([\w.-]+\+)?json/.test(type)) {
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as sent */ }
  }
  $("run-input").textContent = shown;
}

async function retry() {
  const id = $("retry").dataset.runId;
  const response = await api("/runs/" + encodeURIComponent(id) + "/retry", { method: "POST" });
  const body = await response.json();
  $("retry-result").textContent = response.ok
    ? "Queued as attempt " + body.attempt + "." : "Retry refused: " + (body.error || response.status);
  await loadRun(id, { keepResult: true });
}

async function route() {
  if (!sessionStorage.getItem(KEY)) return show("sign-in");
  loadJob().catch(() => {});
  const match = location.hash.match(/^#\/runs\/(.+)$/);
  try {
    if (match) {
      show("run");
      await loadRun(decodeURIComponent(match[1]));
    } else {
      show("runs");
      await loadRuns();
    }
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("api-key").value);
  $("api-key").value = "";
  $("sign-in-error").textContent = "";
  await route();
});
$("sign-out").addEventListener("click", () => { sessionStorage.removeItem(KEY); show("sign-in"); });
$("status-filter").addEventListener("change", loadRuns);
$("refresh").addEventListener("click", loadRuns);
$("retry").addEventListener("click", retry);
window.addEventListener("hashchange", route);
route();
setInterval(() => { if (!$("runs").hidden) loadRuns().catch(() => {}); }, 3000);
