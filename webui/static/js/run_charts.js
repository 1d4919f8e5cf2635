// The run page's metric charts: a store of series (history, then live points), Plotly charts
// that grow with extendTraces, TensorBoard's smoothing, a step cursor shared by every chart,
// and markers where hyper-parameters changed.

import { dOutput, el, featureSpace, REGISTRY, storedName } from "./api.js";

// Live series longer than this are decimated in the browser (extremes kept), so a page left
// open on a long run stays as light as a fresh one.
const MAX_SERIES_POINTS = 4000;
const DECIMATE_TO = 1500;

const COLORS = ["#3b6fd8", "#d8572a", "#1f8a4c", "#8e44ad", "#b26a00", "#c0352b", "#16a2b8",
  "#6d4c41", "#546e7a", "#e91e63"];

// Debiased exponential moving average, as TensorBoard smooths scalars:
// ema_t = a * ema_{t-1} + (1 - a) * x_t, shown as ema_t / (1 - a^t), so the first points are
// not pulled toward zero.
export class Smoother {
  constructor(weight) {
    this.weight = weight;
    this.last = 0;
    this.count = 0;
  }

  next(x) {
    const a = this.weight;
    if (a <= 0) return x;
    this.last = a * this.last + (1 - a) * x;
    this.count += 1;
    return this.last / (1 - a ** this.count);
  }
}

export function smooth(values, weight) {
  const s = new Smoother(weight);
  return values.map((x) => s.next(x));
}

// At most `maxPoints` points, keeping the first, the last, and each bucket's min and max (in
// step order): the server's decimation, for series that grew live.
export function decimate(steps, values, maxPoints) {
  const n = values.length;
  if (n <= maxPoints) return [steps, values];
  const buckets = Math.max(1, Math.floor((maxPoints - 2) / 2));
  const size = (n - 2) / buckets;
  const keep = [0];
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor(b * size);
    const end = 1 + Math.floor((b + 1) * size);
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let i = start; i < end; i++) {
      if (values[i] < values[lo]) lo = i;
      if (values[i] > values[hi]) hi = i;
    }
    keep.push(Math.min(lo, hi));
    if (hi !== lo) keep.push(Math.max(lo, hi));
  }
  keep.push(n - 1);
  return [keep.map((i) => steps[i]), keep.map((i) => values[i])];
}

// One metric's points in step order.
export class Series {
  constructor(name) {
    this.name = name;
    this.steps = [];
    this.values = [];
  }

  get last() {
    return this.values.length ? this.values[this.values.length - 1] : null;
  }

  // "append", "insert" (a point inside the series: charts must redraw) or "duplicate".
  add(step, value) {
    const n = this.steps.length;
    if (n === 0 || step > this.steps[n - 1]) {
      this.steps.push(step);
      this.values.push(value);
      return "append";
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.steps[mid] < step) lo = mid + 1;
      else hi = mid;
    }
    if (this.steps[lo] === step) return "duplicate";
    this.steps.splice(lo, 0, step);
    this.values.splice(lo, 0, value);
    return "insert";
  }

  truncateAfter(step) {
    let n = this.steps.length;
    while (n > 0 && this.steps[n - 1] > step) n -= 1;
    const cut = n < this.steps.length;
    this.steps.length = n;
    this.values.length = n;
    return cut;
  }
}

// Every series of a run. Listeners hear which series changed and how.
export class MetricStore {
  constructor() {
    this.series = new Map();
    this.lastStep = null;
    this.nonFinite = new Map(); // name -> step of the last null (non-finite) value
    this.listeners = [];
  }

  get(name) {
    return this.series.get(name);
  }

  names() {
    return [...this.series.keys()];
  }

  _series(name) {
    let s = this.series.get(name);
    if (!s) {
      s = new Series(name);
      this.series.set(name, s);
    }
    return s;
  }

  _emit(change) {
    for (const fn of this.listeners) fn(change);
  }

  clear() {
    this.series.clear();
    this.nonFinite.clear();
    this.lastStep = null;
    this._emit({ kind: "reset" });
  }

