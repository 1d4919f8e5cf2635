// The run page: /runs/{id}, live over /ws/runs/{id}. History first, then live frames; every
// component below reads the same stream.

import {
  api, dataSet, el, fmtNumber, hideBanner, setConnection, setStatusBadge, showBanner, statusRules, Stream,
} from "./api.js";
import { HealthPanel } from "./health.js";
import { Playground } from "./playground.js";
import { lossPreview } from "./run_preview.js";
import { RedrawScheduler } from "./redraw.js";
import { bestKept, Charts, chartSpecs, MetricStore } from "./run_charts.js";
import { SampleViewer } from "./run_samples.js";

const HISTORY_POINTS = 1500; // per series: about two points per pixel of a wide chart
const HEALTH_INTERVAL_MS = 1000; // the health panel's findings, at most this often
// Which control applies in which status: the status's `controls` (gan_core/status.py). The
// resume button also continues a run that completed, towards the steps in the resume box.
const enabled = (action, status) => {
  const { controls } = statusRules(status);
  return controls.includes(action) || (action === "resume" && controls.includes("continue"));
};

const root = document.getElementById("run");
const runId = root.dataset.runId;

// plotly.js loads async (run.html): the stream opens and the history travels while the
// browser compiles it, and frames wait for it here.
const plotlyReady = new Promise((resolve, reject) => {
  if (window.Plotly) return resolve();
  const script = document.getElementById("plotly-js");
  script.addEventListener("load", () => resolve());
  script.addEventListener("error", () => reject(new Error("plotly.js did not load")));
}).then(() => performance.mark("ganscope:plotly"));

class RunPage {
  constructor() {
    this.run = null;
    this.store = new MetricStore();
    this.started = false;
    this.streamSeq = 0; // the seq of the last status or start frame applied to the header
    this.waiting = null; // frames that came before plotly.js
    this.hadHistory = false;
    this.refetchSamples = false;
    this.healthTimer = null;
    // every live update of the page (charts, progress, health) is drawn in its rounds
    this.redraw = new RedrawScheduler();
    this.stream = new Stream(`/ws/runs/${runId}`, {
      params: { max_points: HISTORY_POINTS },
      onFrame: (frame) => this.queue(frame),
      onState: (state, reason) => this.onState(state, reason),
    });
    root.append(el("p", { class: "empty", id: "run-loading" }, "Loading the run…"));
  }

  // -- the stream ------------------------------------------------------------------------------

  onState(state, reason) {
    if (state === "live") setConnection("● live", "ok");
    else if (state === "connecting") setConnection("connecting…", "ok");
    else if (state === "reconnecting") {
      setConnection("reconnecting…", "bad");
      if (this.hadHistory) this.refetchSamples = true;
    } else if (state === "closed") {
      if (reason === "no such run") this.showNotFound();
      else if (reason === "run deleted") {
        setConnection("run deleted", "bad");
        showBanner("This run was deleted.", "error");
        this.disableControls();
      } else setConnection(`closed: ${reason}`, "bad");
    }
  }

  queue(frame) {
    if (frame.type === "history" && !this.started) performance.mark("ganscope:history-received");
    if (this.waiting) {
      this.waiting.push(frame);
      return;
    }
    if (window.Plotly) {
      this.onFrame(frame);
      return;
    }
    this.waiting = [frame];
    if (frame.type === "history") this.showPreview(frame);
    plotlyReady.then(() => {
      const frames = this.waiting;
      this.waiting = null;
      for (const f of frames) this.onFrame(f);
    }, (err) => showBanner(`${err.message}: reload the page.`, "error"));
  }

