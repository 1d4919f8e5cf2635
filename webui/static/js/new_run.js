// New run: a form generated from the config schema, filled from a preset, launched with
// POST /api/runs. What is sent is the whole config the form shows (the preset is sent along
// only as a record of the starting point: every field of it is in the config too).
// In sweep mode the same config goes to POST /api/sweeps with the axes to vary.

import { api, el, fieldPath, hideBanner } from "./api.js";
import { SchemaForm } from "./schema_form.js";

const formNode = document.getElementById("new-run");
const presetSelect = document.getElementById("preset");
const presetHint = document.getElementById("preset-hint");
const fieldsNode = document.getElementById("fields");
const errorsNode = document.getElementById("form-errors");
const preview = document.getElementById("preview");
const launch = document.getElementById("launch");
const statusNode = document.getElementById("submit-status");
const DEFAULT_HINT = presetHint.textContent;
const sweepPanel = document.getElementById("sweep-panel");
const axesNode = document.getElementById("axes");
const axesError = document.getElementById("axes-err");
const axisFields = document.getElementById("axis-fields");
const sweepSearch = document.getElementById("sweep-search");
const sweepCount = document.getElementById("sweep-count");
const sweepSeed = document.getElementById("sweep-seed");
const sweepMetric = document.getElementById("sweep-metric");
const sweepGoal = document.getElementById("sweep-goal");
const sweepMedian = document.getElementById("sweep-median");
const sweepOptionsError = document.getElementById("sweep-options-err");
const sweepSize = document.getElementById("sweep-size");
const AXIS_NAME = /^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$/; // the server's AxisName

let schemaForm = null;
let presets = [];
let presetName = null;  // the name the last preset filled in

function describe(list) {
  return Object.fromEntries((list || []).map((entry) => [entry.name, entry.description]));
}

async function load() {
  fieldsNode.replaceChildren(el("p", { class: "empty" }, "Loading the config schema…"));
  let schema;
  let registry;
  try {
    [schema, registry] = await Promise.all([api("/api/config/schema"), api("/api/registry")]);
  } catch (err) {
    fieldsNode.replaceChildren(el("div", { class: "empty" },
      el("p", { class: "error-text" }, `The form cannot be built: ${err.message}`),
      el("button", { type: "button", onclick: () => { hideBanner(); load(); } }, "Try again")));
    return;
  }
  presets = registry.presets || [];
  schemaForm = new SchemaForm(schema, { hints: {
    "data.name": describe(registry.datasets),
    "model.arch": describe(registry.models),
    "loss.name": describe(registry.losses),
  } });
  const nameField = schemaForm.find("name");
  if (nameField && nameField.input) nameField.input.placeholder = "defaults to the run's id";
  fieldsNode.replaceChildren(schemaForm.node);

  presetSelect.replaceChildren(el("option", { value: "" }, "Defaults (no preset)"),
    ...presets.map((p) => el("option", { value: p.name }, p.name)));
  const wanted = new URLSearchParams(location.search).get("preset");
  const initial = presets.some((p) => p.name === wanted) ? wanted : presets[0]?.name || "";
  presetSelect.value = initial;
  presetSelect.disabled = false;
  applyPreset(initial);
  launch.disabled = false;
}

function applyPreset(name) {
  const preset = presets.find((p) => p.name === name);
  const config = preset ? structuredClone(preset.config) : {};
  // a name the user typed stays; the one a preset filled in follows the preset
  const typed = schemaForm.find("name")?.get();
  config.name = typed && typed !== presetName ? typed : preset ? preset.name : null;
  presetName = preset ? preset.name : null;
  schemaForm.setValue(config);
  presetSelect.removeAttribute("aria-invalid");
  presetHint.textContent = preset ? preset.description : DEFAULT_HINT;
  hideErrors();
  const params = new URLSearchParams(location.search);
  if (name) params.set("preset", name);
  else params.delete("preset");
  history.replaceState(null, "", `${location.pathname}${params.toString() ? `?${params}` : ""}`);
  updatePreview();
}

function requestBody() {
  const body = { config: schemaForm.value() };
  if (presetSelect.value) body.preset = presetSelect.value;
  return sweepMode() ? sweepBody(body) : body;
}

// -- sweep mode: the same config, and axes to vary ------------------------------------------------

const sweepMode = () => formNode.elements["launch-mode"].value === "sweep";
const axisRows = []; // {node, field, values, error, remove}
let axisCounter = 0;

// "1e-4" -> 0.0001, "true" -> true, anything else stays the text it is
function parseValue(text) {
  if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  return text.replace(/^"(.*)"$/, "$1");
}

