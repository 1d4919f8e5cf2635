// A study's results for its admin: fooling rate per condition with its bootstrap interval,
// pairwise comparisons, exposure timing, every participant, and the raw judgments as CSV.

import { api, el, fmtNumber, showBanner, whenLoaded } from "/static/js/api.js";

const $ = (id) => document.getElementById(id);
const studyId = $("results").dataset.studyId;
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

function renderStudy(study) {
  $("study-name").textContent = study.name;
  const how = study.protocol === "2afc"
    ? `2AFC (${study.presentation.replace(/_/g, " ")}, ${study.exposure_ms} ms exposure${study.presentation === "sequential" ? `, ${study.gap_ms} ms gap` : ""})`
    : "single image (real or fake?)";
  $("study-info").textContent = `${how} · ${study.practice_trials} practice + ${study.main_trials} main trials · vigilance ${pct(study.vigilance_rate)} · completion code ${study.completion_code} · ${study.status}`;
  $("link").textContent = `${location.origin}${study.participant_url}`;
  $("real-source").textContent = study.real_source;
  const toggle = $("toggle-open");
  toggle.textContent = study.status === "open" ? "Close to new participants" : "Open to new participants";
  toggle.onclick = async () => {
    await api(`/api/studies/${studyId}/${study.status === "open" ? "close" : "open"}`, { method: "POST" });
    await load();
  };
}

function renderResults(results) {
  const rows = results.conditions.map((c) => el("tr", {},
    el("td", {}, c.label),
    el("td", {}, el("a", { href: `/runs/${c.run_id}` }, `${c.run_id} @ ${c.step}`), c.ema ? " (EMA)" : ""),
    el("td", { class: "rate" }, pct(c.fooling_rate)),
    el("td", {}, c.ci_low === null ? "–" : `${pct(c.ci_low)} – ${pct(c.ci_high)}`),
    el("td", {}, c.participants), el("td", {}, c.trials),
    el("td", {}, `${c.excluded} (${c.flagged} flagged)`),
    el("td", {}, c.exposure.count ? `${fmtNumber(c.exposure.mean_ms)} ± ${fmtNumber(c.exposure.std_ms)}` : "–"),
    el("td", {}, pct(c.exposure.within_frame))));
  $("conditions-table").querySelector("tbody").replaceChildren(...rows);
  $("pairwise").querySelector("tbody").replaceChildren(...results.pairwise.map((p) => el("tr", {},
    el("td", {}, p.a), el("td", {}, p.b), el("td", {}, fmtNumber(p.p_a_fools_more, 3)))));
  $("participants").querySelector("tbody").replaceChildren(...results.participants.map((p) =>
    el("tr", { dataset: { flagged: String(p.flagged) } },
      el("td", {}, p.participant), el("td", {}, p.condition),
      el("td", {}, p.completed ? "yes" : "no"), el("td", {}, p.flagged ? "yes" : "no"),
      el("td", {}, `${p.fooled} / ${p.trials}`), el("td", {}, pct(p.accuracy)),
      el("td", {}, `${p.vigilance_correct} / ${p.vigilance}`),
      el("td", {}, p.exposure_mean_ms === null ? "–" : fmtNumber(p.exposure_mean_ms)),
      el("td", {}, p.response_median_ms === null ? "–" : fmtNumber(p.response_median_ms)))));
  $("csv").href = `/api/studies/${studyId}/judgments.csv`;
  if (window.Plotly) {
    const cs = results.conditions;
    window.Plotly.react($("chart"), [{
      type: "bar", x: cs.map((c) => c.label), y: cs.map((c) => c.fooling_rate),
      error_y: { type: "data", symmetric: false,
        array: cs.map((c) => (c.ci_high ?? c.fooling_rate ?? 0) - (c.fooling_rate ?? 0)),
        arrayminus: cs.map((c) => (c.fooling_rate ?? 0) - (c.ci_low ?? c.fooling_rate ?? 0)) },
      text: cs.map((c) => `n = ${c.participants}`), hovertemplate: "%{x}: %{y:.1%} (%{text})<extra></extra>",
    }], { margin: { t: 20, r: 10, b: 40, l: 50 },
      yaxis: { title: "fooling rate", range: [0, 1], tickformat: ".0%" },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0.5, y1: 0.5, line: { dash: "dot", color: "#999" } }],
    }, { displaylogo: false, responsive: true });
  }
}

async function load() {
  const exclude = $("exclude").checked;
  const [study, results] = await Promise.all([api(`/api/studies/${studyId}`),
    api(`/api/studies/${studyId}/results?exclude_flagged=${exclude}`)]);
  renderStudy(study);
  renderResults(results);
}

$("exclude").addEventListener("change", () => load().catch((err) => showBanner(err.message, "error")));
$("copy-link").addEventListener("click", () => navigator.clipboard?.writeText($("link").textContent));
whenLoaded(() => load().catch((err) => showBanner(err.message, "error")));
