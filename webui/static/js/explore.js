// The latent explorer: a checkpoint's generator driven by sliders over z, principal
// directions and saved directions; interpolation between keyframes; nearest training images.
// Images come from /ws/explore/{run}, which renders only the newest request (a dragged
// slider never queues up renders); everything else is REST.

import { fillRunPicker } from "./image_runs.js";
import { api, ApiError, el, hideBanner, showBanner, statusRules } from "./api.js";

const $ = (id) => document.getElementById(id);
const DIMS_SHOWN = 16;   // latent dimensions with a slider before any search
const DIMS_FOUND = 32;   // at most this many sliders for a search
const LATENCY_WINDOW = 20;

const state = {
  runs: new Map(),       // id -> run (image runs only)
  runId: null,
  info: null,            // GET .../explore: z_dim, layers, checkpoints, step, saved
  z: [],                 // the base latent the dimension sliders edit
  seedZ: [],             // the seed's own latent (for "the change from the seed")
  dirs: null,            // {vectors, stddev, explained, space}
  coeffs: [],            // per principal direction, in standard deviations
  savedCoeffs: {},       // per saved direction name
  keyframes: [],         // [{z} | {seed}, label]
  frames: [],            // interpolation frames (data URLs)
  timer: null,           // playback
  ws: null,
  wsRun: null,
  nextId: 0,
  sent: new Map(),       // request id -> performance.now() at send
  seedRequest: null,     // the id whose answer sets z from a seed
  pending: null,         // a request waiting for the socket to open
  trips: [],
  servers: [],
};

// -- the render stream ------------------------------------------------------------------------