  // The losses as a still picture while plotly.js compiles (build() replaces it).
  showPreview(history) {
    const preview = lossPreview(history);
    if (!preview || this.started) return;
    root.replaceChildren(preview);
    requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("ganscope:first-preview")));
  }

  onFrame(frame) {
    switch (frame.type) {
      case "history": return this.onHistory(frame);
      case "metrics": return this.onMetrics(frame);
      case "sample": return this.onSample(frame);
      case "view": return this.playground && this.playground.show(frame);
      case "checkpoint": return this.addCheckpoints([frame]);
      case "hyperparams": return this.onHyperparams(frame);
      case "status": return this.onStatus(frame);
      case "started": return this.onStarted(frame);
      case "gap": return this.onGap(frame);
      default: return undefined;
    }
  }

  onHistory(h) {
    if (!this.started) this.build(h.run);
    const reset = h.reset && this.hadHistory;
    if (reset) {
      this.store.clear();
      this.charts.clearMarkers();
      if (this.samples) this.samples.clear();
      if (this.playground) this.playground.step = null;
      this.checkpointRows.clear();
      this.checkpointBody.replaceChildren();
    }
    this.setRun(h.run);
    this.store.merge(h.metrics);
    for (const e of h.events) if (e.type === "hyperparams") this.onHyperparams(e);
    if (this.samples) {
      this.samples.merge(h.samples);
      // the grids' diversity can wait until the charts are up (it decodes a dozen images)
      if (!this.hadHistory || reset) this.firstChart.then(() => this.samples.measureHistory());
    }
    if (this.playground && h.view) this.playground.show(h.view);
    this.addCheckpoints(h.checkpoints);
    if (this.refetchSamples) this.reloadSamples();
    this.refetchSamples = false;
    this.hadHistory = true;
    this.scheduleHealth();
  }

  onMetrics(frame) {
    this.store.addFrame(frame.step, frame.values);
    if (this.run && frame.step > this.run.step) {
      this.run.step = frame.step;
      this.redraw.request("progress", () => this.renderProgress());
    }
    this.scheduleHealth();
  }

  // A live grid. A slow client's older grid is replaced by the newer one without a gap
  // notice, so the grids shown are always the server's list (the server sends a frame only
  // once its row is stored), read again for each new grid.
  onSample() {
    this.reloadSamples();
  }

  onHyperparams(frame) {
    this.charts.addMarker(frame.step, frame.changes);
    for (const [key, value] of Object.entries(frame.changes)) {
      this.hyper[key] = value;
      if (this.hyperInputs[key]) this.hyperInputs[key].value = String(value);
    }
  }

  async onStatus(frame) {
    this.streamSeq = frame.seq;
    this.run.status = frame.status;
    this.run.status_message = frame.message || null;
    const rules = statusRules(frame.status);
    if (rules.with_error) this.run.error = frame.message || this.run.error;
    else if (rules.active) this.run.error = null; // resumed
    this.renderHeader();
    this.scheduleHealth();
    try {
      this.setRun(await api(`/api/runs/${runId}`)); // totals and times change with a status
    } catch {
      // the stream says what happened (deleted); the header keeps what it knows
    }
  }

  onStarted(frame) {
    this.streamSeq = frame.seq;
    this.run.device = frame.device;
    if (frame.resumed) {
      // a resume from the checkpoint at `step`: what came after it is replayed
      this.store.truncateAfter(frame.step);
      if (this.samples) this.samples.truncateAfter(frame.step);
      if (this.playground) this.playground.step = null; // the replayed views replace the later ones
      for (const [step, row] of this.checkpointRows) {
        if (step > frame.step) {
          row.remove();
          this.checkpointRows.delete(step);
        }
      }
      this.run.step = frame.step;
    }
    this.renderHeader();
  }

  // Metric frames were dropped for this (slow) client: read the missing steps over REST.
  async onGap() {
    const since = this.store.lastStep;
    try {
      const params = since === null ? "" : `?since=${since}`;
      const answer = await api(`/api/runs/${runId}/metrics${params}`);
      this.store.merge(answer.series);
    } catch (err) {
      showBanner(`Some chart points could not be loaded: ${err.message}`, "error");
    }
    this.reloadSamples();
  }

  async reloadSamples() {
    if (!this.samples) return;
    if (this.samplesLoading) {
      this.samplesAgain = true;
      return;
    }
    this.samplesLoading = true;
    try {
      for (;;) {
        this.samplesAgain = false;
        const { grids } = await api(`/api/runs/${runId}/samples`);
        const known = new Set(this.samples.grids.map((g) => g.step));
        this.samples.merge(grids);
        this.samples.measure(grids.filter((g) => !known.has(g.step)).slice(-1));
        if (!this.samplesAgain) break;
      }
    } catch {
      // a deleted run: the stream closes with the reason
    } finally {
      this.samplesLoading = false;
    }
  }

  // -- layout ----------------------------------------------------------------------------------

  build(run) {
    this.started = true;
    this.config = run.config || {};
    const data = this.config.data && dataSet(this.config.data.name);
    const isToy = data ? data.kind === "toy" : this.config.model && this.config.model.arch === "mlp";
    this.isToy = isToy;
    const reg = this.config.regularization || {};
    root.replaceChildren();

    this.name = el("h1", { id: "run-name" });
    this.badge = el("span", { class: "status", id: "run-status" });
    this.meta = el("dl", { class: "run-meta" });
    this.progress = el("progress", { id: "run-progress", max: "1", value: "0" });
    this.stepText = el("span", { id: "run-step" });
    this.error = el("p", { class: "error-text run-error", id: "run-error", role: "alert", hidden: true });
    this.note = el("p", { class: "muted run-note", id: "run-note", hidden: true }); // why it stopped
    const head = el("section", { class: "panel run-head", "aria-label": "Run" },
      el("div", { class: "title-row" }, this.name, this.badge),
      this.meta,
      el("div", { class: "progress-row" }, this.progress, this.stepText),
      this.error,
      this.note);

    const controls = this.buildControls();

    const side = el("div", { class: "run-side" });
    if (isToy) {
      const box = el("section", { class: "panel", id: "playground", "aria-label": "Playground" });
      this.playground = new Playground(box, { lossName: this.config.loss && this.config.loss.name });
      side.append(box);
    } else {
      const box = el("section", { class: "panel", id: "samples", "aria-label": "Samples" });
      this.samples = new SampleViewer(box, runId, {
        gridSize: this.config.train && this.config.train.grid_size,
        onSelect: (step) => this.charts.setCursor(step),
        onDiversity: () => this.scheduleHealth(),
      });
      side.append(box);
    }
    const healthBox = el("section", { class: "panel", id: "health", "aria-label": "Health" });
    this.health = new HealthPanel(healthBox);
    side.append(healthBox, this.buildCheckpoints());

    const chartsBox = el("section", { class: "run-charts", "aria-label": "Charts" });
    this.charts = new Charts(chartsBox, this.store, chartSpecs({
      isToy, lossName: this.config.loss && this.config.loss.name,
      penalty: Boolean(reg.gradient_penalty || reg.r1_gamma),
      evaluation: this.config.eval,
    }), this.redraw);
    this.charts.onCursor((cursor) => {
      if (!this.samples) return;
      if (cursor === null) this.samples.select(this.samples.grids.length - 1, { follow: true });
      else if (cursor.pinned) this.samples.showStep(cursor.step);
    });
    this.firstChart = this.charts.whenPainted().then(() => {
      performance.mark("ganscope:first-chart");
    });
    window.ganscopeFirstChart = this.firstChart; // for benchmarks/bench_ui.py

    root.append(
      el("div", { class: "run-top" }, head, controls),
      el("div", { class: "run-body" }, side, chartsBox),
    );
  }

  buildControls() {
    const button = (action, text, cls) => el("button", { type: "button", class: cls,
      id: `control-${action}`, dataset: { action }, onclick: () => this.control({ action }) }, text);
    this.buttons = {
      pause: button("pause", "Pause"),
      resume: button("resume", "Resume"),
      step: button("step", "Step once"),
      stop: button("stop", "Stop", "danger"),
    };
    this.resumeSteps = el("input", { type: "number", id: "resume-steps", min: "1", step: "1",
      inputmode: "numeric", placeholder: "total steps", "aria-describedby": "resume-help" });
    this.resumeBox = el("span", { class: "resume-steps", hidden: true },
      el("label", { for: "resume-steps" }, "Train to"), this.resumeSteps,
      el("span", { id: "resume-help", class: "muted" }, "(needed to extend a completed run)"));

    this.hyperInputs = {};
    const fields = [
      ["lr_g", "G learning rate", "any"],
      ["lr_d", "D learning rate", "any"],
      ["n_critic", "D steps per G step", "1"],
    ];
    const optim = this.config.optim || {};
    // the values in force: the config's, then each change the run reports
    this.hyper = { lr_g: optim.g && optim.g.lr, lr_d: optim.d && optim.d.lr, n_critic: optim.n_critic };
    const current = this.hyper;
    const form = el("form", { class: "hyper-form", id: "hyper-form" },
      fields.map(([key, text, step]) => {
        const input = el("input", { type: "number", id: `hp-${key}`, name: key, step,
          min: key === "n_critic" ? "1" : "0", max: key === "n_critic" ? "100" : "1",
          value: current[key] === undefined ? "" : String(current[key]) });
        this.hyperInputs[key] = input;
        return el("label", { for: `hp-${key}` }, `${text} `, input);
      }),
      el("button", { type: "submit", id: "hp-apply" }, "Apply"));
    this.applyButton = form.querySelector("button");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.applyHyperparams();
    });
    this.controlMessage = el("p", { class: "control-message", id: "control-message", role: "status",
      "aria-live": "polite" });
    return el("section", { class: "panel run-controls", "aria-label": "Controls" },
      el("h2", {}, "Controls"),
      el("div", { class: "button-row" }, Object.values(this.buttons), this.resumeBox),
      form,
      this.controlMessage);
  }

  buildCheckpoints() {
    this.checkpointRows = new Map();
    this.checkpointBody = el("tbody");
    this.checkpointEmpty = el("p", { class: "muted" }, "No checkpoint yet.");
    this.bestLine = el("p", { class: "best-fid", hidden: true, role: "status" });
    this.studyRates = [];
    if (!this.isToy) this.loadStudyRates();
    return el("section", { class: "panel", id: "checkpoints", "aria-label": "Checkpoints" },
      el("h2", {}, "Checkpoints"),
      this.bestLine,
      this.checkpointList = el("div", { class: "checkpoint-scroll", tabindex: "0", "aria-label": "Checkpoint list",
        hidden: true },
        el("table", { class: "checkpoint-table" },
          el("thead", {}, el("tr", {}, el("th", {}, "Step"), el("th", {}, "Size"), el("th", {}, "File"))),
          this.checkpointBody)),
      this.checkpointEmpty);
  }

  addCheckpoints(list) {
    for (const c of list) {
      if (this.checkpointRows.has(c.step)) continue;
      const size = c.size_bytes ? `${fmtNumber(c.size_bytes / 1e6, 3)} MB` : "–";
      const row = el("tr", { dataset: { step: String(c.step) } },
        el("td", {}, c.step.toLocaleString()),
        el("td", {}, size),
        el("td", { class: "checkpoint-links" }, el("a", { href: c.url, download: "" }, "Download"),
          this.isToy ? null : el("a", { href: `/explore?run=${runId}&step=${c.step}` }, "Explore"),
          this.isToy ? null : el("a", { href: `/studies?run=${runId}&step=${c.step}` }, "Study"),
          this.isToy ? null : el("a", { href: `/support?run=${runId}&step=${c.step}`,
            title: "Birthday-paradox test of the support size" }, "Support"),
          el("span", { class: "checkpoint-notes" })));
      const later = [...this.checkpointRows.entries()].filter(([s]) => s > c.step).sort((a, b) => a[0] - b[0]);
      if (later.length) this.checkpointBody.insertBefore(row, later[0][1]);
      else this.checkpointBody.append(row);
      this.checkpointRows.set(c.step, row);
    }
    this.checkpointEmpty.hidden = this.checkpointRows.size > 0;
    this.checkpointList.hidden = this.checkpointRows.size === 0;
    this.markCheckpoints();
  }

  // Notes beside checkpoints: the best FID so far (the kept metric), and fooling rates from
  // studies.
  markCheckpoints() {
    const best = bestKept(this.store, this.config.eval && this.config.eval.features);
    if (best) {
      setText(this.bestLine, `Best ${best.label} ` +
        `${fmtNumber(best.value, 4)} at step ${best.step.toLocaleString()}` +
        (this.checkpointRows.has(best.step) ? ": its checkpoint is kept." : "."));
    }
    this.bestLine.hidden = !best;
    for (const [step, row] of this.checkpointRows) {
      const notes = [];
      if (best && best.step === step) notes.push(`best ${best.short}`);
      for (const r of this.studyRates.filter((x) => x.step === step)) {
        const rate = r.fooling_rate === null ? "–" : `${(100 * r.fooling_rate).toFixed(1)}%`;
        const ci = r.ci_low === null ? "" : ` [${(100 * r.ci_low).toFixed(0)}–${(100 * r.ci_high).toFixed(0)}%]`;
        const people = `${r.participants} participant${r.participants === 1 ? "" : "s"}`;
        notes.push(`fools ${rate}${ci} in “${r.study}” (${people})`);
      }
      setText(row.querySelector(".checkpoint-notes"), notes.join(" · "));
    }
  }

  async loadStudyRates() {
    try {
      this.studyRates = (await api(`/api/runs/${runId}/studies`)).data;
      this.markCheckpoints();
    } catch {
      this.studyRates = []; // no studies, or studies are for the admin only: nothing to show
    }
  }

  // -- header and controls ----------------------------------------------------------------------

  setRun(run) {
    if (this.run && run.seq < this.streamSeq) {
      // read before the latest status or start frame was stored: the frame knows better
      run = { ...run, status: this.run.status, error: this.run.error, device: this.run.device };
    }
    const step = this.run ? Math.max(this.run.step, run.step) : run.step;
    // a queued run (a resume) starts again from its checkpoint's step
    const { active, live } = statusRules(run.status);
    this.run = { ...run, step: active && !live ? run.step : step };
    if (run.config) this.config = run.config;
    this.renderHeader();
  }

  renderHeader() {
    const r = this.run;
    document.title = `${r.name} · GANscope`;
    this.name.textContent = r.name;
    setStatusBadge(this.badge, r.status);
    const item = (term, value) => [el("dt", {}, term), el("dd", {}, value)];
    this.meta.replaceChildren(
      ...item("Data", r.data),
      ...item("Loss", r.loss),
      ...item("Device", r.device || "–"),
      ...item("Preset", r.preset || "–"),
      ...item("Id", r.id),
    );
    const rules = statusRules(r.status);
    const error = rules.with_error && r.error; // an interrupted run was not at fault
    this.error.hidden = !error;
    this.error.textContent = error ? `${rules.tone === "bad" ? "Error" : "Interrupted"}: ${r.error}` : "";
    const note = rules.with_note && rules.terminal ? r.status_message : null; // who stopped it
    this.note.hidden = !note;
    this.note.textContent = note || "";
    this.renderProgress();
    this.renderControls();
  }

  renderProgress() {
    const r = this.run;
    this.progress.max = Math.max(1, r.total_steps);
    this.progress.value = Math.min(r.step, r.total_steps);
    setText(this.stepText, `step ${r.step.toLocaleString()} / ${r.total_steps.toLocaleString()}`);
  }

  renderControls() {
    const status = this.run.status;
    for (const [action, button] of Object.entries(this.buttons)) {
      button.disabled = this.deleted || !enabled(action, status);
    }
    this.resumeBox.hidden = !statusRules(status).resumable || this.deleted;
    const settable = !this.deleted && enabled("set", status);
    for (const input of Object.values(this.hyperInputs)) input.disabled = !settable;
    this.applyButton.disabled = !settable;
  }

  disableControls() {
    this.deleted = true;
    if (this.run) this.renderControls();
  }

  async control(body) {
    const status = this.run.status;
    if (body.action === "resume" && statusRules(status).resumable && this.resumeSteps.value) {
      body.steps = Number(this.resumeSteps.value);
    }
    const verb = { pause: "pause", resume: "resume", step: "step", stop: "stop", set: "change" }[body.action];
    this.controlMessage.classList.remove("error-text");
    this.controlMessage.textContent = `Asked to ${verb} the run…`;
    try {
      this.setRun(await api(`/api/runs/${runId}/control`, { method: "POST", body }));
      this.controlMessage.textContent = body.action === "set"
        ? "Change sent: it applies before the next step and shows as a dashed line on the charts."
        : `Asked to ${verb} the run.`;
    } catch (err) {
      this.controlMessage.classList.add("error-text");
      const what = err.status === 409 ? "Not possible now" : `Could not ${verb} the run`;
      this.controlMessage.textContent = `${what}: ${err.message}`;
    }
  }

  applyHyperparams() {
    const values = {};
    for (const [key, input] of Object.entries(this.hyperInputs)) {
      if (input.value === "") continue;
      if (!input.checkValidity()) {
        this.controlMessage.classList.add("error-text");
        this.controlMessage.textContent = `${key}: ${input.validationMessage}`;
        input.focus();
        return;
      }
      const value = Number(input.value);
      if (value !== this.hyper[key]) values[key] = value;
    }
    if (!Object.keys(values).length) {
      this.controlMessage.classList.remove("error-text");
      this.controlMessage.textContent = "Nothing changed: edit a value first.";
      return;
    }
    this.control({ action: "set", values });
  }

  // -- health ------------------------------------------------------------------------------------

  // The first at once, then at most every HEALTH_INTERVAL_MS, in a round of the scheduler
  // (so not while the tab is hidden).
  scheduleHealth() {
    if (this.healthTimer !== null || !this.health) return;
    this.healthTimer = setTimeout(() => this.redraw.request("health", () => {
      this.healthTimer = null;
      this.markCheckpoints();
      this.health.update({
        store: this.store,
        status: this.run.status,
        error: this.run.error,
        config: this.config,
        isToy: Boolean(this.playground),
        diversity: this.samples ? this.samples.diversitySeries() : [],
      });
    }), this.health.items.size ? HEALTH_INTERVAL_MS : 0);
  }

  showNotFound() {
    setConnection("", "ok");
    document.title = "Run not found · GANscope";
    root.replaceChildren(
      el("h1", {}, "Run not found"),
      el("div", { class: "panel empty", id: "run-not-found" },
        el("p", {}, `There is no run with the id ${runId}. It may have been deleted.`),
        el("p", {}, el("a", { href: "/" }, "Back to the runs list"))),
    );
  }
}

// A text node rewritten only when its text changes: an equal write still costs a layout.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

hideBanner();
window.ganscopeRunPage = new RunPage();
