// When the run page draws. A run may report hundreds of times a second while the browser shares
// the CPU with the training it watches, so nothing is drawn per report: each report only marks
// what it changed, and rounds of drawing come at most every few hundred milliseconds, in
// animation frames, never while the tab is hidden, and never for a chart off screen. A tab shown
// again, or a chart scrolled into view, catches up at once with everything that arrived.
// What to draw stays with its owner (run_charts.js draws a chart, run.js the header and the
// health panel); this module decides only when.
//
// A change waits for the others to join it: the first change after a round is held for a while
// (`hold`) before its round starts, and every change that came meanwhile is drawn in that same
// round. When rounds are cheap the hold is short and the page follows closely; when they are
// costly (a slow machine, a browser that shares its cores with the training) the hold grows, up
// to MAX_HOLD_MS, so that each round gathers several reports and the charts are redrawn less often
// for the same reports. Pacing rounds from the previous round instead would draw as often with
// fewer reports in each: a report every 370 ms and rounds 750 ms apart draw two reports a round,
// where holding the first for 750 ms draws three.

// Rounds start at least this far apart ("a few times a second")...
const MIN_INTERVAL_MS = 250;
// ...and a change waits at most this long for its round to start: with the round's own time, a
// report reaches the charts within 1 s.
const MAX_HOLD_MS = 750;
// Below the cap, the hold keeps the drawing's script to this share of one core (a round that
// took 20 ms holds the next change for 400 ms). Layout and painting add about as much again.
const CPU_SHARE = 0.05;
// What a round costs is judged from the costliest recent round, forgotten by this factor per
// round: a round that only moved the step counter does not make the next chart round come early.
const COST_MEMORY = 0.8;
// Script time per animation frame: a round that needs more goes on in the next frame, so the
// page answers input and the first chart paints before the others are built.
const FRAME_BUDGET_MS = 12;

// Runs the jobs requested meanwhile, keyed so that a job requested many times runs once per
// round. A round snapshots the jobs waiting when it starts; jobs requested during a round wait
// for the next one.
export class RedrawScheduler {
  constructor() {
    this.hold = 0;
    this.cost = 0; // the recent rounds' cost (ms of script), decaying
    this.jobs = new Map(); // key -> function, for the next round
    this.since = null; // when the oldest of those jobs was requested
    this.urgent = false; // one of them answers the user (scrolled to, shown, a control moved)
    this.round = null; // [function] left in the round under way
    this.roundStart = -Infinity;
    this.roundCost = 0;
    this.timer = null;
    this.due = null; // when the planned timer fires
    this.frame = null;
    document.addEventListener("visibilitychange", () => this.wake());
  }

  // `urgent`: the job answers something the user did, so it is not held for other reports
  // (it still waits MIN_INTERVAL_MS after the previous round).
  request(key, job, { urgent = false } = {}) {
    if (!this.jobs.size) this.since = performance.now();
    this.jobs.set(key, job);
    if (urgent) this.urgent = true;
    this.wake();
  }

  // When the next round may start: MIN_INTERVAL_MS after the previous one, and unless a job is
  // urgent, once the oldest waiting job has been held for `hold`.
  dueAt() {
    const spaced = this.roundStart + MIN_INTERVAL_MS;
    return this.urgent ? spaced : Math.max(spaced, this.since + this.hold);
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
    if (this.frame !== null) return;
    if (this.round) {
      this.frame = requestAnimationFrame(() => this.run());
      return;
    }
    if (!this.jobs.size) return;
    const due = this.dueAt();
    if (this.timer !== null) {
      if (due >= this.due) return;
      clearTimeout(this.timer); // an urgent job came: plan it sooner
    }
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (document.hidden) return; // shown again: visibilitychange wakes it
      this.frame = requestAnimationFrame(() => this.run());
    }, Math.max(0, due - performance.now()));
  }

  run() {
    this.frame = null;
    if (document.hidden) return;
    const start = performance.now();
    if (!this.round) {
      this.round = [...this.jobs.values()];
      this.jobs.clear();
      this.urgent = false;
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
    this.cost = Math.max(this.roundCost, COST_MEMORY * this.cost);
    this.hold = Math.min(MAX_HOLD_MS, this.cost / CPU_SHARE);
    this.wake();
  }
}
