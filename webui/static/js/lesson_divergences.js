// The divergence lesson: P at 0 and Q at theta; KL, JS and W1 against theta (computed by the
// server), and the gradient a generator gets through a D trained with each loss. The page
// draws; gan_core does the math.

import { api, el, fmtNumber, showBanner, whenLoaded } from "./api.js";

const $ = (id) => document.getElementById(id);
const thetaInput = $("theta");
const thetaOut = $("theta-value");
const sigmaSelect = $("sigma");
const LOSS_TEXT = {
  minimax: ["Minimax", "log(1 − D(G(z))): vanishes once D separates P and Q"],
  nonsaturating: ["Non-saturating", "−log D(G(z)): pushes, by an amount set by D's sharpness"],
  "wgan-gp": ["WGAN-GP critic", "slope held near 1: the gradient of W1 = |θ|"],
};
const COLORS = { kl: "#8e44ad", js: "#c0392b", w1: "#1f8a4c",
  minimax: "#c0392b", nonsaturating: "#d68910", "wgan-gp": "#1f8a4c" };
const PLOT_CONFIG = { displaylogo: false, responsive: true };

let curves = null; // the server's divergence curves for the current sigma
let gradients = null; // the last gradient answer
let gradRequest = 0; // only the newest answer is drawn
let gradTimer = null;

const theta = () => Number(thetaInput.value);
const sigma = () => Number(sigmaSelect.value);

function plotly() {
  return window.Plotly;
}

// -- 1. the distributions ------------------------------------------------------------------

function drawDistributions() {
  const t = theta();
  const s = sigma();
  const low = Math.min(0, t) - 1;
  const high = Math.max(0, t) + 1;
  let traces;
  if (s === 0) {
    const spike = (x, name, color) => ({ x: [x, x], y: [0, 1], mode: "lines+markers", name,
      line: { color, width: 4 }, marker: { size: [0, 10], color } });
    traces = [spike(0, "P (real)", "#3b6fd8"), spike(t, "Q (generated)", "#c0392b")];
  } else {
    const xs = Array.from({ length: 401 }, (_, i) => low + ((high - low) * i) / 400);
    const density = (m) => xs.map((x) => Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI)));
    traces = [
      { x: xs, y: density(0), name: "P (real)", fill: "tozeroy", line: { color: "#3b6fd8" } },
      { x: xs, y: density(t), name: "Q (generated)", fill: "tozeroy", line: { color: "#c0392b" } },
    ];
  }
  plotly().react($("chart-dists"), traces, {
    margin: { t: 10, r: 10, b: 40, l: 50 }, xaxis: { title: "x", range: [low, high] },
    yaxis: { title: s === 0 ? "mass" : "density", rangemode: "tozero" }, legend: { orientation: "h" },
  }, PLOT_CONFIG);
}

// -- 2. the divergences --------------------------------------------------------------------

async function loadCurves() {
  curves = await api(`/api/lessons/divergences?sigma=${sigma()}&max_theta=2&points=401`);
  drawDivergences();
}

function valueAt(name) {
  // the curve's value at the nearest computed theta (the grid is fine: 0.01 apart)
  const ts = curves.theta;
  let best = 0;
  for (let i = 1; i < ts.length; i++) if (Math.abs(ts[i] - theta()) < Math.abs(ts[best] - theta())) best = i;
  return curves[name][best];
}

function drawDivergences() {
  if (!curves) return;
  const t = theta();
  const klShown = curves.kl.map((v) => (v === null ? null : Math.min(v, 10)));
  const traces = [
    { x: curves.theta, y: curves.js, name: "JS", line: { color: COLORS.js, width: 3 } },
    { x: curves.theta, y: curves.w1, name: "W1", line: { color: COLORS.w1, width: 3 } },
    { x: curves.theta, y: klShown, name: "KL(P‖Q)", line: { color: COLORS.kl, dash: "dot" },
      connectgaps: false },
  ];
  plotly().react($("chart-divs"), traces, {
    margin: { t: 10, r: 10, b: 40, l: 50 }, xaxis: { title: "θ" },
    yaxis: { title: "divergence", range: [0, 2.2] }, legend: { orientation: "h" },
    shapes: [{ type: "line", name: "theta", x0: t, x1: t, yref: "paper", y0: 0, y1: 1,
      line: { color: "#333", dash: "dash", width: 1 } },
    { type: "line", xref: "paper", x0: 0, x1: 1, y0: Math.LN2, y1: Math.LN2,
      line: { color: COLORS.js, dash: "dot", width: 1 } }],
    annotations: [{ xref: "paper", x: 1, y: Math.LN2, xanchor: "right", yanchor: "bottom",
      text: "log 2", showarrow: false, font: { color: COLORS.js, size: 11 } }],
  }, PLOT_CONFIG);
  const kl = valueAt("kl");
  $("div-readout").textContent = `θ = ${t.toFixed(2)}: JS = ${fmtNumber(valueAt("js"))}`
    + ` (log 2 = 0.6931), W1 = ${fmtNumber(valueAt("w1"))}, KL = ${kl === null ? "∞" : fmtNumber(kl)}`;
}

