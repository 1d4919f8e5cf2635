// The runs list: the newest runs from /ws/runs, kept up to date live (created, deleted,
// status, progress), filtered by status and name, with resume/delete and a selection to
// compare. Sweeps are listed above it, and a sweep's runs link to their sweep.

import {
  api, el, fmtAge, fmtNumber, hideBanner, parseTime, setConnection,
  setStatusBadge, showBanner, statusRules as rules, Stream,
} from "./api.js";
// a completed run is at its step total: it only continues, towards a larger one
const continuesOnly = (status) => {
  const { actions } = rules(status);
  return actions.includes("continue") && !actions.includes("resume");
};
const CLUSTER_POLL_MS = 5000;
const SWEEPS_MIN_MS = 1000; // the sweeps panel is re-read at most once a second

const runs = new Map();   // id -> run (RunPublic)
const rows = new Map();   // id -> the row's nodes
const selected = new Set();
const gone = new Set();   // deleted while its details were being fetched
const sweeps = new Map(); // id -> sweep (GET /api/sweeps)
let loaded = false;
let connectionLost = false;

const container = document.getElementById("runs");
const filters = document.getElementById("filters");
const countNode = document.getElementById("count");
const compareButton = document.getElementById("compare-selected");

const tbody = el("tbody");
const table = el("table", { class: "runs-table" },
  el("caption", { class: "visually-hidden" }, "Runs, newest first"),
  el("thead", {}, el("tr", {},
    el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Select to compare")),
    el("th", { scope: "col" }, "Name"),
    el("th", { scope: "col" }, "Status"),
    el("th", { scope: "col" }, "Data"),
    el("th", { scope: "col" }, "Loss"),
    el("th", { scope: "col" }, "Progress"),
    el("th", { scope: "col", class: "num" }, "D loss"),
    el("th", { scope: "col", class: "num" }, "G loss"),
    el("th", { scope: "col" }, "Created"),
    el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
  tbody);
const emptyNode = el("div", { class: "empty" });

// -- filters ---------------------------------------------------------------------------------

function readFiltersFromUrl() {
  const params = new URLSearchParams(location.search);
  filters.elements.status.value = params.get("status") || "";
  if (filters.elements.status.selectedIndex < 0) filters.elements.status.value = "";
  filters.elements.q.value = params.get("q") || "";
}

function currentFilter() {
  return { status: filters.elements.status.value, q: filters.elements.q.value.trim().toLowerCase() };
}

function matches(run, { status, q }) {
  if (status === "active" && !rules(run.status).active) return false;
  if (status && status !== "active" && run.status !== status) return false;
  if (q && !run.name.toLowerCase().includes(q) && !run.id.includes(q)) return false;
  return true;
}

function onFilterChange() {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of [["status", filters.elements.status.value], ["q", filters.elements.q.value.trim()]]) {
    if (value) params.set(key, value);
    else params.delete(key);
  }
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  applyFilter();
}

function applyFilter() {
  if (!loaded) return;
  const filter = currentFilter();
  let shown = 0;
  for (const [id, row] of rows) {
    const visible = matches(runs.get(id), filter);
    row.tr.hidden = !visible;
    if (visible) shown += 1;
  }
  const filtered = filter.status || filter.q;
  countNode.textContent = runs.size === 0 ? ""
    : filtered ? `${shown} of ${runs.size} runs` : `${runs.size} run${runs.size === 1 ? "" : "s"}`;
  if (runs.size === 0) {
    emptyNode.replaceChildren(
      el("p", { class: "empty-title" }, "No runs yet"),
      el("p", {}, "Start one from a preset: ", el("a", { href: "/runs/new" }, "New run"),
        ", or with POST /api/runs (see the ", el("a", { href: "/docs" }, "API"), ")."));
  } else if (shown === 0) {
    emptyNode.replaceChildren(
      el("p", { class: "empty-title" }, "No runs match this filter"),
      el("button", { type: "button", onclick: clearFilters }, "Clear the filter"));
  }
  table.hidden = shown === 0;
  emptyNode.hidden = shown > 0;
}

function clearFilters() {
  filters.reset();
  onFilterChange();
  filters.elements.q.focus();
}

// -- rows ------------------------------------------------------------------------------------

function makeRow(run) {
  const check = el("input", { type: "checkbox", class: "select-run" });
  check.addEventListener("change", () => {
    if (check.checked) selected.add(run.id);
    else selected.delete(run.id);
    updateCompareButton();
  });
  const row = {
    check,
    link: el("a", { href: `/runs/${run.id}`, class: "run-name" }),
    id: el("span", { class: "run-id muted" }, run.id),
    sweep: el("a", { class: "sweep-link", hidden: true }),
    badge: el("span", { class: "status" }),
    reason: el("div", { class: "reason" }),
    data: el("td"),
    loss: el("td"),
    progress: el("progress", { max: 1, value: 0 }),
    progressText: el("span", { class: "progress-text" }),
    lossD: el("td", { class: "num" }),
    lossG: el("td", { class: "num" }),
    age: el("time"),
    resume: el("button", { type: "button", class: "resume" }, "Resume"),
    remove: el("button", { type: "button", class: "danger delete" }, "Delete"),
  };
  row.resume.addEventListener("click", () => resume(run.id, row.resume));
  row.remove.addEventListener("click", () => remove(run.id, row.remove));
  row.tr = el("tr", { dataset: { runId: run.id } },
    el("td", { class: "check" }, check),
    el("td", {}, row.link, " ", row.id, row.sweep),
    el("td", {}, row.badge, row.reason),
    row.data,
    row.loss,
    el("td", { class: "progress-cell" }, row.progress, row.progressText),
    row.lossD,
    row.lossG,
    el("td", {}, row.age),
    el("td", { class: "actions" }, row.resume, row.remove));
  return row;
}

function renderRow(run) {
  const row = rows.get(run.id);
  row.link.textContent = run.name;
  row.check.setAttribute("aria-label", `Select ${run.name} to compare`);
  setStatusBadge(row.badge, run.status);
  // a run that waits says why ("waiting for a GPU in the cluster"), one that starts says where,
  // one that a sweep's median rule stopped says at which step and against what
  const { with_error: withError, with_note: withNote, tone } = rules(run.status);
  const reason = withError ? run.error || "" : withNote ? run.status_message || "" : "";
  row.reason.textContent = reason;
  row.reason.hidden = !reason;
  row.reason.className = tone === "bad" ? "reason error-text" : "reason muted";
  renderSweepLink(row, run);
  row.data.textContent = run.data;
  row.loss.textContent = run.loss;
  const total = run.total_steps || 0;
  row.progress.max = Math.max(total, 1);
  row.progress.value = Math.min(run.step, row.progress.max);
  row.progress.setAttribute("aria-label", `${run.name}: step ${run.step} of ${total}`);
  row.progressText.textContent = `${run.step.toLocaleString("en-US")} / ${total.toLocaleString("en-US")}`;
  const metrics = run.last_metrics || {};
  row.lossD.textContent = fmtNumber(metrics.loss_d);
  row.lossG.textContent = fmtNumber(metrics.loss_g);
  row.age.dateTime = run.created_at;
  row.age.title = parseTime(run.created_at).toLocaleString();
  row.age.textContent = fmtAge(run.created_at);
  row.resume.hidden = !rules(run.status).resumable;
  row.resume.textContent = continuesOnly(run.status) ? "Continue…" : "Resume";
  row.resume.setAttribute("aria-label", `${continuesOnly(run.status) ? "Continue" : "Resume"} ${run.name}`);
  row.remove.setAttribute("aria-label", `Delete ${run.name}`);
}

function renderSweepLink(row, run) {
  row.sweep.hidden = !run.sweep_id;
  if (!run.sweep_id) return;
  const sweep = sweeps.get(run.sweep_id);
  row.sweep.href = `/sweeps/${run.sweep_id}`;
  row.sweep.textContent = `sweep: ${sweep ? sweep.name : run.sweep_id}`;
  row.sweep.title = sweep ? `One of the ${sweep.runs} runs of the sweep ${sweep.name}` : "";
}

function addRun(run) {
  if (gone.has(run.id)) return;
  if (run.sweep_id && !sweeps.has(run.sweep_id)) scheduleSweeps();
  const known = runs.has(run.id);
  runs.set(run.id, run);
  if (!known) {
    rows.set(run.id, makeRow(run));
    insertInOrder(run);
  }
  renderRow(run);
}

// Newest first; a new run normally goes on top, so no existing row moves (and none loses focus).
function insertInOrder(run) {
  const tr = rows.get(run.id).tr;
  const created = parseTime(run.created_at).getTime();
  for (const other of tbody.children) {
    const otherRun = runs.get(other.dataset.runId);
    if (otherRun && parseTime(otherRun.created_at).getTime() < created) {
      tbody.insertBefore(tr, other);
      return;
    }
  }
  tbody.append(tr);
}

function dropRun(id) {
  gone.add(id);
  const row = rows.get(id);
  if (!row) return;
  const hadFocus = row.tr.contains(document.activeElement);
  const next = row.tr.nextElementSibling || row.tr.previousElementSibling;
  row.tr.remove();
  rows.delete(id);
  runs.delete(id);
  selected.delete(id);
  updateCompareButton();
  if (hadFocus) (next ? next.querySelector("a") : document.querySelector(".page-head a")).focus();
}

function updateCompareButton() {
  const n = selected.size;
  compareButton.disabled = n < 2;
  compareButton.textContent = n ? `Compare selected (${n})` : "Compare selected";
  compareButton.title = n < 2 ? "Select two or more runs" : "";
}

// -- live updates ----------------------------------------------------------------------------

// id -> the status/progress frames that came while the run's details were being fetched;
// they are applied on top of what the fetch returns
const fetching = new Map();

async function fetchRun(id, frame = null) {
  if (gone.has(id)) return;
  if (fetching.has(id)) {
    if (frame) fetching.get(id).push(frame);
    return;
  }
  fetching.set(id, frame ? [frame] : []);
  try {
    const run = await api(`/api/runs/${id}`);
    delete run.config;
    addRun(run);
    for (const later of fetching.get(id)) onFrame(later);
    applyFilter();
  } catch (err) {
    if (err.status !== 404) console.warn(`run ${id}:`, err.message);
  } finally {
    fetching.delete(id);
  }
}

function onFrame(frame) {
  switch (frame.type) {
    case "runs":
      for (const id of [...runs.keys()]) {
        if (!frame.runs.some((r) => r.id === id)) dropRun(id);
      }
      for (const run of frame.runs) addRun(run);
      if (loaded) scheduleSweeps(); // a reconnect: the sweeps' counts may have changed meanwhile
      loaded = true;
      container.dataset.loaded = "true";
      container.replaceChildren(table, emptyNode);
      break;
    case "created":
      gone.delete(frame.id);
      fetchRun(frame.id);
      return;
    case "deleted":
      if (runs.get(frame.id)?.sweep_id) scheduleSweeps();
      dropRun(frame.id);
      break;
    case "status":
    case "progress": {
      const run = runs.get(frame.id);
      if (!run) {
        fetchRun(frame.id, frame);
        return;
      }
      run.step = frame.step ?? run.step;
      if (frame.type === "status") {
        if (run.sweep_id) scheduleSweeps();
        run.status = frame.status;
        run.status_message = frame.message || null;
        if (rules(frame.status).with_error) run.error = frame.message || run.error;
        else if (rules(frame.status).active) run.error = null; // resumed
      } else {
        run.last_metrics = { ...run.last_metrics, loss_d: frame.loss_d, loss_g: frame.loss_g };
      }
      renderRow(run);
      break;
    }
    default:
      return;
  }
  applyFilter();
}

function onState(state, reason) {
  if (state === "live") {
    setConnection("live");
    if (connectionLost) hideBanner();
    connectionLost = false;
    return;
  }
  if (state === "closed") {
    setConnection("disconnected", "bad");
    showBanner(`The server closed the runs stream: ${reason}`, "error");
    return;
  }
  setConnection(state === "connecting" ? "connecting…" : "reconnecting…", state === "connecting" ? "ok" : "bad");
  if (state === "reconnecting") {
    connectionLost = true;
    showBanner(loaded
      ? "Lost the connection to the GANscope server; retrying. The list may be out of date."
      : "The GANscope server cannot be reached. Is `make run` still running? Retrying…", "error");
    if (!loaded) {
      container.replaceChildren(el("p", { class: "empty" },
        "Cannot reach the GANscope server. The list appears as soon as it answers."));
    }
  }
}

// -- actions ---------------------------------------------------------------------------------

// A modal question with real buttons (Esc cancels); resolves to the button's value or "".
function ask(title, body, confirmLabel, { danger = false, extra = null } = {}) {
  const form = el("form", { method: "dialog" },
    el("h2", {}, title),
    el("p", {}, body),
    extra,
    el("div", { class: "dialog-buttons" },
      el("button", { type: "submit", value: "cancel" }, "Cancel"),
      el("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary" }, confirmLabel)));
  const dialog = el("dialog", { class: "confirm", "aria-label": title }, form);
  document.body.append(dialog);
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(dialog.returnValue === "ok" ? "ok" : "");
    });
    dialog.showModal();
    (extra ? extra.querySelector("input") : form.querySelector("button[value=cancel]")).focus();
  });
}