function connect() {
  if (state.ws && state.wsRun === state.runId && state.ws.readyState <= WebSocket.OPEN) return;
  if (state.ws) state.ws.close(1000);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/explore/${state.runId}`);
  state.ws = ws;
  state.wsRun = state.runId;
  ws.onopen = () => {
    if (state.pending) {
      ws.send(state.pending);
      state.pending = null;
    }
  };
  ws.onmessage = (ev) => onAnswer(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    if (ws !== state.ws || ev.code === 1000) return;
    setTimeout(() => {
      if (ws === state.ws) {
        state.ws = null;
        connect();
        render();
      }
    }, 1000);
  };
}

function send(message) {
  const id = ++state.nextId;
  const text = JSON.stringify({ id, ...message });
  state.sent.set(id, performance.now());
  connect();
  if (state.ws.readyState === WebSocket.OPEN) state.ws.send(text);
  else state.pending = text;  // only the newest waits
  return id;
}

function target() {
  return { step: state.info ? state.info.step : null, ema: $("ema").checked };
}

function look() {
  const label = state.info && state.info.num_classes ? Number($("label").value) : null;
  return { psi: Number($("psi").value), label };
}

function currentZ() {
  const z = state.z.slice();
  if (state.dirs) {
    state.dirs.vectors.forEach((v, j) => {
      const c = (state.coeffs[j] || 0) * state.dirs.stddev[j];
      if (c) for (let i = 0; i < z.length; i++) z[i] += c * v[i];
    });
  }
  for (const [name, c] of Object.entries(state.savedCoeffs)) {
    const saved = state.info.saved[name];
    if (c && saved) for (let i = 0; i < z.length; i++) z[i] += c * saved.vector[i];
  }
  return z;
}

function render() {
  if (!state.info || !state.z.length) return;
  send({ ...target(), ...look(), z: currentZ(), variations: variations(),
    spread: Number($("spread").value) || 0 });
}

function variations() {
  return Math.max(0, Math.min(64, Math.round(Number($("variations").value) || 0)));
}

function renderSeed(seed) {
  state.seedRequest = send({ ...target(), ...look(), seed, variations: variations(),
    spread: Number($("spread").value) || 0 });
}

function onAnswer(answer) {
  const sentAt = state.sent.get(answer.id);
  for (const id of state.sent.keys()) if (id <= answer.id) state.sent.delete(id);
  if (answer.type === "error") {
    showBanner(answer.message, "error");
    return;
  }
  hideBanner();
  const image = $("image");
  if (state.timer === null) image.src = answer.image;
  image.dataset.requestId = String(answer.id);
  const grid = $("grid");
  grid.hidden = !answer.grid;
  if (answer.grid) grid.src = answer.grid;
  if (answer.id === state.seedRequest) {
    state.z = answer.z.slice();
    state.seedZ = answer.z.slice();
    state.seedRequest = null;
    buildDimSliders();
  }
  if (sentAt !== undefined) {
    state.trips.push(performance.now() - sentAt);
    state.servers.push(answer.server_ms);
    state.trips = state.trips.slice(-LATENCY_WINDOW);
    state.servers = state.servers.slice(-LATENCY_WINDOW);
    $("latency").textContent = `round trip ${(performance.now() - sentAt).toFixed(1)} ms ` +
      `(median ${median(state.trips).toFixed(1)}) · server ${answer.server_ms.toFixed(1)} ms, ` +
      `render ${answer.render_ms.toFixed(1)} ms` +
      (answer.superseded ? ` · ${answer.superseded} superseded` : "");
  }
}

function median(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] || 0;
}

// -- sliders ----------------------------------------------------------------------------------

function slider({ label, value, min = -3, max = 3, step = 0.01, onInput, title }) {
  const id = `s-${Math.random().toString(36).slice(2)}`;
  const output = el("output", { for: id }, Number(value).toFixed(2));
  const input = el("input", { type: "range", id, min, max, step, value: String(value) });
  input.addEventListener("input", () => {
    output.textContent = Number(input.value).toFixed(2);
    onInput(Number(input.value));
  });
  return el("div", { class: "slider", title }, el("label", { for: id }, label), input, output);
}

function buildDimSliders() {
  const box = $("dims");
  box.replaceChildren();
  const query = $("dim-search").value.trim();
  const dims = [];
  for (let i = 0; i < state.z.length && dims.length < (query ? DIMS_FOUND : DIMS_SHOWN); i++) {
    if (!query || String(i).includes(query)) dims.push(i);
  }
  for (const i of dims) {
    box.append(slider({
      label: `z[${i}]`, value: state.z[i], onInput: (v) => {
        state.z[i] = v;
        render();
      },
    }));
  }
  if (!query && state.z.length > DIMS_SHOWN) {
    box.append(el("p", { class: "muted" },
      `${state.z.length - DIMS_SHOWN} more dimensions: find one by its index.`));
  }
  if (query && !dims.length) box.append(el("p", { class: "muted" }, "No dimension matches."));
}

function buildDirectionSliders() {
  const box = $("directions");
  box.replaceChildren();
  const which = $("save-which");
  which.replaceChildren(el("option", { value: "change" }, "the change from the seed's z"));
  if (!state.dirs) return;
  state.dirs.vectors.forEach((_, j) => {
    const share = (100 * state.dirs.explained[j]).toFixed(1);
    box.append(slider({
      label: `PC${j + 1}`, value: state.coeffs[j] || 0, step: 0.05,
      title: `${share}% of the variance in ${state.dirs.space}; unit: one standard deviation`,
      onInput: (v) => {
        state.coeffs[j] = v;
        render();
      },
    }));
    which.append(el("option", { value: String(j) }, `PC${j + 1} (${share}%)`));
  });
}

function buildSavedSliders() {
  const box = $("saved");
  box.replaceChildren();
  const names = Object.keys(state.info.saved || {});
  if (!names.length) {
    box.append(el("p", { class: "muted" }, "No directions saved with this checkpoint yet."));
    return;
  }
  for (const name of names) {
    const row = slider({
      label: name, value: state.savedCoeffs[name] || 0, step: 0.05,
      title: state.info.saved[name].description || name,
      onInput: (v) => {
        state.savedCoeffs[name] = v;
        render();
      },
    });
    row.append(el("button", { type: "button", class: "danger", "aria-label": `Delete ${name}`,
      onclick: () => deleteSaved(name) }, "Delete"));
    box.append(row);
  }
}

// -- loading a run and a checkpoint -----------------------------------------------------------

async function loadRuns() {
  state.runs = await fillRunPicker({ select: $("run"), empty: $("empty"), form: $("target"),
    purpose: "The explorer opens any checkpoint of an image run" });
  return state.runs.size > 0;
}

async function loadCheckpoint(step) {
  state.runId = $("run").value;
  const run = state.runs.get(state.runId);
  $("snapshot").hidden = !(run && statusRules(run.status).live); // a trainer holds it
  const query = new URLSearchParams({ ema: String($("ema").checked) });
  if (step !== null && step !== undefined) query.set("step", String(step));
  let info;
  try {
    info = await api(`/api/runs/${state.runId}/explore?${query}`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    state.info = null;
    $("explorer").hidden = true;
    $("empty").textContent = err.message;
    $("empty").hidden = false;
    return;
  }
  $("empty").hidden = true;
  $("explorer").hidden = false;
  const sameModel = state.info && state.info.z_dim === info.z_dim;
  state.info = info;
  const url = new URL(location.href);
  url.searchParams.set("run", state.runId);
  url.searchParams.set("step", String(info.step));
  history.replaceState(null, "", url);

  const steps = $("step");
  steps.replaceChildren(...info.checkpoints.map((s) => el("option", { value: String(s) },
    `step ${s}${s === info.checkpoints[info.checkpoints.length - 1] ? " (newest)" : ""}`)));
  steps.value = String(info.step);
  $("model-info").textContent = `z: ${info.z_dim} (${info.z_distribution}) · images ` +
    `${info.image_shape.join("×")} · ${info.ema ? "EMA of G" : "G"} · ${info.device}`;
  const classes = $("label");
  $("class-label").hidden = !info.num_classes;
  if (info.num_classes) {
    classes.replaceChildren(...Array.from({ length: info.num_classes },
      (_, c) => el("option", { value: String(c) }, String(c))));
  }
  $("layer").replaceChildren(...info.layers.map((l) => el("option", { value: l }, l)),
    el("option", { value: "" }, "z itself"));
  state.savedCoeffs = {};
  buildSavedSliders();
  if (!sameModel) {
    state.dirs = null;
    state.coeffs = [];
    state.keyframes = [];
    buildKeyframes();
    buildDirectionSliders();
    renderSeed(Number($("seed").value) || 0);
  } else {
    buildDirectionSliders();
    render();
  }
}

async function snapshot() {
  const button = $("snapshot");
  button.disabled = true;
  try {
    const before = state.info ? state.info.checkpoints.length : 0;
    await api(`/api/runs/${state.runId}/control`, { method: "POST", body: { action: "checkpoint" } });
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const list = await api(`/api/runs/${state.runId}/checkpoints`);
      if (list.length > before) break;
    }
    await loadCheckpoint(null);
  } catch (err) {
    showBanner(err.message, "error");
  } finally {
    button.disabled = false;
  }
}

// -- directions -------------------------------------------------------------------------------

async function computeDirections() {
  const button = $("compute");
  button.disabled = true;
  button.textContent = "Computing…";
  try {
    state.dirs = await api(`/api/runs/${state.runId}/explore/directions`, {
      method: "POST",
      body: { ...target(), layer: $("layer").value || null,
        k: Math.max(1, Math.min(64, Number($("k").value) || 8)) },
    });
    state.coeffs = state.dirs.vectors.map(() => 0);
    buildDirectionSliders();
  } catch (err) {
    showBanner(err.message, "error");
  } finally {
    button.disabled = false;
    button.textContent = "Find principal directions";
  }
}

async function saveDirection() {
  const name = $("save-name").value.trim();
  if (!name) {
    $("save-name").setAttribute("aria-invalid", "true");
    showBanner("Give the direction a name first.", "error");
    $("save-name").focus();
    return;
  }
  $("save-name").removeAttribute("aria-invalid");
  const which = $("save-which").value;
  let vector;
  let space;
  if (which === "change") {
    vector = currentZ().map((v, i) => v - state.seedZ[i]);
    space = "z (a change made by hand)";
  } else {
    const j = Number(which);
    vector = state.dirs.vectors[j].map((v) => v * state.dirs.stddev[j]);
    space = `PC${j + 1} of ${state.dirs.space}`;
  }
  try {
    const out = await api(`/api/runs/${state.runId}/explore/saved/${encodeURIComponent(name)}` +
      `?step=${state.info.step}`, { method: "PUT", body: { vector, space, description: "" } });
    state.info.saved = out.directions;
    buildSavedSliders();
    $("save-name").value = "";
    hideBanner();
  } catch (err) {
    showBanner(err.message, "error");
  }
}

async function deleteSaved(name) {
  try {
    await api(`/api/runs/${state.runId}/explore/saved/${encodeURIComponent(name)}` +
      `?step=${state.info.step}`, { method: "DELETE" });
    delete state.info.saved[name];
    delete state.savedCoeffs[name];
    buildSavedSliders();
    render();
  } catch (err) {
    showBanner(err.message, "error");
  }
}

// -- interpolation ----------------------------------------------------------------------------

function buildKeyframes() {
  const list = $("keyframes");
  list.replaceChildren(...state.keyframes.map((k, i) => el("li", {}, k.label, " ",
    el("button", { type: "button", "aria-label": `Remove keyframe ${i + 1}`, onclick: () => {
      state.keyframes.splice(i, 1);
      buildKeyframes();
    } }, "Remove"))));
  $("interpolate").disabled = state.keyframes.length < 2;
}

function pathBody(format) {
  return { ...target(), ...look(), format, fps: Number($("fps").value),
    keyframes: state.keyframes.map((k) => k.latent),
    steps: Math.max(2, Math.min(64, Number($("steps").value) || 8)), method: $("method").value };
}

async function interpolate() {
  stopPlayback();
  try {
    const out = await api(`/api/runs/${state.runId}/explore/interpolate`,
      { method: "POST", body: pathBody("json") });
    state.frames = out.frames;
    $("strip").replaceChildren(...out.frames.map((src, i) => el("img", { src,
      alt: `Frame ${i + 1} of ${out.frames.length}`, dataset: { frame: String(i) } })));
    for (const id of ["play", "export-png", "export-gif"]) $(id).disabled = false;
  } catch (err) {
    showBanner(err.message, "error");
  }
}

function stopPlayback() {
  if (state.timer !== null) clearInterval(state.timer);
  state.timer = null;
  $("play").textContent = "Play";
  $("image").removeAttribute("data-frame");
}

function togglePlayback() {
  if (state.timer !== null) {
    stopPlayback();
    render();
    return;
  }
  let frame = 0;
  const image = $("image");
  const tick = () => {
    image.src = state.frames[frame];
    image.dataset.frame = String(frame);
    for (const thumb of $("strip").children) thumb.classList.toggle("current", thumb.dataset.frame === String(frame));
    frame = (frame + 1) % state.frames.length;
  };
  tick();
  state.timer = setInterval(tick, 1000 / Number($("fps").value));
  $("play").textContent = "Pause";
}

async function exportPath(format) {
  try {
    const response = await fetch(`/api/runs/${state.runId}/explore/interpolate`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(pathBody(format)),
    });
    if (!response.ok) throw new ApiError(response.status, (await response.json()).detail);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `interpolation-${state.runId}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    showBanner(err.message, "error");
  }
}

