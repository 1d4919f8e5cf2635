// The studies page: every study with its participant link, and the form that creates one
// (the server generates and freezes the image pools before it answers).

import { api, ApiError, el, showBanner } from "/static/js/api.js";
import { imageRuns as loadImageRuns } from "/static/js/image_runs.js";

const $ = (id) => document.getElementById(id);
let imageRuns = [];

async function loadStudies() {
  const { data } = await api("/api/studies");
  const body = $("studies").querySelector("tbody");
  body.replaceChildren(...data.map((s) => el("tr", { dataset: { studyId: s.id } },
    el("td", {}, el("a", { href: `/studies/${s.id}` }, s.name)),
    el("td", {}, s.protocol === "2afc" ? `2AFC, ${s.presentation.replace(/_/g, " ")}, ${s.exposure_ms} ms` : "single image"),
    el("td", {}, s.conditions.map((c) => `${c.label} (step ${c.step}${c.ema ? ", EMA" : ""})`).join(", ")),
    el("td", {}, s.conditions.reduce((n, c) => n + c.sessions, 0)),
    el("td", {}, s.status),
    el("td", {}, el("code", {}, `${location.origin}${s.participant_url}`)))));
  $("no-studies").hidden = data.length > 0;
}

function conditionRow(index) {
  const run = el("select", { name: "run_id", "aria-label": "Run" },
    imageRuns.map((r) => el("option", { value: r.id }, `${r.name} · ${r.data} · step ${r.step}`)));
  return el("div", { class: "condition-row" },
    el("label", {}, "Run ", run),
    el("label", {}, "Checkpoint step (blank: newest) ", el("input", { name: "step", type: "number", min: 0 })),
    el("label", { class: "check" }, el("input", { name: "ema", type: "checkbox", checked: true }), " EMA weights"),
    el("label", {}, "Label ", el("input", { name: "label", value: `condition ${index + 1}`, maxlength: 100 })),
    index > 0 ? el("button", { type: "button", onclick: (ev) => ev.target.closest(".condition-row").remove() }, "Remove") : null);
}

function requestBody(form) {
  const numbers = ["exposure_ms", "gap_ms", "practice_trials", "main_trials", "vigilance_rate",
    "vigilance_pass", "pool_size", "seed"];
  const body = { name: form.elements.name.value, protocol: form.elements.protocol.value,
    presentation: form.elements.presentation.value, instructions: form.elements.instructions.value };
  for (const key of numbers) body[key] = Number(form.elements[key].value);
  const code = form.elements.completion_code.value.trim();
  if (code) body.completion_code = code;
  body.conditions = [...$("conditions").querySelectorAll(".condition-row")].map((row) => {
    const step = row.querySelector("[name=step]").value;
    return { run_id: row.querySelector("[name=run_id]").value,
      step: step === "" ? null : Number(step),
      ema: row.querySelector("[name=ema]").checked,
      label: row.querySelector("[name=label]").value };
  });
  return body;
}

async function create(ev) {
  ev.preventDefault();
  const form = ev.target;
  const error = $("create-error");
  error.hidden = true;
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const submit = $("create-submit");
  submit.disabled = true;
  submit.textContent = "Generating the image pools…";
  try {
    const study = await api("/api/studies", { method: "POST", body: requestBody(form) });
    location.href = `/studies/${study.id}`;
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    if (err instanceof ApiError) {
      for (const { path } of err.fieldErrors) {
        const field = form.elements[path.split(".").pop()];
        if (field && field.setAttribute) field.setAttribute("aria-invalid", "true");
      }
    }
  } finally {
    submit.disabled = false;
    submit.textContent = "Create study (generates the image pools)";
  }
}

async function main() {
  imageRuns = await loadImageRuns();
  if (!imageRuns.length) {
    $("create").replaceChildren(el("h2", {}, "New study"), el("p", { class: "empty" },
      "A study needs a trained image run with a checkpoint: ", el("a", { href: "/runs/new" }, "start one"), "."));
  } else {
    const first = conditionRow(0);
    // "Use in a study" on a run page's checkpoint: that checkpoint is the first condition
    const wanted = new URLSearchParams(location.search);
    if (imageRuns.some((r) => r.id === wanted.get("run"))) {
      first.querySelector("[name=run_id]").value = wanted.get("run");
      if (wanted.get("step") !== null) first.querySelector("[name=step]").value = wanted.get("step");
      $("create").scrollIntoView();
    }
    $("conditions").append(first);
    $("add-condition").addEventListener("click", () => {
      $("conditions").append(conditionRow($("conditions").children.length));
    });
    $("create").addEventListener("submit", create);
  }
  await loadStudies();
}

main().catch((err) => showBanner(err.message, "error"));
