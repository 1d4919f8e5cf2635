// A sweep: /sweeps/{id}. One row per run (its axis values, progress, final and best value of
// the sweep's metric), sortable by any column; the metric against one axis; stop and resume.
// Live: frames of /ws/runs about the sweep's runs re-read GET /api/sweeps/{id}, throttled.

import {
  api, el, fmtNumber, fmtAge, hideBanner, setConnection, setStatusBadge, showBanner, statusRules, Stream,
} from "./api.js";

const MIN_REFRESH_MS = 500; // at most two reads a second, however many frames arrive
const POLL_MS = 3000; // while active: a new metric value comes with no list frame of its own

const $ = (id) => document.getElementById(id);
const sweepId = $("sweep").dataset.sweepId;
const tbody = $("sweep-table").querySelector("tbody");
const headRow = $("sweep-table").querySelector("thead tr");
const axisSelect = $("chart-axis");
const valueSelect = $("chart-value");
const chartNode = $("sweep-chart");

let sweep = null; // the last GET /api/sweeps/{id}
const rows = new Map(); // run id -> the row's nodes
let columns = []; // [{key, label, num, value(run)}], fixed by the first read
let sort = { key: null, dir: 1 }; // key null: the sweep's own order (its points in turn)
let chartSignature = "";

// -- the table ---------------------------------------------------------------------------------

const axisText = (value) => (value === undefined ? "–" : typeof value === "string" ? value : JSON.stringify(value));

function buildColumns(s) {
  columns = [
    { key: "name", label: "Run", value: (r) => r.name },
    { key: "status", label: "Status", value: (r) => r.status },
    ...s.axes.map((axis) => ({ key: `axis:${axis}`, label: axis, axis, value: (r) => r.point[axis] })),
    { key: "step", label: "Step", value: (r) => r.step },
    { key: "final", label: `final ${s.metric}`, num: true, value: (r) => r.final },
    { key: "best", label: `best ${s.metric}`, num: true, value: (r) => r.best },
  ];
  headRow.replaceChildren(...columns.map((col) => {
    col.button = el("button", { type: "button", class: "sort", dataset: { key: col.key },
      onclick: () => sortBy(col.key) }, col.label, el("span", { class: "arrow", "aria-hidden": "true" }));
    col.th = el("th", { scope: "col", class: col.num ? "num" : null, dataset: { key: col.key } }, col.button);
    return col.th;
  }));
}

function sortBy(key) {
  sort = sort.key === key ? { key, dir: -sort.dir } : { key, dir: 1 };
  renderSort();
  orderRows();
}

function renderSort() {
  for (const col of columns) {
    const active = col.key === sort.key;
    if (active) col.th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    else col.th.removeAttribute("aria-sort");
    col.button.querySelector(".arrow").textContent = active ? (sort.dir > 0 ? " ▲" : " ▼") : "";
  }
}

