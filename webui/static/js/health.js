// The health panel: the failure modes GAN users fear, judged in the browser from the numbers
// the run streams. Every threshold is here, with why it is where it is.

import { dOutput, el, fmtNumber, metricFor, prefixFor } from "./api.js";

export const THRESHOLDS = {
  // Reports compared as "recent": the median of the last few, so that one noisy report
  // (a report is already a mean over train.report_every steps) raises nothing.
  recentReports: 5,
  // Mode collapse, 2D: modes captured as a fraction of the most the run has held. modes
  // flicker by one as a mode's samples straddle the 3-sigma line, so a quarter must go first.
  // Early on a run holds one or two modes and drops one now and then: only a loss of at least
  // modesMinDrop modes counts.
  modesWarn: 0.75,
  modesAlarm: 0.5,
  modesMinDrop: 2,
  // Mode collapse, images: mean pairwise distance between the fixed-noise grid's tiles, as a
  // fraction of its peak. Collapsed generators draw near-identical tiles; a grid that lost
  // 40% of its spread is suspicious, 65% is what a collapse onto a few modes looks like.
  diversityWarn: 0.6,
  diversityAlarm: 0.35,
  diversityMinGrids: 3, // the first grids (noise from an untrained G) set no trend
  // Vanishing G gradients: recent ‖∇G‖ against the run's own earlier level (its peak recent
  // median). Architectures differ by orders of magnitude in absolute norms, so only the ratio
  // means something; a 10x fall is a warning, 100x means G has all but stopped learning.
  gradWarn: 0.1,
  gradAlarm: 0.01,
  gradMinReports: 10,
  // D wins outright (minimax/non-saturating): sigmoid of D's mean logits on real and fake.
  // 0.9/0.1 means D is sure of most samples; 0.99/0.01 is where log(1 - D(G(z))) saturates and
  // G's minimax gradient all but vanishes.
  dWinsWarn: 0.9,
  dWinsAlarm: 0.99,
  // Hinge: D's loss is 0 once every sample is past its margin; below these it has nothing left
  // to learn from and G only sees D's raw slope.
  hingeWarn: 0.05,
  hingeAlarm: 0.005,
  // Exploding spectral norm: a D layer's largest singular value against its first measurement.
  // Training moves it a few-fold; 10x is unusual, 100x usually precedes NaN losses.
  sigmaWarn: 10,
  sigmaAlarm: 100,
  // Divergence: a loss this large is far beyond any loss of a healthy run of these losses
  // (Wasserstein critics included); NaN follows soon.
  lossWarn: 1e3,
};

const T = THRESHOLDS;

const EXPLAIN = {
  collapse: "Mode collapse: the generator finds a few outputs that fool the discriminator and "
    + "produces little else, so samples lose their variety (a 2D run covers fewer of the real "
    + "modes; an image grid from fixed noise shows near-identical tiles). It is measured here as "
    + "modes captured (2D) or the mean pixel distance between the grid's tiles (images), against "
    + "the best this run has reached.",
  vanishing: "Vanishing generator gradients: when the discriminator rejects fakes too easily, "
    + "the generator's loss flattens and its gradient shrinks toward zero, so it stops learning "
    + "while training seems to go on. Seen here as ‖∇G‖ falling far below its own earlier level "
    + "(the log axis of the gradient chart shows it as a long slide).",
  dwins: "Discriminator wins outright: D tells real from generated perfectly (D(real) → 1, "
    + "D(fake) → 0). Then G receives little useful signal, especially with the original minimax "
    + "loss. Judged from D's mean outputs on real and generated batches (through a sigmoid for "
    + "the probabilistic losses, whose D outputs logits).",
  sigma: "Exploding spectral norm: the largest singular value of a discriminator layer grows "
    + "many-fold, so D becomes extremely steep and its gradients to G blow up. This is what "
    + "spectral normalization and gradient penalties prevent; it often comes before divergence.",
  divergence: "Divergence: the losses become infinite or NaN and training cannot continue (GANscope "
    + "stops the run as 'diverged' at that step). Very large losses usually come first; a lower "
    + "learning rate, a gradient penalty or spectral normalization are the usual cures.",
};

