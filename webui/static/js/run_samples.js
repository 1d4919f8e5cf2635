// Sample grids from the run's fixed noise: the latest one live, a timeline scrubber over every
// recorded grid, the progression as a GIF, and the grid's diversity for the health panel.

import { el } from "./api.js";

const TORCHVISION_PADDING = 2; // make_grid's default padding around every tile
const TILE_SAMPLES = 16; // pixels per side read from each tile for the diversity measure
const HISTORY_DIVERSITY = 12; // grids of the history measured for the diversity trend

export class SampleViewer {
  constructor(container, runId, { gridSize, onSelect, onDiversity } = {}) {
    this.runId = runId;
    this.gridSize = gridSize || 64;
    this.onSelect = onSelect || (() => {});
    this.onDiversity = onDiversity || (() => {});
    this.grids = []; // [{step, url, nrow, count}] in step order
    this.index = -1;
    this.diversity = new Map(); // step -> mean pairwise tile distance in [0, 1]
    this.measuring = Promise.resolve();

    this.img = el("img", { class: "grid-image", alt: "No sample grid yet", hidden: true });
    this.empty = el("p", { class: "empty" }, "No sample grid yet: the first comes after "
      + "train.sample_every steps.");
    this.caption = el("figcaption", { class: "muted", "aria-live": "polite" });
    this.range = el("input", { type: "range", id: "grid-scrubber", min: "0", max: "0", step: "1",
      value: "0", disabled: true, "aria-label": "Sample grid timeline (arrow keys, Home, End)" });
    this.range.addEventListener("input", () => this.select(Number(this.range.value), { follow: false }));
    this.prev = el("button", { type: "button", "aria-label": "Previous grid", disabled: true,
      onclick: () => this.select(this.index - 1, { follow: false }) }, "◀");
    this.next = el("button", { type: "button", "aria-label": "Next grid", disabled: true,
      onclick: () => this.select(this.index + 1, { follow: false }) }, "▶");
    this.fps = el("select", { id: "gif-fps", "aria-label": "GIF frames per second" },
      [2, 4, 8, 15].map((f) => el("option", { value: String(f), selected: f === 4 }, `${f} fps`)));
    this.gif = el("a", { class: "btn", id: "gif-link", download: `run-${runId}-samples.gif` },
      "Download GIF");
    this.fps.addEventListener("change", () => this.updateGifLink());
    this.gifBox = el("div", { class: "gif-export", hidden: true }, this.gif, this.fps);
    container.append(
      el("h2", {}, "Samples from fixed noise"),
      el("figure", { class: "grid-figure" }, this.empty, this.img, this.caption),
      el("div", { class: "scrubber" }, this.prev, this.range, this.next),
      this.gifBox,
    );
    this.updateGifLink();
  }

  updateGifLink() {
    this.gif.href = `/api/runs/${this.runId}/samples.gif?fps=${this.fps.value}`;
  }

  get latestStep() {
    return this.grids.length ? this.grids[this.grids.length - 1].step : null;
  }

  clear() {
    this.grids = [];
    this.diversity.clear();
    this.index = -1;
    this.render();
  }

  // Grids from the history or GET .../samples (any order, possibly known already); the view
  // follows the newest when it showed the newest. Returns how many were new.
  merge(list) {
    const known = new Set(this.grids.map((g) => g.step));
    const fresh = list.filter((g) => !known.has(g.step));
    if (!fresh.length) return 0;
    const atEnd = this.index === this.grids.length - 1;
    const current = this.grids[this.index];
    this.grids = [...this.grids, ...fresh].sort((a, b) => a.step - b.step);
    this.index = atEnd || !current ? this.grids.length - 1 : this.grids.indexOf(current);
    this.render();
    return fresh.length;
  }

  truncateAfter(step) {
    const kept = this.grids.filter((g) => g.step <= step);
    if (kept.length === this.grids.length) return;
    this.grids = kept;
    for (const s of [...this.diversity.keys()]) if (s > step) this.diversity.delete(s);
    this.index = Math.min(this.index, this.grids.length - 1);
    this.render();
  }

  select(index, { follow = false } = {}) {
    if (!this.grids.length) return;
    this.index = Math.max(0, Math.min(this.grids.length - 1, index));
    this.render();
    if (!follow) this.onSelect(this.grids[this.index].step);
  }