  // {name: {step: [...], value: [...]}}, as the history message and GET .../metrics give.
  merge(seriesByName) {
    const appended = new Map();
    const redraw = new Set();
    for (const [name, { step, value }] of Object.entries(seriesByName)) {
      const s = this._series(name);
      const before = s.steps.length;
      let inserted = false;
      for (let i = 0; i < step.length; i++) {
        if (value[i] === null || value[i] === undefined) continue;
        const how = s.add(step[i], value[i]);
        if (how === "insert") inserted = true;
        if (this.lastStep === null || step[i] > this.lastStep) this.lastStep = step[i];
      }
      if (inserted || before === 0) redraw.add(name);
      else if (s.steps.length > before) appended.set(name, before);
    }
    this._compact(redraw, appended);
    this._emit({ kind: "points", appended, redraw });
  }

  // One live metrics frame.
  addFrame(step, values) {
    const appended = new Map();
    const redraw = new Set();
    for (const [name, value] of Object.entries(values)) {
      if (value === null || value === undefined) {
        this.nonFinite.set(name, step);
        continue;
      }
      const isNew = !this.series.has(name);
      const s = this._series(name);
      const before = s.steps.length;
      const how = s.add(step, value);
      if (isNew || how === "insert") redraw.add(name);
      else if (how === "append") appended.set(name, before);
    }
    if (this.lastStep === null || step > this.lastStep) this.lastStep = step;
    this._compact(redraw, appended);
    this._emit({ kind: "points", appended, redraw });
  }

  truncateAfter(step) {
    const redraw = new Set();
    for (const s of this.series.values()) if (s.truncateAfter(step)) redraw.add(s.name);
    this.lastStep = this.lastStep === null ? null : Math.min(this.lastStep, step);
    if (redraw.size) this._emit({ kind: "points", appended: new Map(), redraw });
  }

  _compact(redraw, appended) {
    for (const name of appended.keys()) {
      const s = this.series.get(name);
      if (s.steps.length > MAX_SERIES_POINTS) {
        [s.steps, s.values] = decimate(s.steps, s.values, DECIMATE_TO);
        appended.delete(name);
        redraw.add(name);
      }
    }
  }
}

// The run's charts as the registry declares them (gan_core/reports.py): those of every run,
// those of 2D data, of a penalty, and one per evaluation metric the run measures (eval.every
// and eval.metrics), each with the metrics declared in it, in the registry's order. A chart's
// text takes its variant for 2D data or for a D that outputs logits; an evaluation's values
// carry its feature space's suffix (fid -> fid_mnist) and its title says which space.
export function chartSpecs({ isToy, lossName, penalty, evaluation }) {
  const measured = evaluation && evaluation.every ? evaluation.metrics || [] : [];
  const space = featureSpace(evaluation && evaluation.features);
  const shown = { always: () => true, toy: () => isToy, penalty: () => penalty,
    evaluation: (c) => measured.includes(c.evaluation) };
  const variants = { toy: isToy, logit: dOutput(lossName) === "logit" };
  return REGISTRY.charts.filter((c) => shown[c.show] && shown[c.show](c)).map((c) => {
    const spec = { id: c.name, title: c.title, ytitle: c.ytitle, log: c.log, y2title: c.y2title };
    for (const [variant, fields] of Object.entries(c.variants || {})) {
      if (variants[variant]) Object.assign(spec, fields);
    }
    if (c.show === "evaluation") spec.title = `${spec.title} (${space.space})`;
    const members = REGISTRY.metrics.filter((m) => m.chart === c.name);
    const named = (m) => storedName(m, space);
    spec.series = members.map(named);
    spec.raw = members.filter((m) => !m.smooth).map(named);
    const y2 = members.filter((m) => m.axis === "y2").map(named);
    if (y2.length) spec.y2 = y2;
    if (c.prefix) spec.prefix = c.prefix; // one series a D layer, drawn as measured
    spec.labels = Object.fromEntries(members.map((m) => [named(m), m.label]));
    return spec;
  });
}