const STATUS_TEXT = { ok: "ok", warning: "warning", alarm: "alarm", waiting: "no data yet",
  na: "not applicable" };

function recent(series, count = T.recentReports) {
  if (!series || !series.values.length) return null;
  return median(series.values.slice(-count));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));

// ctx: {store (MetricStore), status, config, isToy, diversity: [{step, value}]}
export function assess(ctx) {
  return [
    { id: "collapse", name: "Mode collapse", ...modeCollapse(ctx) },
    { id: "vanishing", name: "Vanishing generator gradients", ...vanishing(ctx) },
    { id: "dwins", name: "Discriminator wins outright", ...dWins(ctx) },
    { id: "sigma", name: "Exploding spectral norm", ...sigma(ctx) },
    { id: "divergence", name: "Divergence", ...divergence(ctx) },
  ].map((c) => ({ ...c, explanation: EXPLAIN[c.id] }));
}

function modeCollapse({ store, isToy, diversity }) {
  if (isToy) {
    const modes = store.get(metricFor("modes"));
    if (!modes || !modes.values.length) return { status: "waiting", finding: "no modes count yet" };
    const peak = Math.max(...modes.values);
    const now = modes.last;
    const ratio = peak > 0 ? now / peak : 1;
    let status = ratio <= T.modesAlarm ? "alarm" : ratio <= T.modesWarn ? "warning" : "ok";
    if (peak - now < T.modesMinDrop) status = "ok";
    return { status, finding: `modes captured: ${fmtNumber(now)} now, ${fmtNumber(peak)} at best` };
  }
  if (diversity.length < 1) return { status: "waiting", finding: "no sample grid measured yet" };
  const peak = Math.max(...diversity.map((d) => d.value));
  const now = diversity[diversity.length - 1];
  const ratio = peak > 0 ? now.value / peak : 1;
  let status = ratio <= T.diversityAlarm ? "alarm" : ratio <= T.diversityWarn ? "warning" : "ok";
  if (diversity.length < T.diversityMinGrids) status = "ok";
  return { status, finding: `grid diversity ${fmtNumber(now.value, 3)} at step `
    + `${now.step.toLocaleString()} (${Math.round(ratio * 100)}% of its peak ${fmtNumber(peak, 3)})` };
}

function vanishing({ store }) {
  const g = store.get(metricFor("g_gradient"));
  if (!g || g.values.length < T.gradMinReports) return { status: "waiting", finding: "too few reports yet" };
  const now = recent(g);
  // the earlier level: the highest median of any window of recent reports before now
  let peak = 0;
  const v = g.values;
  for (let i = T.recentReports; i <= v.length; i++) peak = Math.max(peak, median(v.slice(i - T.recentReports, i)));
  const ratio = peak > 0 ? now / peak : 1;
  const status = ratio <= T.gradAlarm ? "alarm" : ratio <= T.gradWarn ? "warning" : "ok";
  return { status, finding: `‖∇G‖ ${fmtNumber(now, 3)} now, ${fmtNumber(peak, 3)} at its height `
    + `(${fmtNumber(ratio * 100, 2)}%)` };
}