// -- 3. the generator's gradient ------------------------------------------------------------

function scheduleGradients() {
  clearTimeout(gradTimer);
  gradTimer = setTimeout(loadGradients, 200); // a drag asks once it settles
}

async function loadGradients() {
  const id = ++gradRequest;
  const s = sigma() || 0.01; // point masses: D still needs a little width to be trained on
  const status = $("grad-status");
  status.textContent = `Training the discriminators at θ = ${theta().toFixed(2)}…`;
  const started = performance.now();
  try {
    const answer = await api(`/api/lessons/divergences/gradients?theta=${theta()}&sigma=${s}`);
    if (id !== gradRequest) return; // a newer θ is on its way
    gradients = answer;
    drawGradients();
    const ms = Math.round(performance.now() - started);
    status.textContent = `Discriminators trained at θ = ${answer.theta.toFixed(2)} `
      + `(${answer.losses[0].d_steps} steps each, ${ms} ms).`;
  } catch (err) {
    if (id === gradRequest) status.textContent = `Could not train the discriminators: ${err.message}`;
  }
}

function drawGradients() {
  const g = gradients;
  // the minimax and non-saturating GANs train D alike (one D): drawn once, as "GAN's D"
  const dTraces = g.losses.filter((l) => l.loss !== "nonsaturating").map((l) => ({
    x: l.x, y: l.d_output, name: l.loss === "wgan-gp" ? "WGAN-GP critic (right axis)" : "GAN's D",
    line: { color: COLORS[l.loss], width: 2 }, yaxis: l.loss === "wgan-gp" ? "y2" : "y",
  }));
  const marks = [0, g.theta].map((x, i) => ({ type: "line", x0: x, x1: x, yref: "paper", y0: 0,
    y1: 1, line: { color: i ? "#c0392b" : "#3b6fd8", dash: "dot", width: 1 } }));
  plotly().react($("chart-d"), dTraces, {
    title: { text: "D over the line", font: { size: 13 } }, margin: { t: 30, r: 50, b: 40, l: 50 },
    xaxis: { title: "x" }, yaxis: { title: "D(x) = P(real)", range: [-0.05, 1.05] },
    yaxis2: { title: "critic", overlaying: "y", side: "right", showgrid: false, zeroline: false },
    shapes: marks,
    legend: { orientation: "h" },
  }, PLOT_CONFIG);
  plotly().react($("chart-g"), [{
    type: "bar", x: g.losses.map((l) => LOSS_TEXT[l.loss][0]), y: g.losses.map((l) => Math.abs(l.grad_theta)),
    marker: { color: g.losses.map((l) => COLORS[l.loss]) },
    text: g.losses.map((l) => fmtNumber(l.grad_theta, 3)), textposition: "outside",
  }], {
    title: { text: "|dL_G / dθ|: the signal G gets", font: { size: 13 } },
    margin: { t: 30, r: 10, b: 40, l: 50 }, yaxis: { type: "log", title: "|gradient|" },
  }, PLOT_CONFIG);
  $("grad-table").querySelector("tbody").replaceChildren(...g.losses.map((l) => el("tr",
    { dataset: { loss: l.loss } },
    el("th", { scope: "row" }, LOSS_TEXT[l.loss][0]),
    el("td", { class: "num" }, fmtNumber(l.grad_theta, 3)),
    el("td", {}, LOSS_TEXT[l.loss][1]))));
}

// -- wiring ----------------------------------------------------------------------------------

function onTheta() {
  thetaOut.textContent = theta().toFixed(2);
  drawDistributions();
  drawDivergences();
  scheduleGradients();
}

thetaInput.addEventListener("input", onTheta);
sigmaSelect.addEventListener("change", async () => {
  drawDistributions();
  await loadCurves().catch((err) => showBanner(err.message, "error"));
  scheduleGradients();
});
whenLoaded(async () => {
  thetaOut.textContent = theta().toFixed(2);
  drawDistributions();
  try {
    await loadCurves();
  } catch (err) {
    showBanner(`The lesson's curves could not be loaded: ${err.message}`, "error");
  }
  loadGradients();
});