// numbers before strings, and a missing value last whichever the direction
function compareValues(a, b) {
  if (typeof a === "boolean") a = Number(a);
  if (typeof b === "boolean") b = Number(b);
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function sortedRuns() {
  const runs = sweep.runs.map((run, index) => ({ run, index }));
  const col = columns.find((c) => c.key === sort.key);
  if (!col) return runs.map((x) => x.run);
  const missing = (v) => v === null || v === undefined;
  runs.sort((x, y) => {
    const a = col.value(x.run);
    const b = col.value(y.run);
    if (missing(a) || missing(b)) return missing(a) - missing(b) || x.index - y.index;
    return sort.dir * compareValues(a, b) || x.index - y.index;
  });
  return runs.map((x) => x.run);
}

function orderRows() {
  const wanted = sortedRuns().map((r) => rows.get(r.id).tr);
  const current = [...tbody.children];
  if (wanted.length === current.length && wanted.every((tr, i) => tr === current[i])) return;
  const focused = tbody.contains(document.activeElement) ? document.activeElement : null;
  tbody.append(...wanted); // moves the rows: a focused link would lose its focus
  if (focused) focused.focus();
}

function makeRow(run) {
  const row = {
    link: el("a", { href: `/runs/${run.id}`, class: "run-name" }),
    best: el("span", { class: "best-badge", hidden: true }, "best"),
    status: el("span", { class: "status" }),
    reason: el("div", { class: "reason" }),
    axes: sweep.axes.map(() => el("td", { class: "axis" })),
    progress: el("progress", { max: 1, value: 0 }),
    progressText: el("span", { class: "progress-text" }),
    final: el("td", { class: "num final" }),
    bestValue: el("td", { class: "num best-value" }),
  };
  row.tr = el("tr", { dataset: { runId: run.id } },
    el("td", {}, row.link, " ", row.best),
    el("td", {}, row.status, row.reason),
    row.axes,
    el("td", { class: "progress-cell" }, row.progress, row.progressText),
    row.final,
    row.bestValue);
  return row;
}

function metricCell(td, value, step) {
  td.textContent = fmtNumber(value);
  td.dataset.value = value === null ? "" : String(value);
  td.title = value === null ? "" : `${value} at step ${step.toLocaleString("en-US")}`;
}

function renderRow(run) {
  const row = rows.get(run.id);
  row.link.textContent = run.name;
  const isBest = run.id === sweep.best_run;
  row.tr.classList.toggle("best", isBest);
  row.best.hidden = !isBest;
  row.best.title = isBest ? `the best ${sweep.metric} of the sweep (${sweep.goal === "min" ? "lowest" : "highest"})` : "";
  setStatusBadge(row.status, run.status);
  // why a run stopped (the median rule says at which step and against what), failed or waits
  const { with_error: withError, tone } = statusRules(run.status);
  const reason = withError ? run.error || run.status_message : run.status_message;
  row.reason.textContent = reason || "";
  row.reason.hidden = !reason;
  row.reason.className = tone === "bad" ? "reason error-text" : "reason muted";
  sweep.axes.forEach((axis, i) => {
    row.axes[i].textContent = axisText(run.point[axis]);
    row.axes[i].dataset.value = JSON.stringify(run.point[axis] ?? null);
  });
  const total = run.total_steps || 0;
  row.progress.max = Math.max(total, 1);
  row.progress.value = Math.min(run.step, row.progress.max);
  row.progress.setAttribute("aria-label", `${run.name}: step ${run.step} of ${total}`);
  row.progressText.textContent = `${run.step.toLocaleString("en-US")} / ${total.toLocaleString("en-US")}`;
  metricCell(row.final, run.final, run.final_step);
  metricCell(row.bestValue, run.best, run.best_step);
}

// -- the header and actions --------------------------------------------------------------------

function renderHead(s) {
  document.title = `${s.name} · Sweep · GANscope`;
  $("sweep-name").textContent = s.name;
  const state = $("sweep-state");
  state.textContent = s.status;
  state.dataset.state = s.status;
  state.hidden = false;
  const better = s.goal === "min" ? "lower is better" : "higher is better";
  $("sweep-info").replaceChildren(
    el("strong", {}, s.metric), ` (${better}) · ${s.search} search over `,
    ...s.axes.flatMap((axis, i) => [i ? ", " : "", el("code", {}, axis)]),
    ` · ${s.stop_rule ? `${s.stop_rule} stopping rule` : "no stopping rule"}`,
    ` · created ${fmtAge(s.created_at)}`);
  const n = s.runs.length;
  $("sweep-counts").replaceChildren(`${n} run${n === 1 ? "" : "s"}: `,
    ...Object.entries(s.counts).map(([status, count]) =>
      el("span", { class: "status", dataset: { tone: statusRules(status).tone } }, `${count} ${status}`)));
  $("compare-link").href = `/compare?ids=${s.runs.map((r) => r.id).join(",")}`;
  $("csv-link").href = `/api/sweeps/${s.id}/export.csv`;
  const stop = $("stop-sweep");
  stop.disabled = s.status !== "active";
  stop.title = stop.disabled ? "No run of this sweep is queued or training" : "";
  const resumable = (s.counts.interrupted || 0) + (s.counts.failed || 0);
  const resume = $("resume-sweep");
  resume.disabled = resumable === 0;
  resume.title = resumable ? `Resume ${resumable} run${resumable === 1 ? "" : "s"} from their last checkpoints`
    : "No run of this sweep is interrupted or failed";
}

async function control(action, button) {
  const result = $("control-result");
  button.disabled = true;
  result.textContent = action === "stop" ? "Stopping…" : "Resuming…";
  try {
    const out = await api(`/api/sweeps/${sweepId}/control`, { method: "POST", body: { action } });
    const n = out.runs.length;
    const verb = action === "stop" ? "Stopped" : "Resumed";
    result.textContent = `${n ? `${verb} ${n} run${n === 1 ? "" : "s"}` : `No run to ${action}`}`
      + `${out.skipped.length ? `; not ${verb.toLowerCase()}: ${out.skipped.join("; ")}` : ""}.`;
  } catch (err) {
    result.textContent = `Could not ${action} the sweep: ${err.message}`;
  } finally {
    await refresh();
  }
}

// -- the chart -----------------------------------------------------------------------------------

// The metric against one axis: each distinct value of the axis, the mean over the runs that
// have it (the other axes and the seeds are replicates), and their min and max as error bars.
function chartData(axis, which) {
  const groups = new Map(); // the axis value as JSON -> {x, values, names}
  for (const run of sweep.runs) {
    if (!(axis in run.point)) continue;
    const key = JSON.stringify(run.point[axis]);
    if (!groups.has(key)) groups.set(key, { x: run.point[axis], values: [], names: [] });
    const value = run[which];
    if (typeof value === "number" && Number.isFinite(value)) {
      groups.get(key).values.push(value);
      groups.get(key).names.push(run.name);
    }
  }
  const points = [...groups.values()];
  const numeric = points.length > 0 && points.every((p) => typeof p.x === "number");
  if (numeric) points.sort((a, b) => a.x - b.x); // else the points' own order
  return { points: points.filter((p) => p.values.length), numeric };
}

function drawChart() {
  if (!sweep || !window.Plotly) return;
  const axis = axisSelect.value;
  const which = valueSelect.value;
  const { points, numeric } = chartData(axis, which);
  const others = sweep.axes.filter((a) => a !== axis);
  chartNode.hidden = points.length === 0;
  if (!points.length) {
    chartSignature = "";
    $("chart-note").textContent = `No run has a ${which} ${sweep.metric} yet: the chart appears with the first value.`;
    return;
  }
  const xs = points.map((p) => (numeric ? p.x : axisText(p.x)));
  const mean = points.map((p) => p.values.reduce((a, b) => a + b, 0) / p.values.length);
  const positive = numeric && points.length > 1 && points.every((p) => p.x > 0);
  const spread = positive ? Math.max(...xs) / Math.min(...xs) : 1;
  const traces = [{
    type: "scatter", mode: numeric ? "lines+markers" : "markers", name: "mean",
    x: xs, y: mean, marker: { size: 9, color: "#3b6fd8" }, line: { color: "#3b6fd8" },
    error_y: { type: "data", symmetric: false, color: "#3b6fd8",
      array: points.map((p, i) => Math.max(...p.values) - mean[i]),
      arrayminus: points.map((p, i) => mean[i] - Math.min(...p.values)) },
    text: points.map((p) => `${p.values.length} run${p.values.length === 1 ? "" : "s"}`),
    hovertemplate: `${axis} = %{x}<br>mean %{y:.4g} over %{text}<extra></extra>`,
  }, {
    type: "scatter", mode: "markers", name: "each run",
    x: points.flatMap((p, i) => p.values.map(() => xs[i])), y: points.flatMap((p) => p.values),
    text: points.flatMap((p) => p.names), marker: { size: 5, color: "rgba(93, 102, 119, .45)" },
    hovertemplate: "%{text}<br>%{y:.4g}<extra></extra>",
  }];
  const title = `${sweep.metric} by ${axis}: mean of each run's ${which} value, bars from min to max`;
  const layout = {
    title: { text: title, font: { size: 13 } }, margin: { t: 40, r: 10, b: 50, l: 60 }, height: 360,
    xaxis: { title: { text: axis }, type: !numeric ? "category" : spread >= 20 ? "log" : "linear",
      ...(numeric ? { tickvals: xs, ticktext: xs.map(axisText) } : {}) },
    yaxis: { title: { text: `${which} ${sweep.metric}` } },
    legend: { orientation: "h", y: -0.2 }, showlegend: true,
  };
  const signature = JSON.stringify([traces, layout]);
  if (signature === chartSignature) return;
  chartSignature = signature;
  window.Plotly.react(chartNode, traces, layout, { displaylogo: false, responsive: true });
  const counted = points.reduce((a, p) => a + p.values.length, 0);
  $("chart-note").textContent = `${counted} of ${sweep.runs.length} runs have a ${which} ${sweep.metric} so far. `
    + `Each point is the mean over the runs with that ${axis}`
    + `${others.length ? ` (whatever their ${others.join(", ")}: replicates)` : ""}; the bars span their min and max.`;
}

// -- reading the sweep -------------------------------------------------------------------------

function render(s) {
  const first = sweep === null;
  sweep = s;
  if (first) {
    buildColumns(s);
    axisSelect.replaceChildren(...s.axes.map((axis) => el("option", { value: axis }, axis)));
    $("sweep-body").hidden = false;
  }
  renderHead(s);
  const ids = new Set(s.runs.map((r) => r.id));
  for (const [id, row] of rows) {
    if (!ids.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  for (const run of s.runs) {
    if (!rows.has(run.id)) rows.set(run.id, makeRow(run));
    renderRow(run);
  }
  orderRows();
  drawChart();
  $("sweep").dataset.loaded = "true";
}

function showNotFound() {
  document.title = "No such sweep · GANscope";
  $("sweep-name").textContent = `No sweep ${sweepId}`;
  $("sweep-info").replaceChildren("There is no sweep with this id (its runs may have been deleted). ",
    el("a", { href: "/" }, "See every run"), ".");
  $("sweep-body").hidden = true;
  $("sweep").dataset.loaded = "missing";
}

let lastRead = 0;
let timer = null;
let reading = false;
let readAgain = false;
let stream = null;

function scheduleRefresh() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    refresh();
  }, Math.max(0, lastRead + MIN_REFRESH_MS - Date.now()));
}

