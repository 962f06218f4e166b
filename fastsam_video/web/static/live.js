// The live page: a grid of cameras (MJPEG), prompts by mouse and text, objects, recording, events.
"use strict";

const state = { cameras: [], selected: null, objects: [], selectedObject: null, tiles: new Map() };

function tile(camera) {
  let t = state.tiles.get(camera.id);
  if (t) return t;
  const el = document.createElement("div");
  el.className = "tile";
  el.dataset.camera = camera.id;
  el.innerHTML = `<div class="title"><b class="name"></b><span class="stats"></span></div>
    <div class="view"><img alt="camera ${camera.id}" src="/api/cameras/${camera.id}/stream.mjpg"><div class="rubber"></div>
    <div class="ended" hidden><span>ended</span><button class="replay">Replay</button></div></div>
    <div class="playback" hidden>
      <button class="step-back" title="one frame back (Left)">&#10073;&#9664;</button>
      <button class="play" title="play / pause (Space)">&#10074;&#10074;</button>
      <button class="step-forward" title="one frame forward (Right)">&#9654;&#10073;</button>
      <input class="seek" type="range" min="0" max="0" value="0" step="1" aria-label="seek">
      <span class="position"></span></div>`;
  const img = el.querySelector("img");
  el.querySelector(".replay").addEventListener("click", async (e) => {
    e.stopPropagation();
    await send(() => api("POST", `/api/cameras/${camera.id}/replay`));
    refreshCameras();
  });
  el.addEventListener("mousedown", () => select(camera.id));
  img.addEventListener("mousedown", () => noteShownPts(camera.id));
  pointerPrompts(img, el.querySelector(".rubber"),
    (point, how) => pointPrompt(camera.id, point, how),
    async (box) => send(async () => api("POST", `/api/cameras/${camera.id}/objects`, { box, pts: await shownPts.get(camera.id) })));
  document.getElementById("grid").appendChild(el);
  t = { el, img, ended: false, playback: null, seeking: false };
  playbackControls(camera.id, t);
  state.tiles.set(camera.id, t);
  return t;
}

// The time of the frame on screen when the mouse went down (the stream lags the camera): the
// prompt is resolved on that frame, then carried to the present.
const shownPts = new Map();
function noteShownPts(cid) {
  shownPts.set(cid, fetch(`/api/cameras/${cid}/snapshot.jpg`)
    .then((r) => parseFloat(r.headers.get("X-Frame-Pts")))
    .then((v) => (Number.isFinite(v) ? v : undefined), () => undefined));
}

async function send(request) {
  try { showError(null); const out = await request(); await refreshObjects(); return out; }
  catch (err) { showError(err); }
}

async function pointPrompt(cid, [x, y], { background, add }) {
  const chosen = state.objects.find((o) => o.id === state.selectedObject && o.prompt.points);
  if (background || (chosen && add)) {
    if (!chosen) { showError("select a point-prompted object first (click it in the list)"); return; }
    const points = [...chosen.prompt.points, [x, y, background ? 0 : 1]];
    const pts = await shownPts.get(cid);
    await send(() => api("PUT", `/api/cameras/${cid}/objects/${chosen.id}`, { points, pts }));
    return;
  }
  const pts = await shownPts.get(cid);
  const out = await send(() => api("POST", `/api/cameras/${cid}/objects`, { points: [[x, y, 1]], pts }));
  if (out) { state.selectedObject = out.id; await refreshObjects(); }
}

function select(cid) {
  if (state.selected === cid) return;
  state.selected = cid;
  state.selectedObject = null;
  for (const [id, t] of state.tiles) t.el.classList.toggle("selected", id === cid);
  refreshObjects();
  renderPanel();
}

function renderPanel() {
  const camera = state.cameras.find((c) => c.id === state.selected);
  document.getElementById("selected-name").textContent = camera ? `Camera ${camera.id}: ${camera.name}` : "No camera";
  const rec = document.getElementById("record");
  rec.textContent = camera && camera.recording ? `Stop recording (${camera.recording})` : "Record";
  rec.classList.toggle("on", !!(camera && camera.recording));
  document.getElementById("everything").classList.toggle("on", !!(camera && camera.everything));
}

async function refreshCameras() {
  try { state.cameras = await api("GET", "/api/cameras"); } catch (err) { showError(err); return; }
  const ids = new Set(state.cameras.map((c) => c.id));
  for (const [id, t] of state.tiles) if (!ids.has(id)) { t.img.src = ""; t.el.remove(); state.tiles.delete(id); }
  for (const camera of state.cameras) {
    const t = tile(camera);
    t.el.querySelector(".name").textContent = `${camera.id}: ${camera.name}`;
    t.el.querySelector(".stats").textContent = `${camera.state}${camera.error ? " (" + camera.error + ")" : ""} · `
      + `${camera.fps} fps · ${camera.latency_ms} ms · dropped ${camera.dropped}`
      + (camera.connection ? ` · ${camera.connection}` : "") + (camera.recording ? " · ● REC" : "");
    showEnded(t, camera);
    if (!t.seeking) { t.playback = camera.playback; showPosition(t, camera.playback); }
  }
  if (state.selected === null || !ids.has(state.selected)) select(state.cameras.length ? state.cameras[0].id : null);
  renderPanel();
}