// The step where the metric whose best is the run's kept checkpoint (FID: keeps_best in the
// registry) was lowest so far, in the run's feature space (the answer to "when should I
// stop?"); null before it is measured.
export function bestKept(store, features) {
  const space = featureSpace(features);
  const kept = REGISTRY.metrics.find((m) => m.keeps_best);
  const name = kept && storedName(kept, space);
  const s = name && store.get(name);
  if (!s || !s.values.length) return null;
  let best = 0;
  s.values.forEach((v, i) => { if (v < s.values[best]) best = i; });
  return { name, label: space.note ? `${kept.label} (${space.note})` : kept.label,
    short: kept.label, step: s.steps[best], value: s.values[best] };
}

class Chart {
  constructor(spec, store) {
    this.spec = spec;
    this.store = store;
    this.div = el("div", { id: `chart-${spec.id}`, class: "chart", role: "img",
      "aria-label": spec.title });
    this.node = el("figure", { class: "panel chart-panel" },
      el("figcaption", {}, spec.title), this.div);
    this.traces = []; // [{name, smoothed}] in Plotly's trace order
    this.pending = new Map(); // series name -> first index not yet in Plotly
    this.dirty = true;
    this.plotted = false;
    this.visible = true; // on screen or near it: off-screen charts catch up when scrolled to
  }

  owns(name) {
    const { series = [], prefix } = this.spec;
    return series.includes(name) || (prefix !== undefined && name.startsWith(prefix));
  }

  isRaw(name) {
    const { raw = [], prefix } = this.spec;
    return raw.includes(name) || (prefix !== undefined && name.startsWith(prefix));
  }

  // The legend's name of a series: its metric's label, or a prefixed series' own part.
  label(name) {
    const { labels = {}, prefix } = this.spec;
    if (labels[name]) return labels[name];
    return prefix !== undefined && name.startsWith(prefix) ? name.slice(prefix.length) : name;
  }

  names() {
    const owned = this.store.names().filter((n) => this.owns(n));
    const order = this.spec.series || [];
    return owned.sort((a, b) => {
      const ia = order.indexOf(a);
      const ib = order.indexOf(b);
      if (ia !== ib) return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib);
      return a.localeCompare(b);
    });
  }

  buildTraces(weight) {
    this.traces = [];
    const data = [];
    this.names().forEach((name, position) => {
      const s = this.store.get(name);
      const color = COLORS[position % COLORS.length];
      const axis = (this.spec.y2 || []).includes(name) ? "y2" : "y";
      if (this.isRaw(name) || weight <= 0) {
        this.traces.push({ name, smoothed: false });
        data.push({ type: "scatter", mode: this.isRaw(name) ? "lines+markers" : "lines",
          name: this.label(name), x: s.steps.slice(), y: s.values.slice(), yaxis: axis,
          line: { color, width: 1.5 }, marker: { size: 4 } });
        return;
      }
      this.traces.push({ name, smoothed: false });
      data.push({ type: "scatter", mode: "lines", name: `${this.label(name)} (raw)`, showlegend: false,
        hoverinfo: "skip", x: s.steps.slice(), y: s.values.slice(), yaxis: axis,
        opacity: 0.25, line: { color, width: 1 } });
      // the smoother keeps its state, so that live points continue the drawn curve exactly
      const smoother = new Smoother(weight);
      this.traces.push({ name, smoothed: true, smoother });
      data.push({ type: "scatter", mode: "lines", name: this.label(name), x: s.steps.slice(),
        y: s.values.map((x) => smoother.next(x)), yaxis: axis, line: { color, width: 1.8 } });
    });
    return data;
  }

  layout(shapes, annotations) {
    const spec = this.spec;
    const layout = {
      margin: { l: 52, r: spec.y2 ? 48 : 12, t: 8, b: 32 },
      height: 230,
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 11 } },
      hovermode: "x",
      uirevision: "keep",
      xaxis: { title: { text: "step", font: { size: 11 } }, zeroline: false },
      yaxis: { type: spec.log ? "log" : "linear", title: { text: spec.ytitle || "", font: { size: 11 } },
        exponentformat: "power", dtick: spec.log ? "D2" : undefined,
        rangemode: spec.y2 ? "tozero" : "normal" },
      shapes,
      annotations,
      font: { size: 11 },
    };
    // Plotly's default hides a tick label that would overflow the chart, and to know, measures
    // every label's box after each draw: a forced layout per label, about a tenth of a redraw.
    // The margins leave the labels room.
    for (const axis of [layout.xaxis, layout.yaxis]) axis.ticklabeloverflow = "allow";
    if (spec.y2) {
      layout.yaxis2 = { overlaying: "y", side: "right", range: [0, 1], ticklabeloverflow: "allow",
        title: { text: spec.y2title || "", font: { size: 11 } } };
    }
    return layout;
  }
}