// "a, b, c" -> [a, b, c]; "1e-5..1e-3 log" -> {low, high, log} (random search only)
function parseAxisValues(text) {
  const range = text.trim().match(/^(\S+?)\s*\.\.\s*(\S+)((?:\s+(?:log|int))*)$/);
  if (range && typeof parseValue(range[1]) === "number" && typeof parseValue(range[2]) === "number") {
    const words = range[3].split(/\s+/);
    return { low: parseValue(range[1]), high: parseValue(range[2]), log: words.includes("log"),
      integer: words.includes("int") };
  }
  return text.split(",").map((part) => part.trim()).filter(Boolean).map(parseValue);
}

function addAxisRow(field = "", values = "") {
  axisCounter += 1;
  const id = `axis-${axisCounter}`;
  const row = {
    field: el("input", { type: "text", id: `${id}-field`, class: "axis-field", list: "axis-fields",
      value: field, placeholder: "optim.d.lr", autocomplete: "off", spellcheck: "false" }),
    values: el("input", { type: "text", id: `${id}-values`, class: "axis-values", value: values,
      placeholder: "1e-4, 5e-4", autocomplete: "off", spellcheck: "false" }),
    count: el("span", { class: "axis-count muted" }),
    error: el("p", { class: "field-error axis-error", id: `${id}-err`, hidden: true }),
    remove: el("button", { type: "button", class: "remove-axis" }, "Remove"),
  };
  row.node = el("div", { class: "axis-row", dataset: { axis: "" } },
    el("div", { class: "axis-inputs" },
      el("label", { for: row.field.id, class: "key" }, "Field"), row.field,
      el("label", { for: row.values.id, class: "key" }, "Values"), row.values,
      row.count, row.remove),
    row.error);
  row.values.setAttribute("aria-describedby", "axes-hint");
  row.remove.addEventListener("click", () => removeAxisRow(row));
  row.field.addEventListener("focus", refreshAxisFields);
  for (const input of [row.field, row.values]) {
    input.addEventListener("input", () => {
      clearAxisError(row);
      renderSweepSize();
    });
  }
  axisRows.push(row);
  axesNode.append(row.node);
  renderSweepSize();
  return row;
}

function removeAxisRow(row) {
  const index = axisRows.indexOf(row);
  axisRows.splice(index, 1);
  row.node.remove();
  if (!axisRows.length) addAxisRow();
  const next = axisRows[Math.min(index, axisRows.length - 1)];
  next.field.focus();
  renderSweepSize();
  updatePreview();
}

// the form's own fields, for the axis field's suggestions (a preset can swap a union's fields)
function refreshAxisFields() {
  if (!schemaForm) return;
  const paths = schemaForm.controls().filter((c) => c.path && c.node && !c.isContainer).map((c) => c.path);
  axisFields.replaceChildren(...[...new Set(paths)].filter((p) => p !== "name").map((p) => el("option", { value: p })));
}

function setAxisError(row, msg, { onField = false } = {}) {
  row.error.textContent = msg;
  row.error.hidden = false;
  const input = onField ? row.field : row.values;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", row.error.id);
  return input;
}

function clearAxisError(row) {
  row.error.hidden = true;
  row.error.textContent = "";
  row.field.removeAttribute("aria-invalid");
  row.values.removeAttribute("aria-invalid");
  row.values.setAttribute("aria-describedby", "axes-hint");
  row.field.removeAttribute("aria-describedby");
}

function clearSweepErrors() {
  for (const row of axisRows) clearAxisError(row);
  for (const node of [axesError, sweepOptionsError]) {
    node.hidden = true;
    node.textContent = "";
  }
  sweepCount.removeAttribute("aria-invalid");
}

// the rows someone filled in: {row, name, values}
function filledAxes() {
  return axisRows.filter((row) => row.field.value.trim() || row.values.value.trim())
    .map((row) => ({ row, name: row.field.value.trim(), values: parseAxisValues(row.values.value) }));
}

function sweepBody(body) {
  const random = sweepSearch.value === "random";
  const out = { ...body, axes: Object.fromEntries(filledAxes().map((a) => [a.name, a.values])),
    search: sweepSearch.value, stop_rule: sweepMedian.checked ? "median" : null };
  if (body.config.name) out.name = body.config.name;
  if (random) {
    out.count = Number(sweepCount.value);
    out.seed = Number(sweepSeed.value || 0);
  }
  if (sweepMetric.value.trim()) out.metric = sweepMetric.value.trim();
  if (sweepGoal.value) out.goal = sweepGoal.value;
  return out;
}