async function remove(id, button) {
  const run = runs.get(id);
  if (!run) return;
  const live = rules(run.status).active;
  const answer = await ask(`Delete ${run.name}?`,
    `Its metrics, samples and checkpoints are deleted for good${live ? "; it is stopped first" : ""}.`,
    "Delete", { danger: true });
  if (answer !== "ok") return;
  button.disabled = true;
  try {
    await api(`/api/runs/${id}`, { method: "DELETE" });
    dropRun(id);
    applyFilter();
  } catch (err) {
    if (err.status === 404) dropRun(id);
    else showBanner(`Could not delete ${run.name}: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

async function resume(id, button) {
  const run = runs.get(id);
  if (!run) return;
  const body = { action: "resume" };
  if (continuesOnly(run.status)) {
    // a finished run continues only towards a new, larger total
    const input = el("input", { type: "number", name: "steps", min: run.total_steps + 1, step: 1,
      value: run.total_steps * 2, required: true });
    const extra = el("p", {}, el("label", {}, "Train up to step ", input));
    const answer = await ask(`Continue ${run.name}`,
      `It completed ${run.total_steps.toLocaleString("en-US")} steps; it continues from its last checkpoint.`,
      "Continue", { extra });
    if (answer !== "ok") return;
    body.steps = Number(input.value);
  }
  button.disabled = true;
  try {
    const updated = await api(`/api/runs/${id}/control`, { method: "POST", body });
    if (runs.has(id)) {
      delete updated.config;
      addRun(updated);
      applyFilter();
    }
  } catch (err) {
    showBanner(`Could not resume ${run.name}: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

// -- sweeps: each a link to its page, with how many of its runs are still active ------------------

const sweepsNode = document.getElementById("sweeps");
let sweepsTimer = null;
let sweepsRead = 0;

function renderSweeps({ data, count }) {
  sweeps.clear();
  for (const sweep of data) sweeps.set(sweep.id, sweep);
  sweepsNode.hidden = data.length === 0;
  sweepsNode.querySelector("tbody").replaceChildren(...data.map((s) => el("tr", { dataset: { sweepId: s.id } },
    el("td", {}, el("a", { href: `/sweeps/${s.id}`, class: "run-name" }, s.name), " ",
      el("span", { class: "run-id muted" }, s.id)),
    el("td", {}, s.metric, el("span", { class: "muted" }, ` (${s.goal})`)),
    el("td", { class: "sweep-axes" }, s.axes.join(", ")),
    el("td", { class: "num" }, String(s.runs)),
    el("td", { class: "num" }, String(s.active)),
    el("td", {}, el("time", { datetime: s.created_at, title: parseTime(s.created_at).toLocaleString() },
      fmtAge(s.created_at))))));
  const more = sweepsNode.querySelector("#sweeps-more");
  more.hidden = count <= data.length;
  more.textContent = `The newest ${data.length} of ${count} sweeps.`;
  sweepsNode.dataset.loaded = "true";
  for (const [id, row] of rows) renderSweepLink(row, runs.get(id));
}

async function refreshSweeps() {
  sweepsRead = Date.now();
  try {
    renderSweeps(await api("/api/sweeps"));
  } catch (err) {
    console.warn("sweeps:", err.message);
  }
}

function scheduleSweeps() {
  if (sweepsTimer) return;
  sweepsTimer = setTimeout(() => {
    sweepsTimer = null;
    refreshSweeps();
  }, Math.max(0, sweepsRead + SWEEPS_MIN_MS - Date.now()));
}

// -- where runs train: this machine's job slots, or the Ray cluster's nodes --------------------

const clusterNode = document.getElementById("cluster");

function renderCluster(jobs) {
  const running = jobs.workers.length;
  const queued = jobs.queued.length;
  const counts = `${running} running, ${queued} queued`;
  if (jobs.backend !== "ray") {
    const gpus = jobs.gpus ? `, ${jobs.gpus} GPU${jobs.gpus === 1 ? "" : "s"}` : "";
    clusterNode.replaceChildren(el("p", { class: "cluster-summary" },
      el("strong", {}, "This machine"), `: ${jobs.slots} job slot${jobs.slots === 1 ? "" : "s"}`
      + `${gpus} · ${counts}`));
    return;
  }
  const c = jobs.cluster;
  const used = (r) => `${fmtNumber(r.total - r.free)} of ${fmtNumber(r.total)} used`;
  const alive = c.nodes.filter((n) => n.alive).length;
  const summary = el("p", { class: "cluster-summary" },
    el("strong", {}, `Ray cluster (${c.address})`),
    `: ${alive} node${alive === 1 ? "" : "s"} · CPUs ${used(c.cpus)} · GPUs ${used(c.gpus)}`
    + ` · ${counts}`);
  const body = el("tbody");
  for (const n of c.nodes) {
    const extra = Object.entries(n.resources || {}).map(([k, v]) => `${k}: ${fmtNumber(v)}`);
    body.append(el("tr", { dataset: { alive: String(n.alive) } },
      el("td", {}, n.address), el("td", {}, n.alive ? "alive" : "gone"),
      el("td", { class: "num" }, fmtNumber(n.cpus)), el("td", { class: "num" }, fmtNumber(n.gpus)),
      el("td", { class: "num" }, String(n.runs)), el("td", {}, extra.join(", "))));
  }
  const table = el("table", { class: "cluster-nodes" },
    el("caption", { class: "visually-hidden" }, "Nodes of the Ray cluster"),
    el("thead", {}, el("tr", {}, ...["Node", "State", "CPUs", "GPUs", "Runs", "Resources"]
      .map((h) => el("th", { scope: "col", class: ["CPUs", "GPUs", "Runs"].includes(h) ? "num" : "" }, h)))),
    body);
  clusterNode.replaceChildren(summary, table);
}

async function refreshCluster() {
  try {
    renderCluster((await api("/api/health")).jobs);
    clusterNode.dataset.loaded = "true";
  } catch (err) {
    if (!clusterNode.dataset.loaded) clusterNode.replaceChildren(el("p", { class: "muted" },
      `Where runs train is not known yet: ${err.message}`));
  } finally {
    setTimeout(refreshCluster, CLUSTER_POLL_MS);
  }
}

// -- start -----------------------------------------------------------------------------------

refreshCluster();
refreshSweeps();

readFiltersFromUrl();
filters.addEventListener("input", onFilterChange);
filters.addEventListener("submit", (ev) => ev.preventDefault());
compareButton.addEventListener("click", () => {
  const ids = [...tbody.children].map((tr) => tr.dataset.runId).filter((id) => selected.has(id));
  location.assign(`/compare?ids=${ids.join(",")}`);
});
updateCompareButton();
setInterval(() => {
  for (const [id, row] of rows) row.age.textContent = fmtAge(runs.get(id).created_at);
}, 15000);
new Stream("/ws/runs", { onFrame, onState });
