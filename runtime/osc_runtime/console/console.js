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
      new Date(run.created_at).toLocaleString(), seconds(run.duration_seconds)];
    for (const content of cells) {
      const td = document.createElement("td");
      td.append(content);
      tr.append(td);
    }
    rows.append(tr);
  }
  $("runs-empty").hidden = rows.children.length > 0;
}

async function loadRun(id) {
  const response = await api("/runs/" + encodeURIComponent(id));
  if (!response.ok) {
    $("run-facts").replaceChildren();
    fact($("run-facts"), "error", (await response.json()).detail || response.statusText);
    return;
  }
  const run = await response.json();
  $("run-id").textContent = run.run_id;
  const facts = $("run-facts");
  facts.replaceChildren();
  fact(facts, "status", "").replaceChildren(statusBadge(run.status));
  fact(facts, "attempt", run.attempt);
  fact(facts, "trigger", run.trigger);
  fact(facts, "created", run.created_at);
  fact(facts, "started", run.started_at);
  fact(facts, "finished", run.finished_at);
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
  const finished = !["queued", "running", "retrying"].includes(run.status);
  $("retry").hidden = !finished;
  $("retry").dataset.runId = run.run_id;
  const log = await api("/runs/" + encodeURIComponent(id) + "/log", { headers: { Accept: "text/plain" } });
  $("run-log").textContent = log.ok ? await log.text() : "(no log yet)";
  $("run-state").textContent = run.final_state === undefined || run.final_state === null
    ? "(none)" : JSON.stringify(run.final_state, null, 2);
}

async function retry() {
  const id = $("retry").dataset.runId;
  const response = await api("/runs/" + encodeURIComponent(id) + "/retry", { method: "POST" });
  const body = await response.json();
  $("retry-result").textContent = response.ok
    ? "Queued as attempt " + body.attempt + "." : "Retry refused: " + (body.detail || response.status);
  await loadRun(id);
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
