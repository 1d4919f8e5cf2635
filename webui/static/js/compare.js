// Compare runs: the runs named in ?ids=a,b,... (chosen in the picker), their metrics overlaid
// on one step axis (one chart per metric, one colour per run) and their latest samples side
// by side: the last sample grid, or for 2D data the last view's real and generated points.

import { api, el, featureSpace, fmtNumber, METRICS, metricFor, REGISTRY } from "./api.js";

// Plotly is a classic script (global), loaded before this module.
const Plotly = window.Plotly;

// One chart per metric the registry charts on the run page (gan_core/reports.py), in its
// order, with its title and its chart's scale (an evaluation's once per feature space, as
// stored); then any other reported series by name. Not overlaid: what the registry declares
// without a chart (timings, spreads) and a chart's per-layer family (spectral norms differ
// between architectures).
const LOG_CHARTS = new Set(REGISTRY.charts.filter((c) => c.log).map((c) => c.name));
const FAMILIES = REGISTRY.charts.filter((c) => c.prefix).map((c) => c.prefix);
const STORED = new Map(REGISTRY.metrics.flatMap((m) => (m.names
  ? Object.entries(m.names).map(([space, name]) => [name, { metric: m, space }])
  : [[m.name, { metric: m, space: null }]])));
const PLOTTED = [...STORED].filter(([, { metric }]) => metric.chart)
  .map(([key, { metric, space }]) => ({ key, log: LOG_CHARTS.has(metric.chart),
    title: space ? `${metric.title} (${featureSpace(space).space})` : metric.title }));
const NOT_PLOTTED = (key) => FAMILIES.some((prefix) => key.startsWith(prefix))
  || (STORED.has(key) && !STORED.get(key).metric.chart);
const LOSSES = [metricFor("d_loss"), metricFor("g_loss")];
const PALETTE = ["#3b6fd8", "#d9622b", "#1f8a4c", "#b83280", "#7c5cc4", "#b58b00", "#17a2b8",
  "#c0352b", "#5d6677", "#2e9e8f"];