// The charts of one run page. When they draw is the scheduler's (redraw.js): each change only
// asks for a chart's update, and a round of the scheduler makes one Plotly call per chart that
// is on screen (the points that arrived since, appended; smoothing goes on from where the drawn
// curve ended). A chart is drawn once when built even off screen, so that every chart exists.
export class Charts {
  constructor(container, store, specs, scheduler) {
    this.scheduler = scheduler;
    this.store = store;
    this.weight = 0.6;
    this.markers = []; // [{step, text}]
    this.cursor = null; // {step, pinned}
    this.cursorListeners = [];
    this.charts = specs.map((spec) => new Chart(spec, store));
    this.firstPaint = null; // a promise's resolver: the first chart drawn with data

    const slider = el("input", { type: "range", id: "smoothing", min: "0", max: "0.99", step: "0.01",
      value: String(this.weight), "aria-describedby": "smoothing-help" });
    const readout = el("output", { for: "smoothing" }, String(this.weight));
    slider.addEventListener("input", () => {
      this.setSmoothing(Number(slider.value));
      readout.textContent = slider.value;
    });
    this.cursorText = el("span", { class: "cursor-text muted", "aria-live": "polite" });
    const clear = el("button", { type: "button", class: "link-button", onclick: () => this.setCursor(null) },
      "Clear cursor");
    container.append(
      el("div", { class: "chart-tools" },
        el("label", { for: "smoothing" }, "Smoothing"), slider, readout,
        el("span", { id: "smoothing-help", class: "muted" },
          "debiased moving average (as TensorBoard); raw values faint behind"),
        el("span", { class: "spacer" }), this.cursorText, clear),
      el("div", { class: "chart-grid" }, this.charts.map((c) => c.node)),
    );
    store.listeners.push((change) => this.onChange(change));
    // a chart off screen is drawn once, then left alone until it is scrolled to
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const chart = this.charts.find((c) => c.div === entry.target);
        chart.visible = entry.isIntersecting;
        if (chart.visible) this.requestDraw(chart, { urgent: true });
      }
    });
    for (const c of this.charts) this.observer.observe(c.div);
    this.updateCursorText();
  }

  onChange(change) {
    if (change.kind === "reset") {
      for (const c of this.charts) c.dirty = true;
    } else {
      for (const c of this.charts) {
        for (const name of change.redraw) if (c.owns(name)) c.dirty = true;
        if (c.dirty) continue;
        for (const [name, from] of change.appended) {
          if (!c.owns(name)) continue;
          if (!c.traces.some((t) => t.name === name)) c.dirty = true;
          else if (!c.pending.has(name)) c.pending.set(name, from);
        }
      }
    }
    this.schedule();
  }

  // `urgent`: the user asked for it (a control moved, a chart scrolled to); new points are not.
  schedule({ urgent = false } = {}) {
    for (const c of this.charts) this.requestDraw(c, { urgent });
  }

  requestDraw(c, { urgent = false } = {}) {
    if (this.needsWork(c)) this.scheduler.request(c, () => this.drawChart(c), { urgent });
  }

  drawChart(c) {
    if (!this.needsWork(c)) return; // drawn meanwhile, or scrolled away
    if (this.draw(c) && this.firstPaint) {
      const done = this.firstPaint;
      this.firstPaint = null;
      requestAnimationFrame(() => done()); // the next frame's callbacks run once this one is painted
    }
  }

  needsWork(c) {
    return !c.plotted || (c.visible && (c.dirty || c.pending.size > 0));
  }

  // One chart's update; true when it now shows data.
  draw(c) {
    if (c.dirty || !c.plotted) {
      const data = c.buildTraces(this.weight);
      Plotly.react(c.div, data, c.layout(this.shapes(), this.annotations()), PLOT_CONFIG);
      if (!c.plotted) this.attachHover(c);
      c.plotted = true;
      c.dirty = false;
      c.pending.clear();
      return data.some((t) => t.x.length > 0);
    }
    const xs = [];
    const ys = [];
    const indices = [];
    c.traces.forEach((t, i) => {
      const from = c.pending.get(t.name);
      if (from === undefined) return;
      const s = this.store.get(t.name);
      xs.push(s.steps.slice(from));
      const tail = s.values.slice(from);
      ys.push(t.smoothed ? tail.map((x) => t.smoother.next(x)) : tail);
      indices.push(i);
    });
    c.pending.clear();
    if (indices.length) Plotly.extendTraces(c.div, { x: xs, y: ys }, indices);
    return true;
  }

  setSmoothing(weight) {
    this.weight = weight;
    for (const c of this.charts) c.dirty = true;
    this.schedule({ urgent: true });
  }

  // A vertical dashed line where a hyper-parameter change took effect.
  addMarker(step, changes) {
    const text = Object.entries(changes).map(([k, v]) => `${k}=${v}`).join(" ");
    if (this.markers.some((m) => m.step === step && m.text === text)) return;
    this.markers.push({ step, text });
    this.relayoutAll();
  }

  clearMarkers() {
    this.markers = [];
    this.relayoutAll();
  }

  shapes() {
    const shapes = this.markers.map((m) => ({
      type: "line", xref: "x", yref: "paper", x0: m.step, x1: m.step, y0: 0, y1: 1,
      line: { color: "#b26a00", width: 1, dash: "dash" }, name: "hyperparams",
    }));
    if (this.cursor) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: this.cursor.step, x1: this.cursor.step,
        y0: 0, y1: 1, line: { color: "#1d2330", width: 1 }, name: "cursor" });
    }
    return shapes;
  }

  annotations() {
    return this.markers.map((m) => ({
      x: m.step, xref: "x", y: 1, yref: "paper", text: m.text, showarrow: false,
      xanchor: "left", yanchor: "top", font: { size: 10, color: "#b26a00" },
      bgcolor: "rgba(255,255,255,.8)",
    }));
  }

  relayoutAll() {
    if (this.relayoutFrame) return;
    this.relayoutFrame = requestAnimationFrame(() => {
      this.relayoutFrame = null;
      const update = { shapes: this.shapes(), annotations: this.annotations() };
      for (const c of this.charts) if (c.plotted) Plotly.relayout(c.div, update);
    });
  }

  // The step cursor: a vertical line at `step` on every chart (null: none).
  setCursor(step, { pinned = true } = {}) {
    if (step === null || step === undefined) this.cursor = null;
    else this.cursor = { step, pinned };
    this.updateCursorText();
    this.relayoutAll();
    for (const fn of this.cursorListeners) fn(this.cursor);
  }

  onCursor(fn) {
    this.cursorListeners.push(fn);
  }

  updateCursorText() {
    this.cursorText.textContent = this.cursor
      ? `Cursor at step ${this.cursor.step.toLocaleString()}`
      : "Hover or click a chart to place a step cursor";
  }

  attachHover(chart) {
    chart.div.on("plotly_hover", (ev) => {
      const step = ev.points && ev.points.length ? ev.points[0].x : null;
      if (step === null || (this.cursor && this.cursor.pinned)) return;
      if (!this.cursor || this.cursor.step !== step) this.setCursor(step, { pinned: false });
    });
    chart.div.on("plotly_click", (ev) => {
      const step = ev.points && ev.points.length ? ev.points[0].x : null;
      if (step !== null) this.setCursor(step, { pinned: true });
    });
  }

  // Resolves once a chart has been drawn with data and the browser painted it.
  whenPainted() {
    return new Promise((resolve) => {
      this.firstPaint = resolve;
    });
  }
}

const PLOT_CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
};