// -- nearest neighbours -----------------------------------------------------------------------

async function findNeighbours() {
  const box = $("neighbour-list");
  box.replaceChildren(el("p", { class: "muted" }, "Searching the training set…"));
  try {
    const out = await api(`/api/runs/${state.runId}/explore/neighbours`, {
      method: "POST", body: { ...target(), ...look(), z: currentZ(), k: 8, space: $("space").value },
    });
    box.replaceChildren(
      el("figure", { class: "query" }, el("img", { src: out.image, alt: "The generated image" }),
        el("figcaption", {}, "generated")),
      ...out.neighbours.map((n, i) => el("figure", {},
        el("img", { src: n.image, alt: `Training image ${i + 1}, distance ${n.distance.toFixed(3)}` }),
        el("figcaption", {}, `d = ${n.distance.toFixed(2)}${n.label === null ? "" : ` · class ${n.label}`}`))),
      el("p", { class: "muted" }, `Searched ${out.bank_size} training images in ${out.space === "pixel" ? "pixel" : "critic feature"} space.`));
  } catch (err) {
    box.replaceChildren();
    showBanner(err.message, "error");
  }
}

// -- wiring -----------------------------------------------------------------------------------

function wire() {
  $("run").addEventListener("change", () => {
    state.info = null;
    loadCheckpoint(null);
  });
  $("step").addEventListener("change", () => loadCheckpoint(Number($("step").value)));
  $("ema").addEventListener("change", () => loadCheckpoint(state.info ? state.info.step : null));
  $("snapshot").addEventListener("click", snapshot);
  $("seed").addEventListener("change", () => renderSeed(Number($("seed").value) || 0));
  $("random").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 1e9));
    renderSeed(Number($("seed").value));
  });
  $("psi").addEventListener("input", () => {
    $("psi-out").textContent = Number($("psi").value).toFixed(2);
    render();
  });
  for (const id of ["label", "variations", "spread"]) $(id).addEventListener("change", render);
  $("dim-search").addEventListener("input", buildDimSliders);
  $("compute").addEventListener("click", computeDirections);
  $("reset-dirs").addEventListener("click", () => {
    state.coeffs = state.coeffs.map(() => 0);
    state.savedCoeffs = {};
    buildDirectionSliders();
    buildSavedSliders();
    render();
  });
  $("save").addEventListener("click", saveDirection);
  $("add-key").addEventListener("click", () => {
    state.keyframes.push({ latent: { z: currentZ() }, label: `current (seed ${$("seed").value}, edited)` });
    buildKeyframes();
  });
  $("add-seed").addEventListener("click", () => {
    const seed = Math.max(0, Math.round(Number($("key-seed").value) || 0));
    state.keyframes.push({ latent: { seed }, label: `seed ${seed}` });
    $("key-seed").value = String(seed + 1);
    buildKeyframes();
  });
  $("clear-keys").addEventListener("click", () => {
    state.keyframes = [];
    buildKeyframes();
  });
  $("interpolate").addEventListener("click", interpolate);
  $("play").addEventListener("click", togglePlayback);
  $("fps").addEventListener("input", () => {
    $("fps-out").textContent = `${$("fps").value} fps`;
    if (state.timer !== null) {
      stopPlayback();
      togglePlayback();
    }
  });
  $("export-png").addEventListener("click", () => exportPath("png"));
  $("export-gif").addEventListener("click", () => exportPath("gif"));
  $("neighbours").addEventListener("click", findNeighbours);
  $("target").addEventListener("submit", (ev) => ev.preventDefault());
}

async function main() {
  wire();
  buildKeyframes();
  try {
    if (await loadRuns()) {
      const step = new URLSearchParams(location.search).get("step");
      await loadCheckpoint(step === null ? null : Number(step));
    }
  } catch (err) {
    showBanner(err.message, "error");
  }
}

main();
