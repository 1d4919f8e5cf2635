// The birthday-paradox support test: draw s samples of a checkpoint's G, judge the flagged
// closest pairs (same image or not), and read the smallest s at which duplicates are likely
// with the support size it implies. The server keeps the draws and verdicts; the math is
// gan_core.metrics.support.

import { fillRunPicker } from "./image_runs.js";
import { api, ApiError, el, hideBanner, showBanner } from "./api.js";

const $ = (id) => document.getElementById(id);
const LADDER = [50, 100, 200, 400, 800];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

const state = { runs: new Map(), runId: null, step: null, draw: null };

async function loadRuns() {
  state.runs = await fillRunPicker({ select: $("run"), empty: $("empty"), form: $("target"),
    purpose: "The support test draws from an image run's checkpoint" });
  return state.runs.size > 0;
}

async function loadRun(step) {
  state.runId = $("run").value;
  const checkpoints = await api(`/api/runs/${state.runId}/checkpoints`);
  const steps = [...new Set(checkpoints.map((c) => c.step))].sort((a, b) => a - b);
  const select = $("step");
  select.replaceChildren(...steps.map((s, i) => el("option", { value: String(s) },
    `step ${s}${i === steps.length - 1 ? " (newest)" : ""}`)));
  if (!steps.length) {
    $("empty").textContent = "This run has no checkpoint yet.";
    $("empty").hidden = false;
    $("draw").disabled = true;
    return;
  }
  $("empty").hidden = true;
  $("draw").disabled = false;
  const chosen = step !== null && steps.includes(step) ? step : steps[steps.length - 1];
  select.value = String(chosen);
  await loadCheckpoint();
}

async function loadCheckpoint() {
  state.step = Number($("step").value);
  state.draw = null;
  $("pairs").replaceChildren();
  $("draw-title").textContent = "Flagged pairs";
  const url = new URL(location.href);
  url.searchParams.set("run", state.runId);
  url.searchParams.set("step", String(state.step));
  history.replaceState(null, "", url);
  await refreshSummary();
}

async function refreshSummary() {
  const query = new URLSearchParams({ step: String(state.step), ema: String($("ema").checked) });
  const out = await api(`/api/runs/${state.runId}/support?${query}`);
  showSummary(out);
}

function showSummary({ by_s: byS, estimate }) {
  $("by-s").tBodies[0].replaceChildren(...byS.map((r) => el("tr", {},
    el("td", {}, String(r.s)), el("td", {}, String(r.draws)), el("td", {}, String(r.settled)),
    el("td", {}, String(r.duplicates)))));
  const text = $("estimate");
  if (!estimate) {
    text.textContent = "No draw judged yet: a draw counts once a pair in it is confirmed or " +
      "every flagged pair is rejected.";
  } else if (estimate.smallest_s !== null) {
    text.textContent = `Duplicates likely at s = ${estimate.smallest_s} → support about ` +
      `${fmt(estimate.support)} images.`;
  } else {
    const largest = Math.max(...Object.keys(estimate.rates).map(Number));
    text.textContent = `No duplicates confirmed up to s = ${largest}: support above about ` +
      `${fmt(estimate.lower_bound)} images.`;
  }
  const tried = new Set(byS.filter((r) => r.settled).map((r) => r.s));
  const next = LADDER.find((s) => !tried.has(s));
  $("ladder-hint").textContent = next ? `Suggested ladder: ${LADDER.join(", ")} (next: ${next})` :
    `Suggested ladder: ${LADDER.join(", ")}`;
}

async function draw(ev) {
  ev.preventDefault();
  const button = $("draw");
  button.disabled = true;
  button.textContent = "Drawing…";
  try {
    state.draw = await api(`/api/runs/${state.runId}/support/draws`, { method: "POST", body: {
      step: state.step, ema: $("ema").checked, s: Number($("s").value),
      seed: Number($("seed").value), top: Number($("top").value), features: $("features").value,
    } });
    hideBanner();
    showDraw();
    await refreshSummary();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showBanner(err.message, "error");
  } finally {
    button.disabled = false;
    button.textContent = "Draw";
  }
}

function showDraw() {
  const d = state.draw;
  $("draw-title").textContent = `Flagged pairs: s = ${d.s}, seed ${d.seed}, closest in ` +
    `${d.space} features${d.ema ? " (EMA)" : ""}`;
  $("pairs").replaceChildren(...d.pairs.map((p) => {
    const same = el("button", { type: "button", class: "same" }, "Same image");
    const diff = el("button", { type: "button", class: "different" }, "Different");
    same.addEventListener("click", () => judge(p.index, p.verdict === true ? null : true));
    diff.addEventListener("click", () => judge(p.index, p.verdict === false ? null : false));
    const item = el("li", { class: "pair", tabindex: "0", "data-index": String(p.index),
      "aria-label": `Pair ${p.index + 1}: samples ${p.i} and ${p.j}` },
      el("div", { class: "images" },
        el("img", { src: p.image_i, alt: `Sample ${p.i}` }),
        el("img", { src: p.image_j, alt: `Sample ${p.j}` })),
      el("div", { class: "meta" }, `#${p.index + 1} · samples ${p.i} & ${p.j} · distance ${p.distance.toFixed(4)}`),
      el("div", { class: "buttons" }, same, " ", diff));
    paint(item, p.verdict);
    return item;
  }));
}

function paint(item, verdict) {
  item.dataset.verdict = verdict === null || verdict === undefined ? "" : String(verdict);
  item.querySelector(".same").setAttribute("aria-pressed", String(verdict === true));
  item.querySelector(".different").setAttribute("aria-pressed", String(verdict === false));
}

async function judge(index, verdict) {
  const d = state.draw;
  try {
    const out = await api(`/api/runs/${state.runId}/support/draws/${d.id}/verdicts`,
      { method: "PUT", body: { verdicts: { [index]: verdict } } });
    d.pairs[index].verdict = verdict;
    paint($("pairs").querySelector(`[data-index="${index}"]`), verdict);
    showSummary(out);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showBanner(err.message, "error");
  }
}

function onKey(ev) {
  const item = ev.target.closest && ev.target.closest(".pair");
  if (!item || ev.target.tagName === "BUTTON" && (ev.key === "Enter" || ev.key === " ")) return;
  const index = Number(item.dataset.index);
  const key = ev.key.toLowerCase();
  if (key === "s" || key === "y") judge(index, true);
  else if (key === "d" || key === "n") judge(index, false);
  else if (key === "j" || key === "arrowright") item.nextElementSibling?.focus();
  else if (key === "k" || key === "arrowleft") item.previousElementSibling?.focus();
  else return;
  ev.preventDefault();
}

async function main() {
  $("target").addEventListener("submit", draw);
  $("run").addEventListener("change", () => loadRun(null).catch((e) => showBanner(e.message, "error")));
  $("step").addEventListener("change", () => loadCheckpoint().catch((e) => showBanner(e.message, "error")));
  $("ema").addEventListener("change", () => refreshSummary().catch((e) => showBanner(e.message, "error")));
  $("pairs").addEventListener("keydown", onKey);
  try {
    if (await loadRuns()) {
      const step = new URLSearchParams(location.search).get("step");
      await loadRun(step === null ? null : Number(step));
    }
  } catch (err) {
    showBanner(err.message, "error");
  }
}

main();
