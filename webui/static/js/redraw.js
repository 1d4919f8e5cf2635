// When the run page draws. A run may report hundreds of times a second while the browser shares
// the CPU with the training it watches, so nothing is drawn per report: each report only marks
// what it changed, and rounds of drawing come at most every few hundred milliseconds, in
// animation frames, never while the tab is hidden, and never for a chart off screen. A tab shown
// again, or a chart scrolled into view, catches up at once with everything that arrived.
// What to draw stays with its owner (run_charts.js draws a chart, run.js the header and the
// health panel); this module decides only when.

// A round of drawing at most this often ("a few times a second")...
const MIN_INTERVAL_MS = 250;
// ...and at least this often while there is something to draw: a report reaches the charts
// within this plus one round (target: 1 s).
const MAX_INTERVAL_MS = 750;
// Between the two, the interval keeps the drawing's script to this share of one core (a round
// that took 30 ms waits 600 ms): on a slow machine the charts update less often, rather than
// slow down the training they show. Layout and painting add about half as much again.
const CPU_SHARE = 0.05;
// Script time per animation frame: a round that needs more goes on in the next frame, so the
// page answers input and the first chart paints before the others are built.
const FRAME_BUDGET_MS = 12;

// Runs the jobs requested meanwhile, keyed so that a job requested many times runs once per
// round. A round snapshots the jobs waiting when it starts; jobs requested during a round wait
// for the next one.
export class RedrawScheduler {
  constructor() {
    this.interval = MIN_INTERVAL_MS;
    this.jobs = new Map(); // key -> function, for the next round
    this.round = null; // [function] left in the round under way
    this.roundStart = -Infinity;
    this.roundCost = 0;
    this.timer = null;
    this.frame = null;
    document.addEventListener("visibilitychange", () => this.wake());
  }

  request(key, job) {
    this.jobs.set(key, job);
    this.wake();
  }

  // Plans the next frame if there is work and the tab is shown; while it is hidden, plans
  // nothing (the jobs wait, and the visibilitychange that shows it wakes this again).
  wake() {
    if (document.hidden) {
      clearTimeout(this.timer);
      cancelAnimationFrame(this.frame);
      this.timer = null;
      this.frame = null;
      return;
    }
    if (this.timer !== null || this.frame !== null) return;
    if (this.round) {
      this.frame = requestAnimationFrame(() => this.run());
      return;
    }
    if (!this.jobs.size) return;
    const wait = Math.max(0, this.roundStart + this.interval - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (document.hidden) return; // shown again: visibilitychange wakes it
      this.frame = requestAnimationFrame(() => this.run());
    }, wait);
  }

  run() {
    this.frame = null;
    if (document.hidden) return;
    const start = performance.now();
    if (!this.round) {
      this.round = [...this.jobs.values()];
      this.jobs.clear();
      this.roundStart = start;
      this.roundCost = 0;
    }
    let ran = 0;
    while (this.round.length && (ran === 0 || performance.now() - start < FRAME_BUDGET_MS)) {
      this.round.shift()();
      ran += 1;
    }
    this.roundCost += performance.now() - start;
    if (this.round.length) {
      this.wake();
      return;
    }
    this.round = null;
    this.interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, this.roundCost / CPU_SHARE));
    this.wake();
  }
}