  // The scrubber's position for a step (the chart cursor): the last grid at or before it.
  showStep(step) {
    let best = -1;
    this.grids.forEach((g, i) => {
      if (g.step <= step) best = i;
    });
    if (best >= 0 && best !== this.index) {
      this.index = best;
      this.render();
    }
  }

  render() {
    const n = this.grids.length;
    const has = n > 0;
    this.empty.hidden = has;
    this.img.hidden = !has;
    this.gifBox.hidden = !has;
    this.range.disabled = n < 2;
    this.range.max = String(Math.max(0, n - 1));
    this.prev.disabled = !has || this.index <= 0;
    this.next.disabled = !has || this.index >= n - 1;
    if (!has) {
      this.caption.textContent = "";
      return;
    }
    this.range.value = String(this.index);
    const grid = this.grids[this.index];
    this.range.setAttribute("aria-valuetext", `step ${grid.step}`);
    if (this.img.getAttribute("src") !== grid.url) {
      this.img.src = grid.url;
      this.img.alt = `Samples from the fixed noise at step ${grid.step}`;
    }
    const latest = this.index === n - 1 ? " (latest)" : "";
    this.caption.textContent = `Step ${grid.step.toLocaleString()}${latest} · grid ${this.index + 1} of ${n}`;
  }

  // Measure the diversity of a history's grids: some evenly spaced, and the latest.
  measureHistory() {
    const n = this.grids.length;
    if (!n) return;
    const picks = new Set([n - 1]);
    const count = Math.min(n, HISTORY_DIVERSITY);
    for (let i = 0; i < count; i++) picks.add(Math.round((i * (n - 1)) / Math.max(1, count - 1)));
    this.measure([...picks].sort((a, b) => a - b).map((i) => this.grids[i]));
  }

  measure(grids) {
    for (const grid of grids) {
      if (this.diversity.has(grid.step)) continue;
      this.measuring = this.measuring.then(async () => {
        try {
          const value = await gridDiversity(grid.url, grid.nrow, grid.count || this.gridSize);
          if (value !== null && this.grids.some((g) => g.step === grid.step)) {
            this.diversity.set(grid.step, value);
            this.onDiversity();
          }
        } catch {
          // an image that failed to load (the run was deleted or rewound meanwhile): no figure
        }
      });
    }
  }

  diversitySeries() {
    return [...this.diversity.entries()].sort((a, b) => a[0] - b[0]).map(([step, value]) => ({ step, value }));
  }
}

// Mean pairwise distance between the tiles of a torchvision grid, per pixel and channel, in
// [0, 1]: near 0 when the generator draws the same picture from every noise vector.
export async function gridDiversity(url, nrowGiven, count) {
  const image = new Image();
  image.src = url;
  await image.decode();
  const nrow = nrowGiven || Math.max(1, Math.floor(Math.sqrt(count)));
  const rows = Math.ceil(count / nrow);
  const pad = TORCHVISION_PADDING;
  const tileW = (image.naturalWidth - pad) / nrow - pad;
  const tileH = (image.naturalHeight - pad) / rows - pad;
  if (!(tileW >= 1 && tileH >= 1) || count < 2) return null;
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0);
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const k = TILE_SAMPLES;
  const tiles = [];
  for (let t = 0; t < count; t++) {
    const x0 = pad + (t % nrow) * (tileW + pad);
    const y0 = pad + Math.floor(t / nrow) * (tileH + pad);
    const tile = new Float32Array(k * k * 3);
    for (let j = 0; j < k; j++) {
      const y = Math.floor(y0 + ((j + 0.5) * tileH) / k);
      for (let i = 0; i < k; i++) {
        const x = Math.floor(x0 + ((i + 0.5) * tileW) / k);
        const at = (y * canvas.width + x) * 4;
        const o = (j * k + i) * 3;
        tile[o] = pixels[at] / 255;
        tile[o + 1] = pixels[at + 1] / 255;
        tile[o + 2] = pixels[at + 2] / 255;
      }
    }
    tiles.push(tile);
  }
  let total = 0;
  let pairs = 0;
  for (let a = 0; a < tiles.length; a++) {
    for (let b = a + 1; b < tiles.length; b++) {
      let d = 0;
      const ta = tiles[a];
      const tb = tiles[b];
      for (let i = 0; i < ta.length; i++) d += Math.abs(ta[i] - tb[i]);
      total += d / ta.length;
      pairs += 1;
    }
  }
  return total / pairs;
}
