// The 2D playground, in the spirit of GAN Lab: real and generated points, the discriminator's
// output over the plane as a heat map, and where G's loss pushes each generated point. Each
// layer can be switched off.

import { dOutput, el } from "./api.js";

const ARROW_FRACTION = 0.07; // the longest gradient arrow, as a fraction of the plane's width
// A view is a heat map and about 2,000 points: a fast run sends several a second, and drawing
// each would take much of the page's time. The newest is drawn, at most this often.
const MIN_RENDER_INTERVAL_MS = 1000;

const LAYERS = [
  { key: "heatmap", label: "D's output over the plane" },
  { key: "real", label: "Real points" },
  { key: "fake", label: "Generated points" },
  { key: "grad", label: "G's gradient field" },
  { key: "modes", label: "Mode centres" },
];

export class Playground {
  constructor(container, { lossName }) {
    this.probabilistic = dOutput(lossName) === "logit";
    this.visible = Object.fromEntries(LAYERS.map((l) => [l.key, true]));
    this.order = []; // layer key of each Plotly trace
    this.step = null;
    this.div = el("div", { id: "playground-plot", class: "playground-plot", role: "img",
      "aria-label": "Real and generated points over the discriminator's output" });
    this.caption = el("p", { class: "muted", "aria-live": "polite" }, "No 2D view yet: the first "
      + "comes after train.sample_every steps.");
    const toggles = el("fieldset", { class: "layer-toggles" }, el("legend", {}, "Layers"),
      LAYERS.map((layer) => {
        const box = el("input", { type: "checkbox", id: `layer-${layer.key}`, checked: true });
        box.addEventListener("change", () => this.toggle(layer.key, box.checked));
        return el("label", { for: `layer-${layer.key}` }, box, ` ${layer.label}`);
      }));
    container.append(el("h2", {}, "Playground"), this.div, this.caption, toggles);
  }

  toggle(key, on) {
    this.visible[key] = on;
    const indices = this.order.flatMap((k, i) => (k === key ? [i] : []));
    if (indices.length) Plotly.restyle(this.div, { visible: on }, indices);
  }

  // A view: {step, data: {real, fake, grad_field, d_grid, resolution, extent, mode_centers}}
  show(view) {
    if (!view || !view.data || (this.step !== null && view.step < this.step)) return;
    this.step = view.step;
    this.latest = view;
    if (this.timer) return;
    const wait = Math.max(0, (this.lastRender || -Infinity) + MIN_RENDER_INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => requestAnimationFrame(() => {
      this.timer = null;
      this.lastRender = performance.now();
      this.render(this.latest);
    }), wait);
  }

  render(view) {
    const { real, fake, grad_field: grad, d_grid: dGrid, resolution: res, extent } = view.data;
    const [xmin, xmax, ymin, ymax] = extent;
    const axis = (lo, hi) => Array.from({ length: res }, (_, i) => lo + ((hi - lo) * i) / (res - 1));
    // d_grid is row-major with y from ymin to ymax: row r is y = ymin + r * dy
    const z = [];
    for (let r = 0; r < res; r++) {
      const row = dGrid.slice(r * res, (r + 1) * res);
      z.push(this.probabilistic ? row.map((v) => 1 / (1 + Math.exp(-v))) : row);
    }
    const traces = [];
    this.order = [];
    const add = (key, trace) => {
      this.order.push(key);
      traces.push({ ...trace, visible: this.visible[key] });
    };
    add("heatmap", {
      type: "heatmap", x: axis(xmin, xmax), y: axis(ymin, ymax), z, name: "D",
      colorscale: "RdBu", reversescale: false, opacity: 0.75,
      zmin: this.probabilistic ? 0 : undefined, zmax: this.probabilistic ? 1 : undefined,
      zmid: this.probabilistic ? undefined : 0,
      colorbar: { title: { text: this.probabilistic ? "D(x)" : "critic", side: "right" }, thickness: 10 },
      hovertemplate: "x %{x:.2f}, y %{y:.2f}<br>D %{z:.3f}<extra></extra>",
    });
    add("real", {
      type: "scatter", mode: "markers", name: "real", x: real.map((p) => p[0]), y: real.map((p) => p[1]),
      marker: { size: 4, color: "#1d2330", opacity: 0.6 }, hoverinfo: "skip",
    });
    add("fake", {
      type: "scatter", mode: "markers", name: "generated", x: fake.map((p) => p[0]),
      y: fake.map((p) => p[1]), marker: { size: 4, color: "#f08c00" }, hoverinfo: "skip",
    });
    const longest = Math.max(1e-12, ...grad.map(([gx, gy]) => Math.hypot(gx, gy)));
    const scale = (ARROW_FRACTION * (xmax - xmin)) / longest;
    const gx = [];
    const gy = [];
    fake.forEach(([x, y], i) => {
      gx.push(x, x + grad[i][0] * scale, null);
      gy.push(y, y + grad[i][1] * scale, null);
    });
    add("grad", {
      type: "scatter", mode: "lines", name: "G's gradient", x: gx, y: gy,
      line: { color: "#6b3d00", width: 1 }, hoverinfo: "skip",
    });
    if (view.data.mode_centers) {
      const centers = view.data.mode_centers;
      add("modes", {
        type: "scatter", mode: "markers", name: "mode centres", x: centers.map((p) => p[0]),
        y: centers.map((p) => p[1]), marker: { symbol: "x-thin", size: 10, line: { width: 2, color: "#1f8a4c" } },
        hoverinfo: "skip",
      });
    }
    const layout = {
      height: 420, margin: { l: 36, r: 8, t: 8, b: 30 }, showlegend: true, uirevision: "keep",
      legend: { orientation: "h", x: 0, y: -0.08, yanchor: "top", font: { size: 11 } },
      xaxis: { range: [xmin, xmax], zeroline: false, constrain: "domain" },
      yaxis: { range: [ymin, ymax], zeroline: false, scaleanchor: "x", scaleratio: 1 },
      font: { size: 11 },
    };
    Plotly.react(this.div, traces, layout, { displaylogo: false, responsive: true });
    this.caption.textContent = `Step ${view.step.toLocaleString()}: ${fake.length} generated and `
      + `${real.length} real points; arrows: where G's loss pushes each generated point `
      + `(longest scaled to ${Math.round(ARROW_FRACTION * 100)}% of the plane).`;
  }
}
