// A still picture of the losses, drawn from the history as soon as it arrives: plotly.js
// (4.6 MB) takes over a second to compile on a first visit, and until it is ready the page
// would show nothing. The interactive charts replace it.

import { el, METRICS, metricFor } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 56, right: 10, top: 10, bottom: 28 };
// D's and G's losses, as the registry names them
const SERIES = [[metricFor("d_loss"), "#3b6fd8"], [metricFor("g_loss"), "#e4572e"]]
  .map(([name, color]) => [name, (METRICS.get(name) || { label: name }).label, color]);

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function fmt(v) {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(+v.toPrecision(3));
}

// The preview of `history` (the stream's first message), or null when it has no losses.
export function lossPreview(history) {
  const series = SERIES.map(([name, label, color]) => ({ label, color, ...(history.metrics[name] || {}) }))
    .filter((s) => s.step && s.step.length > 1);
  if (!series.length) return null;
  const xs = series.flatMap((s) => s.step);
  const ys = series.flatMap((s) => s.value);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - PAD.left - PAD.right);
  const sy = (y) => HEIGHT - PAD.bottom - ((y - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "preview-chart", role: "img",
    "aria-label": "D and G losses (still picture; the interactive chart is loading)" });
  chart.append(
    svg("line", { x1: PAD.left, y1: HEIGHT - PAD.bottom, x2: WIDTH - PAD.right, y2: HEIGHT - PAD.bottom, stroke: "#ccc" }),
    svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: HEIGHT - PAD.bottom, stroke: "#ccc" }),
    svg("text", { x: PAD.left - 6, y: PAD.top + 10, "text-anchor": "end", "font-size": 11 }, fmt(y1)),
    svg("text", { x: PAD.left - 6, y: HEIGHT - PAD.bottom, "text-anchor": "end", "font-size": 11 }, fmt(y0)),
    svg("text", { x: PAD.left, y: HEIGHT - 8, "font-size": 11 }, `step ${x0.toLocaleString()}`),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end", "font-size": 11 },
      `step ${x1.toLocaleString()}`));
  for (const s of series) {
    const points = s.step.map((x, i) => `${sx(x).toFixed(1)},${sy(s.value[i]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points, fill: "none", stroke: s.color, "stroke-width": 1.4,
      class: "preview-line" }));
  }
  const legend = el("p", { class: "muted" }, series.map((s) => el("span", { class: "preview-key" },
    el("span", { class: "swatch", style: `background:${s.color}` }), ` ${s.label}  `)),
  "· interactive charts loading…");
  return el("section", { class: "panel preview", id: "preview", "aria-label": "Preview" },
    el("h1", {}, history.run.name), el("figure", {}, el("figcaption", {}, "D and G losses"), chart, legend));
}