function dWins({ store, config }) {
  const loss = config.loss || {};
  const real = recent(store.get(metricFor("d_on_real")));
  const fake = recent(store.get(metricFor("d_on_fake")));
  const output = dOutput(loss.name);
  if (output === "critic") {
    return { status: "na", finding: "a Wasserstein critic gives scores, not probabilities: "
      + "watch the Wasserstein estimate instead" };
  }
  if (real === null || fake === null) return { status: "waiting", finding: "no D outputs yet" };
  if (output === "margin") {
    const lossD = recent(store.get(metricFor("d_loss")));
    const past = real >= 1 && fake <= -1;
    const status = past && lossD <= T.hingeAlarm ? "alarm" : past && lossD <= T.hingeWarn ? "warning" : "ok";
    return { status, finding: `mean D(real) ${fmtNumber(real, 3)}, D(fake) ${fmtNumber(fake, 3)}, `
      + `D's hinge loss ${fmtNumber(lossD, 3)}` };
  }
  let pReal;
  let pFake;
  if (output === "target") {
    // D regresses real to b and fake to a: where each mean sits between the two targets
    const a = loss.lsgan_a ?? 0;
    const b = loss.lsgan_b ?? 1;
    pReal = (real - a) / (b - a);
    pFake = (fake - a) / (b - a);
  } else {
    pReal = sigmoid(real);
    pFake = sigmoid(fake);
  }
  const wins = (level) => pReal >= level && pFake <= 1 - level;
  const status = wins(T.dWinsAlarm) ? "alarm" : wins(T.dWinsWarn) ? "warning" : "ok";
  const what = output === "target" ? "toward the real target" : "D(x)";
  return { status, finding: `${what}: ${fmtNumber(pReal, 3)} on real, ${fmtNumber(pFake, 3)} on generated` };
}

function sigma({ store }) {
  let worst = null;
  const prefix = prefixFor("spectral");
  for (const name of store.names()) {
    if (!prefix || !name.startsWith(prefix)) continue;
    const s = store.get(name);
    if (s.values.length < 1 || !(s.values[0] > 0)) continue;
    const ratio = s.last / s.values[0];
    if (!worst || ratio > worst.ratio) worst = { name: name.slice(prefix.length), ratio, now: s.last };
  }
  if (!worst) return { status: "waiting", finding: "no spectral norms measured yet" };
  const status = worst.ratio >= T.sigmaAlarm ? "alarm" : worst.ratio >= T.sigmaWarn ? "warning" : "ok";
  return { status, finding: `largest growth: ${worst.name} at ${fmtNumber(worst.now, 3)}, `
    + `${fmtNumber(worst.ratio, 3)}× its first value` };
}

function divergence({ store, status, error }) {
  if (status === "diverged") return { status: "alarm", finding: error || "the run diverged" };
  const losses = [metricFor("d_loss"), metricFor("g_loss")];
  for (const name of losses) {
    if (store.nonFinite.has(name)) {
      return { status: "alarm", finding: `${name} was not finite at step ${store.nonFinite.get(name)}` };
    }
  }
  const [d, g] = losses.map((name) => store.get(name));
  if (!d && !g) return { status: "waiting", finding: "no losses yet" };
  const big = Math.max(Math.abs(d ? d.last : 0), Math.abs(g ? g.last : 0));
  const st = big >= T.lossWarn ? "warning" : "ok";
  return { status: st, finding: `largest loss now ${fmtNumber(big, 3)} in magnitude` };
}

export class HealthPanel {
  constructor(container) {
    this.list = el("ul", { class: "health-list" });
    container.append(el("h2", {}, "Health"), this.list);
    this.items = new Map();
  }

  update(ctx) {
    for (const check of assess(ctx)) {
      let item = this.items.get(check.id);
      if (!item) {
        item = {
          pill: el("span", { class: "pill" }),
          finding: el("p", { class: "finding" }),
        };
        item.node = el("li", { class: "health-item", id: `health-${check.id}` },
          el("div", { class: "health-head" }, el("h3", {}, check.name), item.pill),
          item.finding,
          el("details", {}, el("summary", {}, "What is this?"), el("p", {}, check.explanation)));
        this.items.set(check.id, item);
        this.list.append(item.node);
      }
      item.node.dataset.status = check.status;
      item.pill.textContent = STATUS_TEXT[check.status];
      item.finding.textContent = check.finding;
    }
  }
}
