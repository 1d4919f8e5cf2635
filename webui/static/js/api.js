// The one way pages talk to the server: REST with readable errors, and run streams that
// resume after a reconnect. Nothing here knows about a particular page.

export class ApiError extends Error {
  constructor(status, detail) {
    super(ApiError.describe(status, detail));
    this.status = status;     // 0: the server could not be reached
    this.detail = detail;     // FastAPI's `detail`: a string, or a list of {loc, msg}
  }

  // Field errors of a 422: [{path: "train.batch_size", msg}] (the body/config prefix dropped).
  get fieldErrors() {
    if (!Array.isArray(this.detail)) return [];
    return this.detail.map((d) => ({ path: fieldPath(d.loc || []), msg: d.msg }));
  }

  static describe(status, detail) {
    if (status === 0) return "The GANscope server cannot be reached. Is `make run` still running?";
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => `${fieldPath(d.loc || []) || "request"}: ${d.msg}`).join("; ");
    }
    return `The server answered ${status}.`;
  }
}

// ["body", "config", "train", "batch_size"] -> "train.batch_size"
export function fieldPath(loc) {
  const parts = loc.filter((p) => p !== "body");
  if (parts[0] === "config" || parts[0] === "overrides") parts.shift();
  return parts.join(".");
}

export async function api(path, { method = "GET", body, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    showBanner(ApiError.describe(0), "error");
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data && data.detail !== undefined ? data.detail : data);
    if (response.status === 401) askForToken();
    throw error;
  }
  return data;
}