function renderSweepSize() {
  const random = sweepSearch.value === "random";
  for (const node of sweepPanel.querySelectorAll(".random-only")) node.hidden = !random;
  const axes = filledAxes();
  axisRows.forEach((row, i) => {
    row.count.textContent = "";
    row.remove.setAttribute("aria-label", `Remove the axis ${row.field.value.trim() || i + 1}`);
  });
  for (const { row, values } of axes) {
    row.count.textContent = Array.isArray(values) ? `${values.length} value${values.length === 1 ? "" : "s"}`
      : `${values.log ? "log " : ""}range`;
  }
  let runs = null;
  if (random) {
    runs = Number(sweepCount.value) || null;
    sweepSize.textContent = runs ? `${runs} run${runs === 1 ? "" : "s"}, drawn at random with seed ${sweepSeed.value || 0}.` : "";
  } else if (axes.some((a) => !Array.isArray(a.values))) {
    sweepSize.textContent = "A range needs random search; a grid takes a list of values.";
  } else {
    const sizes = axes.map((a) => a.values.length);
    runs = axes.length ? sizes.reduce((a, b) => a * b, 1) : 0;
    sweepSize.textContent = axes.length
      ? `${runs} run${runs === 1 ? "" : "s"}${axes.length > 1 ? ` (${sizes.join(" × ")})` : ""}: every combination.`
      : "Add an axis: a field and its values.";
  }
  launch.textContent = sweepMode() ? `Launch sweep${runs ? ` (${runs} run${runs === 1 ? "" : "s"})` : ""}` : "Launch run";
}

function setMode(mode) {
  formNode.elements["launch-mode"].value = mode;
  sweepPanel.hidden = mode !== "sweep";
  if (mode === "sweep" && !axisRows.length) addAxisRow();
  const params = new URLSearchParams(location.search);
  if (mode === "sweep") params.set("mode", "sweep");
  else params.delete("mode");
  history.replaceState(null, "", `${location.pathname}${params.toString() ? `?${params}` : ""}`);
  clearSweepErrors();
  renderSweepSize();
  updatePreview();
}

// client-side: [{label, msg, target}], each already marked in the sweep panel
function checkSweep() {
  const problems = [];
  const axes = filledAxes();
  const seen = new Set();
  for (const { row, name, values } of axes) {
    let msg = null;
    let onField = true;
    if (!name) msg = "give the config field to vary, e.g. optim.d.lr";
    else if (!AXIS_NAME.test(name)) msg = "a dotted config path in lower case, e.g. optim.d.lr";
    else if (seen.has(name)) msg = "this field is already an axis";
    else if (Array.isArray(values) && !values.length) {
      msg = "give at least one value";
      onField = false;
    }
    seen.add(name);
    if (msg) problems.push({ label: name || "axis", msg, target: setAxisError(row, msg, { onField }) });
  }
  if (!axes.length) {
    axesError.textContent = "A sweep needs at least one axis: a field and its values.";
    axesError.hidden = false;
    problems.push({ label: "axes", msg: "a sweep needs at least one axis", target: axisRows[0].field });
  }
  if (sweepSearch.value === "random" && !(Number(sweepCount.value) >= 1)) {
    sweepCount.setAttribute("aria-invalid", "true");
    problems.push({ label: "points", msg: "how many runs a random search draws", target: sweepCount });
  }
  return problems;
}

// A 422 of POST /api/sweeps: errors about an axis go to its row, about the sweep's options
// under them; the rest are config fields, placed as for a run.
function placeSweepErrors(detail) {
  const placed = [];
  const rest = [];
  const options = { count: sweepCount, seed: sweepSeed, metric: sweepMetric, goal: sweepGoal,
    search: sweepSearch, stop_rule: sweepMedian };
  for (const d of Array.isArray(detail) ? detail : []) {
    const loc = d.loc || [];
    if (loc[0] === "body" && loc[1] === "axes") {
      const row = axisRows.find((r) => r.field.value.trim() === loc[2]);
      if (row) {
        placed.push({ label: loc[2], msg: d.msg, target: setAxisError(row, d.msg, { onField: loc[3] === "[key]" }) });
      } else {
        axesError.textContent = d.msg;
        axesError.hidden = false;
        placed.push({ label: "axes", msg: d.msg, target: axisRows[0].field });
      }
    } else if (loc[0] === "body" && options[loc[1]]) {
      options[loc[1]].setAttribute("aria-invalid", "true");
      sweepOptionsError.textContent = `${loc[1]}: ${d.msg}`;
      sweepOptionsError.hidden = false;
      placed.push({ label: loc[1], msg: d.msg, target: options[loc[1]] });
    } else {
      rest.push({ path: fieldPath(loc), msg: d.msg });
    }
  }
  return { placed, rest };
}

