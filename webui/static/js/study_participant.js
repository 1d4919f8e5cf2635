// A participant's page: consent, practice with feedback, main trials, the completion code.
// Images are preloaded and decoded before a trial starts; each exposure is timed with
// requestAnimationFrame and the measured on-screen time is sent with the answer. The page
// knows only opaque image URLs: which image is fake stays on the server.

import { api, ApiError, el, showBanner } from "/static/js/api.js";

const root = document.getElementById("main");
const studyId = root.dataset.studyId;
const params = new URLSearchParams(location.search);
const givenId = params.get("PROLIFIC_PID") || params.get("workerId") || params.get("participant")
  || params.get("pid");
const storeKey = `ganscope-study:${studyId}:${givenId || "anonymous"}`;
const $ = (id) => document.getElementById(id);

let info = null;
let session = null;   // {token, participant}
let frameMs = 1000 / 60;

function screen(name) {
  for (const id of ["consent", "between", "task", "thanks", "refused"]) $(id).hidden = id !== name;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

// The display's frame time: the median of a few rAF intervals.
async function measureFrame() {
  let last = await nextFrame();
  const deltas = [];
  for (let i = 0; i < 12; i++) {
    const t = await nextFrame();
    deltas.push(t - last);
    last = t;
  }
  deltas.sort((a, b) => a - b);
  return deltas[Math.floor(deltas.length / 2)] || 1000 / 60;
}

async function load(url) {
  const img = new Image();
  img.src = url;
  img.alt = "";
  img.draggable = false;
  await img.decode();
  return img;
}

// Show `nodes` from one frame to the frame at which `ms` have passed; resolves with the
// measured on-screen time (the rAF timestamps of the frames that showed and hid them).
function expose(nodes, ms) {
  return new Promise((resolve) => {
    let on = null;
    const tick = (ts) => {
      if (on === null) {
        for (const n of nodes) n.style.visibility = "visible";
        on = ts;
      } else if (ts - on >= ms - frameMs / 2) {
        for (const n of nodes) n.style.visibility = "hidden";
        resolve(ts - on);
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

async function blank(ms) {
  const start = await nextFrame();
  while ((await nextFrame()) - start < ms - frameMs / 2) { /* wait whole frames */ }
}

function question(trial) {
  const main = trial.phase === "main";
  const n = main ? trial.position - info.practice_trials + 1 : trial.position + 1;
  const of = main ? info.main_trials : info.practice_trials;
  $("progress").textContent = `${main ? "Trial" : "Practice"} ${n} of ${of}`;
  if (info.protocol === "single") return ["Is this image real or fake?", ["Real", "Fake"], [0, 1]];
  const labels = info.presentation === "side_by_side" ? ["Left is fake", "Right is fake"]
    : ["The first was fake", "The second was fake"];
  return ["Which image was fake?", labels, [0, 1]];
}

// Wait for a click on an answer button (or keys 1/2, F/J); resolves with the response.
function ask(labels, values, enabledAt) {
  const answers = $("answers");
  answers.replaceChildren();
  return new Promise((resolve) => {
    const done = (value) => {
      const t = performance.now();
      document.removeEventListener("keydown", onKey);
      for (const b of answers.querySelectorAll("button")) b.disabled = true;
      resolve({ response: value, at: t });
    };
    const onKey = (ev) => {
      const i = { 1: 0, 2: 1, f: 0, j: 1 }[ev.key.toLowerCase()];
      if (i !== undefined) done(values[i]);
    };
    labels.forEach((label, i) => answers.append(
      el("button", { type: "button", id: `answer-${i}`, class: "answer", onclick: () => done(values[i]) },
        label)));
    document.addEventListener("keydown", onKey);
    enabledAt.value = performance.now();
  });
}

async function submit(body) {
  // the server stores a trial's judgment once: retrying after a lost answer is safe
  for (let attempt = 0; ; attempt++) {
    try {
      return await api(`/api/studies/${studyId}/sessions/${session.token}/judgments`,
        { method: "POST", body });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 0 || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }
}

async function runTrial(trial) {
  const stage = $("stage");
  stage.replaceChildren();
  $("feedback").hidden = true;
  $("continue").hidden = true;
  $("answers").replaceChildren();
  const [text, labels, values] = question(trial);
  $("question").textContent = "";
  const images = await Promise.all(trial.images.map(load));   // decoded before the trial
  const slots = images.map((img) => el("div", { class: "slot" }, img));
  for (const img of images) img.style.visibility = "hidden";
  stage.dataset.layout = info.protocol === "single" ? "single" : info.presentation;
  stage.append(...(info.presentation === "side_by_side" || info.protocol === "single" ? slots
    : [slots[0]]));
  const exposures = [];
  const enabledAt = { value: 0 };
  let answer;
  if (info.protocol === "single") {
    // unlimited time: the image stays until the answer; its on-screen time is measured
    let onAt = null;
    await new Promise((resolve) => requestAnimationFrame((ts) => {
      images[0].style.visibility = "visible";
      onAt = ts;
      resolve();
    }));
    $("question").textContent = text;
    answer = await ask(labels, values, enabledAt);
    const offAt = await new Promise((resolve) => requestAnimationFrame((ts) => {
      images[0].style.visibility = "hidden";
      resolve(ts);
    }));
    exposures.push(offAt - onAt);
  } else if (info.presentation === "side_by_side") {
    await nextFrame();
    const shown = await expose(images, info.exposure_ms);
    exposures.push(shown, shown);
  } else {
    exposures.push(await expose([images[0]], info.exposure_ms));
    await blank(info.gap_ms);
    stage.replaceChildren(slots[1]);
    exposures.push(await expose([images[1]], info.exposure_ms));
  }
  if (!answer) {
    $("question").textContent = text;
    answer = await ask(labels, values, enabledAt);
  }
  const ack = await submit({
    position: trial.position, response: answer.response,
    exposures_ms: exposures.map((x) => Math.round(x * 1000) / 1000),
    response_ms: Math.round((answer.at - enabledAt.value) * 1000) / 1000,
  });
  if (ack.feedback) await feedback(ack.feedback);
  return ack;
}

function feedback({ correct, answer }) {
  const box = $("feedback");
  let where;
  if (info.protocol === "single") where = answer === 1 ? "it was fake" : "it was real";
  else if (info.presentation === "side_by_side") where = `the ${answer === 0 ? "left" : "right"} image was fake`;
  else where = `the ${answer === 0 ? "first" : "second"} image was fake`;
  box.textContent = correct ? `Correct: ${where}.` : `Not this time: ${where}.`;
  box.dataset.kind = correct ? "ok" : "bad";
  box.hidden = false;
  const next = $("continue");
  next.hidden = false;
  next.focus();
  return new Promise((resolve) => {
    next.onclick = () => { next.hidden = true; resolve(); };
  });
}

async function run() {
  screen("task");
  let state = await api(`/api/studies/${studyId}/sessions/${session.token}`);
  while (!state.done) {
    const trial = state.trial;
    if (trial.phase === "main" && trial.position === info.practice_trials
        && info.practice_trials > 0) {
      screen("between");
      $("start-main").focus();
      await new Promise((resolve) => { $("start-main").onclick = resolve; });
      screen("task");
    }
    const ack = await runTrial(trial);
    if (ack.done) break;
    state = await api(`/api/studies/${studyId}/sessions/${session.token}`);
  }
  state = await api(`/api/studies/${studyId}/sessions/${session.token}`);
  $("completion-code").textContent = state.completion_code;
  screen("thanks");
}

async function start(participant, token) {
  try {
    session = await api(`/api/studies/${studyId}/sessions`,
      { method: "POST", body: { participant, token } });
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      $("refused-text").textContent = err.message;
      screen("refused");
      return;
    }
    throw err;
  }
  localStorage.setItem(storeKey, JSON.stringify(session));
  await run();
}

function instructions() {
  const box = $("instructions");
  const parts = [];
  if (info.protocol === "single") {
    parts.push("Each trial shows one image. Some are real photographs of the data set, some were made by a computer. Answer whether the image is real or fake; take as long as you need.");
  } else {
    const how = info.presentation === "side_by_side" ? "side by side" : "one after the other";
    parts.push(`Each trial shows two images ${how}, each for ${(info.exposure_ms / 1000).toFixed(1)} seconds. One is real, the other was made by a computer. After they disappear, answer which one was fake; take as long as you need.`);
  }
  if (info.practice_trials) parts.push(`The first ${info.practice_trials} trials are practice: you will be told whether you were right.`);
  parts.push(`Then ${info.main_trials} trials follow without feedback.`);
  box.replaceChildren(...parts.map((p) => el("p", {}, p)));
  if (info.instructions) box.append(el("p", { class: "extra" }, info.instructions));
}

async function main() {
  try {
    [info, frameMs] = await Promise.all([api(`/api/studies/${studyId}/public`), measureFrame()]);
  } catch (err) {
    showBanner(err instanceof ApiError && err.status === 404 ? "This study does not exist." : err.message, "error");
    return;
  }
  const saved = JSON.parse(localStorage.getItem(storeKey) || "null");
  if (saved && saved.token) {
    await start(saved.participant, saved.token);   // a reload: resume where it stopped
    return;
  }
  if (!info.open) {
    showBanner("This study is closed and takes no new participants.", "error");
    return;
  }
  instructions();
  screen("consent");
  $("consent-agree").onclick = () => {
    $("consent-agree").disabled = true;
    start(givenId, null).catch((err) => showBanner(err.message, "error"));
  };
}

main().catch((err) => showBanner(err.message, "error"));