async function refresh() {
  if (reading) {
    readAgain = true;
    return;
  }
  reading = true;
  lastRead = Date.now();
  try {
    render(await api(`/api/sweeps/${sweepId}`));
    if (!stream) stream = new Stream("/ws/runs", { onFrame, onState });
  } catch (err) {
    if (err.status === 404) {
      showNotFound();
      if (stream) stream.close();
      clearInterval(poll);
    } else if (err.status !== 0) {
      showBanner(`Could not read the sweep: ${err.message}`, "error");
    }
  } finally {
    reading = false;
    if (readAgain) {
      readAgain = false;
      scheduleRefresh();
    }
  }
}

function onFrame(frame) {
  // "runs" comes on every (re)connect: whatever happened meanwhile is in the next read
  if (frame.type === "runs" || (frame.id && rows.has(frame.id))) scheduleRefresh();
}

let connectionLost = false;
function onState(state) {
  if (state === "live") {
    setConnection("live");
    if (connectionLost) hideBanner();
    connectionLost = false;
  } else if (state === "reconnecting") {
    connectionLost = true;
    setConnection("reconnecting…", "bad");
    showBanner("Lost the connection to the GANscope server; retrying. The table may be out of date.", "error");
  } else if (state === "connecting") {
    setConnection("connecting…");
  }
}

for (const col of [axisSelect, valueSelect]) col.addEventListener("change", drawChart);
$("stop-sweep").addEventListener("click", (ev) => control("stop", ev.currentTarget));
$("resume-sweep").addEventListener("click", (ev) => control("resume", ev.currentTarget));
const poll = setInterval(() => {
  if (sweep && sweep.status === "active") scheduleRefresh();
}, POLL_MS);
refresh();
