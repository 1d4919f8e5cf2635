// The runs whose data set is images: what the explorer, the support-size test and studies
// work on (a 2D run's generator draws points, not images).

import { api, el } from "./api.js";

export async function imageRuns() {
  const [registry, runs] = await Promise.all([api("/api/registry"), api("/api/runs?limit=500")]);
  const images = new Set(registry.datasets.filter((d) => d.kind === "image").map((d) => d.name));
  return runs.data.filter((r) => images.has(r.data));
}

// Fill the run picker `select` (the URL's ?run= preselected) and return the runs by id. With
// none, `empty` says why (`purpose`) and links to a new run, and `form` is hidden.
export async function fillRunPicker({ select, empty, form, purpose }) {
  const byId = new Map();
  select.replaceChildren();
  for (const run of await imageRuns()) {
    byId.set(run.id, run);
    select.append(el("option", { value: run.id }, `${run.name} · ${run.data} · step ${run.step} · ${run.status}`));
  }
  if (!byId.size) {
    empty.replaceChildren(`No image runs yet. ${purpose}: `, el("a", { href: "/runs/new" }, "start one"),
      " (the mnist-dcgan preset trains offline).");
    empty.hidden = false;
    form.hidden = true;
    return byId;
  }
  const wanted = new URLSearchParams(location.search).get("run");
  if (wanted && byId.has(wanted)) select.value = wanted;
  return byId;
}