let previewPending = false;
function updatePreview() {
  if (previewPending || !schemaForm) return;
  previewPending = true;
  requestAnimationFrame(() => {
    previewPending = false;
    preview.textContent = JSON.stringify(requestBody(), null, 2);
  });
}

function hideErrors() {
  errorsNode.hidden = true;
  errorsNode.replaceChildren();
}

// Marks each field, lists every problem above the form, and moves focus to the first field.
// sweepErrors ([{label, msg, target}]) are already marked in the sweep panel; they come first.
function reportErrors(title, errors, sweepErrors = []) {
  const { first, unplaced } = schemaForm.showErrors(errors);
  const presetError = unplaced.find((e) => e.path === "preset");
  if (presetError) presetSelect.setAttribute("aria-invalid", "true");
  const items = errors.map((error) => {
    const control = error.path === "preset" ? null : error.path ? schemaForm.find(error.path) : null;
    const target = error.path === "preset" ? presetSelect : control && control.focusTarget();
    const label = error.path || "config";
    return el("li", {}, target
      ? el("a", { href: `#${target.id}`, onclick: (ev) => { ev.preventDefault(); target.focus(); } }, label)
      : el("strong", {}, label), `: ${error.msg}`);
  });
  const sweepItems = sweepErrors.map((error) => el("li", {},
    el("a", { href: `#${error.target.id}`, onclick: (ev) => { ev.preventDefault(); error.target.focus(); } },
      error.label), `: ${error.msg}`));
  errorsNode.replaceChildren(el("p", {}, title), el("ul", {}, sweepItems, items));
  errorsNode.hidden = false;
  const target = sweepErrors.length ? sweepErrors[0].target
    : presetError ? presetSelect : first && first.focusTarget();
  if (target) target.focus();
  else errorsNode.scrollIntoView({ block: "center" });
}

async function submit(ev) {
  ev.preventDefault();
  if (!schemaForm || launch.disabled) return;
  hideErrors();
  const sweep = sweepMode();
  if (sweep) clearSweepErrors();
  const problems = schemaForm.validate();
  const sweepProblems = sweep ? checkSweep() : [];
  if (problems.length || sweepProblems.length) {
    const n = problems.length + sweepProblems.length;
    reportErrors(`Fix ${n === 1 ? "this field" : "these fields"} first:`, problems, sweepProblems);
    return;
  }
  launch.disabled = true;
  statusNode.textContent = "Launching…";
  try {
    if (sweep) {
      const created = await api("/api/sweeps", { method: "POST", body: requestBody() });
      statusNode.textContent = "Launched; opening the sweep…";
      location.assign(`/sweeps/${created.id}`);
      return;
    }
    const run = await api("/api/runs", { method: "POST", body: requestBody() });
    statusNode.textContent = "Launched; opening the run…";
    location.assign(`/runs/${run.id}`);
  } catch (err) {
    launch.disabled = false;
    statusNode.textContent = "";
    if (err.status === 422 && sweep && Array.isArray(err.detail)) {
      const { placed, rest } = placeSweepErrors(err.detail);
      reportErrors("The server refused this sweep:", rest, placed);
    } else if (err.status === 422 && err.fieldErrors.length) {
      reportErrors("The server refused this config:", err.fieldErrors);
    } else {
      errorsNode.replaceChildren(el("p", {}, `Not launched: ${err.message}`));
      errorsNode.hidden = false;
      errorsNode.scrollIntoView({ block: "center" });
    }
  }
}

presetSelect.addEventListener("change", () => applyPreset(presetSelect.value));
formNode.addEventListener("input", updatePreview);
formNode.addEventListener("change", updatePreview);
formNode.addEventListener("submit", submit);
for (const radio of formNode.elements["launch-mode"]) radio.addEventListener("change", () => setMode(radio.value));
document.getElementById("add-axis").addEventListener("click", () => addAxisRow().field.focus());
for (const input of [sweepSearch, sweepCount, sweepSeed]) input.addEventListener("input", renderSweepSize);
sweepCount.addEventListener("input", () => sweepCount.removeAttribute("aria-invalid"));
setMode(new URLSearchParams(location.search).get("mode") === "sweep" ? "sweep" : "run");
load();