const PLOT_CONFIG = { displaylogo: false, responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d"] };

const picker = document.getElementById("picker");
const pickerFilter = document.getElementById("picker-filter");
const main = document.getElementById("compare");
const statusNode = document.getElementById("compare-status");
const refreshButton = document.getElementById("refresh");

const known = new Map();   // id -> run (RunPublic)
const cache = new Map();   // id -> {metrics, latest sample}
let selection = [];        // ids, in the order chosen (which sets their colours)
let generation = 0;

function idsFromUrl() {
  const raw = new URLSearchParams(location.search).get("ids") || "";
  return [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
}

function writeUrl() {
  const params = new URLSearchParams(location.search);
  if (selection.length) params.set("ids", selection.join(","));
  else params.delete("ids");
  // commas stay readable in a shared link
  const query = params.toString().replace(/%2C/g, ",");
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
}

// Names as the legend shows them: the run's name, with its id where two runs share a name.
function labels() {
  const counts = new Map();
  for (const id of selection) {
    const name = known.get(id)?.name || id;
    counts.set(name, (counts.get(name) || 0) + 1);
  }
  return new Map(selection.map((id) => {
    const name = known.get(id)?.name || id;
    return [id, counts.get(name) > 1 ? `${name} (${id.slice(0, 6)})` : name];
  }));
}

function colourOf(id) {
  return PALETTE[selection.indexOf(id) % PALETTE.length];
}

// -- the picker ------------------------------------------------------------------------------

function renderPicker() {
  const rows = [...known.values()];
  if (!rows.length) {
    picker.replaceChildren(picker.querySelector("legend"),
      el("p", { class: "muted" }, "No runs yet. ", el("a", { href: "/runs/new" }, "Start one"), "."));
    return;
  }
  const items = rows.map((run) => {
    const box = el("input", { type: "checkbox", value: run.id, checked: selection.includes(run.id) });
    box.addEventListener("change", () => {
      selection = box.checked ? [...selection, run.id] : selection.filter((id) => id !== run.id);
      writeUrl();
      renderPicker();
      render();
    });
    const swatch = selection.includes(run.id)
      ? el("span", { class: "swatch", style: `background:${colourOf(run.id)}`, "aria-hidden": "true" }) : null;
    return el("label", { class: "pick", dataset: { runId: run.id } },
      box,
      el("span", { class: "pick-text" },
        el("span", { class: "pick-name" }, swatch, run.name),
        el("span", { class: "pick-meta" },
          el("span", { class: "status", dataset: { status: run.status } }, run.status),
          ` ${run.data} · ${run.loss} · ${run.step}/${run.total_steps} · `,
          el("span", { class: "pick-id" }, run.id))));
  });
  const focused = document.activeElement && picker.contains(document.activeElement)
    ? document.activeElement.value : null;
  picker.replaceChildren(picker.querySelector("legend"), ...items);
  if (focused) picker.querySelector(`input[value="${focused}"]`)?.focus();
  filterPicker();
}

function filterPicker() {
  const q = pickerFilter.value.trim().toLowerCase();
  for (const label of picker.querySelectorAll(".pick")) {
    const run = known.get(label.dataset.runId);
    label.hidden = Boolean(q) && !run.name.toLowerCase().includes(q) && !run.id.includes(q);
  }
}

// -- loading ---------------------------------------------------------------------------------

async function loadRun(id) {
  if (cache.has(id)) return cache.get(id);
  const [metrics, samples] = await Promise.all([
    api(`/api/runs/${id}/metrics?max_points=2000`),
    api(`/api/runs/${id}/samples`),
  ]);
  let latest = null;
  if (samples.grids.length) latest = { kind: "grid", ...samples.grids[samples.grids.length - 1] };
  else if (samples.views.length) {
    const view = samples.views[samples.views.length - 1];
    latest = { kind: "view", step: view.step, data: await api(view.url) };
  }
  const entry = { metrics: metrics.series, latest };
  cache.set(id, entry);
  return entry;
}

async function render() {
  const mine = ++generation;
  for (const node of main.querySelectorAll(".js-plotly-plot")) Plotly.purge(node);
  if (selection.length < 2) {
    statusNode.textContent = "";
    main.replaceChildren(el("div", { class: "empty" },
      el("p", { class: "empty-title" }, selection.length
        ? "Choose at least one more run to compare."
        : "Choose two or more runs to compare."),
      el("p", {}, "Tick them in the list; the address of this page then keeps the choice, so you can share it.")));
    return;
  }
  statusNode.textContent = `Loading ${selection.length} runs…`;
  const results = await Promise.all(selection.map((id) => loadRun(id).then(
    (data) => ({ id, data }), (error) => ({ id, error }))));
  if (mine !== generation) return;
  const failed = results.filter((r) => r.error);
  const ok = results.filter((r) => !r.error);
  const names = labels();
  statusNode.textContent = `Comparing ${ok.length} runs.`;
  const parts = [
    failed.length ? el("div", { class: "notice error-text", role: "alert" },
      failed.map((r) => el("p", {}, `${names.get(r.id)}: ${r.error.message}`))) : null,
    runsTable(ok.map((r) => r.id), names),
    el("h2", {}, "Metrics"),
    metricCharts(ok, names),
    el("h2", {}, "Latest samples"),
    samplePanels(ok, names)];
  main.replaceChildren(...parts.filter(Boolean));
  drawPending();
}

function runsTable(ids, names) {
  return el("table", { class: "compared" },
    el("caption", { class: "visually-hidden" }, "Runs compared"),
    el("thead", {}, el("tr", {}, ["Run", "Status", "Data", "Loss", "Step",
      ...LOSSES.map((name) => (METRICS.get(name) || { title: name }).title)]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ids.map((id) => {
      const run = known.get(id);
      const m = run.last_metrics || {};
      return el("tr", {},
        el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(id)}`, "aria-hidden": "true" }),
          el("a", { href: `/runs/${id}` }, names.get(id))),
        el("td", {}, el("span", { class: "status", dataset: { status: run.status } }, run.status),
          run.error ? el("div", { class: "reason error-text" }, run.error) : null),
        el("td", {}, run.data), el("td", {}, run.loss),
        el("td", {}, `${run.step} / ${run.total_steps}`),
        ...LOSSES.map((name) => el("td", {}, fmtNumber(m[name]))));
    })));
}

const pending = [];  // [node, traces, layout]: drawn once the nodes are in the page

function metricCharts(results, names) {
  const present = new Set(results.flatMap((r) => Object.keys(r.data.metrics)));
  const metrics = [...PLOTTED.filter((m) => present.has(m.key)),
    ...[...present].filter((k) => !NOT_PLOTTED(k) && !PLOTTED.some((m) => m.key === k))
      .sort().map((key) => ({ key, title: key }))];
  if (!metrics.length) return el("p", { class: "empty" }, "None of these runs has reported metrics yet.");
  return el("div", { class: "charts" }, metrics.map((metric) => {
    const traces = results.filter((r) => r.data.metrics[metric.key]).map((r) => {
      const series = r.data.metrics[metric.key];
      return { x: series.step, y: series.value, name: names.get(r.id), type: "scatter",
        mode: series.step.length > 1 ? "lines" : "markers", line: { color: colourOf(r.id), width: 1.6 },
        marker: { color: colourOf(r.id) } };
    });
    const node = el("div", { class: "chart", dataset: { metric: metric.key }, role: "img",
      "aria-label": `${metric.title} against step for ${traces.map((t) => t.name).join(", ")}` });
    pending.push([node, traces, {
      title: { text: metric.title, font: { size: 13 }, x: 0.02 },
      height: 280, margin: { l: 56, r: 12, t: 36, b: 40 },
      xaxis: { title: { text: "step" }, zeroline: false },
      yaxis: { type: metric.log ? "log" : "linear", zeroline: false },
      legend: { orientation: "h", y: -0.28 }, showlegend: true,
      paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    }]);
    return el("figure", { class: "panel chart-box" }, node);
  }));
}

function samplePanels(results, names) {
  return el("div", { class: "samples" }, results.map(({ id, data }) => {
    const { latest } = data;
    let body;
    if (!latest) body = el("p", { class: "empty" }, "No samples yet.");
    else if (latest.kind === "grid") {
      body = el("img", { src: latest.url, alt: `Samples of ${names.get(id)} at step ${latest.step}`,
        class: "grid-img" });
    } else {
      body = el("div", { class: "view", role: "img",
        "aria-label": `Real and generated points of ${names.get(id)} at step ${latest.step}` });
      pending.push(viewPlot(body, latest.data, colourOf(id)));
    }
    return el("figure", { class: "panel sample", dataset: { runId: id } },
      el("figcaption", {},
        el("span", { class: "swatch", style: `background:${colourOf(id)}`, "aria-hidden": "true" }),
        names.get(id), el("span", { class: "muted" }, latest ? ` · step ${latest.step}` : "")),
      body);
  }));
}

function viewPlot(node, view, colour) {
  const xy = (points) => ({ x: points.map((p) => p[0]), y: points.map((p) => p[1]) });
  const [x0, x1, y0, y1] = view.extent || [];
  const traces = [
    { ...xy(view.real || []), name: "real", type: "scatter", mode: "markers",
      marker: { color: "rgba(93,102,119,.45)", size: 4 } },
    { ...xy(view.fake || []), name: "generated", type: "scatter", mode: "markers",
      marker: { color: colour, size: 4, opacity: 0.8 } },
  ];
  return [node, traces, {
    height: 320, margin: { l: 36, r: 10, t: 10, b: 30 },
    xaxis: { range: x0 === undefined ? undefined : [x0, x1], zeroline: false },
    yaxis: { range: y0 === undefined ? undefined : [y0, y1], zeroline: false, scaleanchor: "x" },
    legend: { orientation: "h", y: -0.12 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
  }];
}

function drawPending() {
  for (const [node, traces, layout] of pending.splice(0)) {
    Plotly.newPlot(node, traces, layout, PLOT_CONFIG);
  }
}

// -- start -----------------------------------------------------------------------------------

async function start() {
  selection = idsFromUrl();
  let list;
  try {
    list = await api("/api/runs?limit=500");
  } catch (err) {
    picker.replaceChildren(picker.querySelector("legend"),
      el("p", { class: "error-text" }, `The runs cannot be listed: ${err.message}`),
      el("button", { type: "button", onclick: start }, "Try again"));
    main.replaceChildren();
    return;
  }
  for (const run of list.data) known.set(run.id, run);
  // runs in the link but past the newest 500, or gone
  const missing = [];
  await Promise.all(selection.filter((id) => !known.has(id)).map(async (id) => {
    try {
      known.set(id, await api(`/api/runs/${id}`));
    } catch {
      missing.push(id);
    }
  }));
  if (missing.length) {
    selection = selection.filter((id) => !missing.includes(id));
    writeUrl();
  }
  renderPicker();
  refreshButton.disabled = false;
  await render();
  if (missing.length) {
    main.prepend(el("p", { class: "notice error-text", role: "alert" },
      `Not found (deleted?): ${missing.join(", ")}.`));
  }
}

refreshButton.addEventListener("click", async () => {
  cache.clear();
  refreshButton.disabled = true;
  try {
    const list = await api("/api/runs?limit=500");
    known.clear();
    for (const run of list.data) known.set(run.id, run);
    for (const id of selection.filter((i) => !known.has(i))) {
      try {
        known.set(id, await api(`/api/runs/${id}`));
      } catch {
        selection = selection.filter((i) => i !== id);
      }
    }
    writeUrl();
    renderPicker();
    await render();
  } catch {
    // api() has put up the banner
  } finally {
    refreshButton.disabled = false;
  }
});
pickerFilter.addEventListener("input", filterPicker);
start();