// A file camera's player: pause / play, a frame back / forward, the seek bar with the frame number
// and time (the keyboard: Space, Left, Right on the selected camera).
function playbackControls(cid, t) {
  const bar = t.el.querySelector(".playback"), seek = bar.querySelector(".seek");
  const click = (selector, command) => bar.querySelector(selector).addEventListener("click", (e) => {
    e.currentTarget.blur();  // Space stays the page's play / pause, not a click on the focused button
    playback(cid, command());
  });
  click(".play", () => ({ action: t.playback && t.playback.paused ? "play" : "pause" }));
  click(".step-back", () => ({ action: "step", delta: -1 }));
  click(".step-forward", () => ({ action: "step", delta: 1 }));
  let wanted = null, busy = false;  // dragging: one seek in flight, then the newest position
  seek.addEventListener("input", async () => {
    t.seeking = true;
    wanted = Number(seek.value);
    showPosition(t, { ...t.playback, frame: wanted, time: null });
    if (busy) return;
    busy = true;
    while (wanted !== null) { const frame = wanted; wanted = null; await playback(cid, { action: "seek", frame }); }
    busy = false;
    t.seeking = false;
  });
  seek.addEventListener("keydown", (e) => e.preventDefault());  // the page's keys, not the slider's
}

async function playback(cid, command) {
  const t = state.tiles.get(cid);
  const position = await send(() => api("POST", `/api/cameras/${cid}/playback`, command));
  if (position && t) { t.playback = position; showPosition(t, position); }
  return position;
}

function clock(seconds) {
  const m = Math.floor(seconds / 60), s = seconds - 60 * m;
  return `${m}:${s.toFixed(2).padStart(5, "0")}`;
}

function showPosition(t, p) {
  const bar = t.el.querySelector(".playback");
  bar.hidden = !p;
  if (!p) return;
  bar.querySelector(".play").innerHTML = p.paused ? "&#9654;" : "&#10074;&#10074;";
  bar.querySelector(".play").title = p.paused ? "play (Space)" : "pause (Space)";
  const seek = bar.querySelector(".seek");
  seek.max = p.frames - 1;
  if (!t.seeking || p.time === null) seek.value = p.frame;
  bar.querySelector(".position").textContent = `frame ${p.frame} / ${p.frames - 1}`
    + (p.time === null ? "" : ` · ${clock(p.time)} / ${clock(p.duration)}`) + (p.paused ? (p.frame >= p.frames - 1 ? " · ended, paused" : " · paused") : "");
}

document.addEventListener("keydown", (e) => {
  const target = e.target;
  if ((target.tagName === "INPUT" && target.type !== "range") || target.tagName === "TEXTAREA"
      || target.tagName === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = state.tiles.get(state.selected);
  if (!t || !t.playback) return;
  const command = { " ": { action: t.playback.paused ? "play" : "pause" },
                    ArrowLeft: { action: "step", delta: -1 }, ArrowRight: { action: "step", delta: 1 } }[e.key];
  if (!command) return;
  e.preventDefault();
  playback(state.selected, command);
});

function showEnded(t, camera) {
  // a file that ended: its last frame stays (the snapshot, not a stream that sends nothing more)
  const ended = camera.state === "ended";
  if (ended === t.ended) return;
  t.ended = ended;
  t.el.querySelector(".ended").hidden = !ended;
  t.img.src = `/api/cameras/${camera.id}/${ended ? "snapshot.jpg" : "stream.mjpg"}?t=${Date.now()}`;
}

async function refreshObjects() {
  const list = document.getElementById("objects");
  if (state.selected === null) { list.innerHTML = ""; return; }
  try { state.objects = await api("GET", `/api/cameras/${state.selected}/objects`); }
  catch (err) { showError(err); return; }
  list.innerHTML = "";
  for (const o of state.objects) {
    const li = document.createElement("li");
    li.dataset.object = o.id;
    li.classList.toggle("selected", o.id === state.selectedObject);
    const kind = Object.keys(o.prompt)[0];
    li.innerHTML = `<span class="swatch" style="background:${o.color}"></span><b>${o.id}</b>
      <span class="state-${o.state}">${o.state}</span><span class="help">${kind}</span>
      <button title="remove" style="margin-left:auto">✕</button>`;
    li.addEventListener("click", () => { state.selectedObject = o.id; refreshObjects(); });
    li.querySelector("button").addEventListener("click", (e) => {
      e.stopPropagation();
      send(() => api("DELETE", `/api/cameras/${state.selected}/objects/${o.id}`));
    });
    list.appendChild(li);
  }
}

function logEvent(event) {
  const box = document.getElementById("events");
  const time = new Date(event.wall_time * 1000).toLocaleTimeString();
  box.textContent = `${time} camera ${event.camera}: ${event.message}\n` + box.textContent.slice(0, 5000);
  if (event.camera === state.selected && event.object_id !== null) refreshObjects();
}

document.getElementById("add-camera").addEventListener("submit", async (e) => {
  e.preventDefault();
  const source = document.getElementById("source").value.trim();
  const out = await send(() => api("POST", "/api/cameras", { source }));
  if (out) { await refreshCameras(); select(out.id); }
});
document.getElementById("text-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (state.selected === null) return;
  const text = document.getElementById("text").value;
  send(() => api("POST", `/api/cameras/${state.selected}/objects`, { text }));
});
document.getElementById("everything").addEventListener("click", async () => {
  const camera = state.cameras.find((c) => c.id === state.selected);
  if (!camera) return;
  await send(() => api("PUT", `/api/cameras/${camera.id}/everything`, { on: !camera.everything }));
  refreshCameras();
});
document.getElementById("record").addEventListener("click", async () => {
  const camera = state.cameras.find((c) => c.id === state.selected);
  if (!camera) return;
  await send(() => api(camera.recording ? "DELETE" : "POST", `/api/cameras/${camera.id}/recording`));
  refreshCameras();
});
document.getElementById("remove-camera").addEventListener("click", async () => {
  if (state.selected === null) return;
  await send(() => api("DELETE", `/api/cameras/${state.selected}`));
  refreshCameras();
});

new EventSource("/api/events").onmessage = (e) => logEvent(JSON.parse(e.data));
refreshCameras();
setInterval(refreshCameras, 1000);
