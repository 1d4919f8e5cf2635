// New run: a form generated from the config schema, filled from a preset, launched with
// POST /api/runs. What is sent is the whole config the form shows (the preset is sent along
// only as a record of the starting point: every field of it is in the config too).

import { api, el, hideBanner } from "./api.js";
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
  return body;
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
function reportErrors(title, errors) {
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
  errorsNode.replaceChildren(el("p", {}, title), el("ul", {}, items));
  errorsNode.hidden = false;
  const target = presetError ? presetSelect : first && first.focusTarget();
  if (target) target.focus();
  else errorsNode.scrollIntoView({ block: "center" });
}

async function submit(ev) {
  ev.preventDefault();
  if (!schemaForm || launch.disabled) return;
  hideErrors();
  const problems = schemaForm.validate();
  if (problems.length) {
    reportErrors(`Fix ${problems.length === 1 ? "this field" : "these fields"} first:`, problems);
    return;
  }
  launch.disabled = true;
  statusNode.textContent = "Launching…";
  try {
    const run = await api("/api/runs", { method: "POST", body: requestBody() });
    statusNode.textContent = "Launched; opening the run…";
    location.assign(`/runs/${run.id}`);
  } catch (err) {
    launch.disabled = false;
    statusNode.textContent = "";
    if (err.status === 422 && err.fieldErrors.length) {
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
load();