// A server bound to a public address needs its admin token; the browser keeps it in a cookie
// that the server reads on REST calls and WebSocket handshakes alike.
function askForToken() {
  const banner = showBanner("This server needs its admin token for changes. ", "error");
  if (banner.querySelector("form")) return;
  const form = el("form", { class: "token-form" },
    el("label", {}, "Admin token ", el("input", { type: "password", name: "token", autocomplete: "off" })),
    el("button", { type: "submit" }, "Use token"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = form.elements.token.value.trim();
    document.cookie = `ganscope_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
    hideBanner();
  });
  banner.append(form);
}

export function showBanner(message, kind = "info") {
  const banner = document.getElementById("banner");
  banner.textContent = message;
  banner.dataset.kind = kind;
  banner.hidden = false;
  return banner;
}

export function hideBanner() {
  const banner = document.getElementById("banner");
  banner.hidden = true;
  banner.textContent = "";
}

export function setConnection(text, kind = "ok") {
  const node = document.getElementById("connection");
  if (!node) return;
  node.textContent = text;
  node.dataset.kind = kind;
}

// A WebSocket with the history-then-live protocol of /ws/runs/{id} (or /ws/runs): it
// reconnects with backoff and asks for what it missed (?after_seq=), so no frame is lost or
// repeated. A message is one frame object or an array of frames sent together.
export class Stream {
  constructor(path, { onFrame, onState, params = {} } = {}) {
    this.path = path;
    this.params = params;
    this.onFrame = onFrame || (() => {});
    this.onState = onState || (() => {});
    this.lastSeq = null;
    this.retry = 0;
    this.closed = false;
    this.ws = null;
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams(this.params);
    if (this.lastSeq !== null) params.set("after_seq", String(this.lastSeq));
    const query = params.toString();
    return `${proto}//${location.host}${this.path}${query ? `?${query}` : ""}`;
  }

  connect() {
    this.onState(this.retry ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.onState("live");
    };
    ws.onmessage = (ev) => {
      const data = JSON.parse(ev.data);
      for (const frame of Array.isArray(data) ? data : [data]) {
        if (typeof frame.seq === "number" && frame.seq > (this.lastSeq ?? -1)) this.lastSeq = frame.seq;
        this.onFrame(frame);
      }
    };
    ws.onclose = (ev) => {
      if (this.closed) return;
      if (ev.code === 4404 || ev.code === 1008 || (ev.code === 1000 && ev.reason === "run deleted")) {
        this.closed = true;
        this.onState("closed", ev.reason || "closed");
        return;
      }
      this.retry += 1;
      const delay = Math.min(10000, 250 * 2 ** Math.min(this.retry, 6));
      this.onState("reconnecting", ev.reason);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }
}

// el("a", {href: "/x", class: "btn"}, "text", childNode): a DOM node, no innerHTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function fmtNumber(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

// The server's times are UTC; SQLite returns them without an offset, which Date would read
// as local time.
export function parseTime(iso) {
  return new Date(/(?:[zZ]|[+-]\d\d:?\d\d)$/.test(iso) ? iso : `${iso}Z`);
}

export function fmtAge(iso) {
  if (!iso) return "–";
  const seconds = (Date.now() - parseTime(iso).getTime()) / 1000;
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

// The run statuses and the rules of each (its sets, the actions the server accepts) as the
// server serves them (GET /api/registry, `statuses`), so that no page keeps a list of its own.
// Read once, before any page's module runs: name -> {name, active, live, terminal, resumable,
// with_error, with_note, tone, actions, controls} (gan_core/status.py says what each means).
export const REGISTRY = await loadRegistry();
export const RUN_STATUSES = new Map(REGISTRY.statuses.map((s) => [s.name, s]));

const NO_RULES = { active: false, live: false, terminal: false, resumable: false,
  with_error: false, with_note: false, tone: "neutral", actions: [], controls: [] };

// A status's rules; an unknown one (a newer server) has none.
export function statusRules(status) {
  return RUN_STATUSES.get(status) || NO_RULES;
}

// Shows `status` in a badge: its name, coloured by its tone (app.css).
export function setStatusBadge(badge, status) {
  badge.textContent = status;
  badge.dataset.tone = statusRules(status).tone;
}


// The registry (GET /api/registry): data sets, models, losses (each with its `d_output`),
// evaluation metrics and feature spaces, the run page's charts and every reported metric,
// presets and run statuses.
async function loadRegistry() {
  try {
    return await api("/api/registry");
  } catch (err) {
    console.error("registry:", err.message);
    if (document.getElementById("banner")) {
      showBanner(`Could not read the registry: ${err.message}`, "error");
    }
    return { datasets: [], models: [], losses: [], evaluations: [], features: [], charts: [],
      metrics: [], presets: [], statuses: [] };
  }
}

// What D's output means under a loss (gan_core/losses.py): "logit", "critic", "margin" or
// "target"; null for a loss this page does not know.
export function dOutput(lossName) {
  const loss = REGISTRY.losses.find((l) => l.name === lossName);
  return loss ? loss.d_output : null;
}

// A data set as the registry declares it (gan_core/data/registry.py): {name, description, kind
// ("toy" or "image"), shape, labels, features}; null for a set this server does not know.
export function dataSet(name) {
  return REGISTRY.datasets.find((d) => d.name === name) || null;
}

// Every metric a run reports, as gan_core/reports.py declares it: name -> {label, title,
// chart, direction, smooth, axis, health, evaluation, keeps_best, and for an evaluation's
// values `names`: the name stored in each feature space}.
export const METRICS = new Map(REGISTRY.metrics.map((m) => [m.name, m]));

// The name a metric is stored under in a feature space (featureSpace): an evaluation's values
// carry the space's suffix (kid_std -> kid_mnist_std), as the server names them.
export function storedName(metric, space) {
  return (metric.names && space && metric.names[space.name]) || metric.name;
}

// The metric a health rule reads, by the role the registry gives it ("g_gradient", "d_loss",
// "d_on_real", ...); null when no metric has it.
export function metricFor(role) {
  const found = REGISTRY.metrics.find((m) => m.health === role);
  return found ? found.name : null;
}

// The name prefix of the series a health rule reads as a family (a chart's `health` role:
// "spectral" gives the spectral norms' prefix, one series a D layer); null when none has it.
export function prefixFor(role) {
  const found = REGISTRY.charts.find((c) => c.health === role && c.prefix);
  return found ? found.prefix : null;
}

// A feature space of the evaluation metrics (gan_core/metrics/features.py): its value suffix,
// the label of its FID and what a chart says of it.
export function featureSpace(name) {
  return REGISTRY.features.find((f) => f.name === name)
    || { name, suffix: "", label: "FID", space: name || "", note: "" };
}

// Run `fn` once the page has loaded, also when that happened before the caller's module ran
// (this module awaits the registry at the top level, so a page module may start after `load`).
export function whenLoaded(fn) {
  if (document.readyState === "complete") fn();
  else window.addEventListener("load", fn, { once: true });
}
