// The review page: per camera a timeline of the last 24 h (markers by kind), the stored events as
// thumbnails (filters, older pages), the clip of the clicked one in the player, mark reviewed.
"use strict";

const $ = (id) => document.getElementById(id);
const DAY = 86400;
const state = { kinds: [], cameras: {}, before: null, selected: null };
const COLORS = { object_added: "#4caf50", object_lost: "#f44336", object_reacquired: "#2196f3",
  object_dropped: "#9e9e9e", zone_entered: "#ffb300", zone_left: "#8d6e63", line_crossed: "#e040fb",
  loitering: "#ff5722" };
const colorOf = (kind) => COLORS[kind] || "#78909c";
const isAlert = (kind) => !/^(camera_|recording_|sink_)/.test(kind);

function filters() {
  const p = new URLSearchParams({ limit: "40" });
  if ($("f-camera").value) p.set("camera", $("f-camera").value);
  const kind = $("f-kind").value;
  if (kind === "alerts") p.set("kind", state.kinds.filter(isAlert).join(","));
  else if (kind) p.set("kind", kind);
  if ($("f-zone").value.trim()) p.set("zone", $("f-zone").value.trim());
  if ($("f-reviewed").value) p.set("reviewed", $("f-reviewed").value);
  return p;
}

function when(t) { return new Date(t * 1000).toLocaleString(); }

function card(e) {
  const li = document.createElement("li");
  li.dataset.id = e.id;
  li.className = "card" + (e.reviewed ? " reviewed" : "");
  const who = e.object_id != null ? `object ${e.object_id}` : "";
  const where = e.zone ? ` · ${e.zone}${e.direction ? " " + e.direction : ""}` : "";
  li.innerHTML = `<img alt="" loading="lazy"><div><b style="color:${colorOf(e.kind)}">${e.kind}</b>
    <div>${state.cameras[e.camera] || "camera " + e.camera} ${who}${where}</div>
    <div class="help">${when(e.wall_time)}${e.has_clip ? "" : " · no clip"}</div></div>`;
  const img = li.querySelector("img");
  img.src = `/api/events/${e.id}/thumbnail.jpg`;
  img.onerror = () => { if (!img.dataset.retried) { img.dataset.retried = 1; setTimeout(() => { img.src += "?r"; }, 1500); } };
  li.addEventListener("click", () => select(e));
  return li;
}

async function load(more) {
  try {
    const p = filters();
    if (more && state.before) p.set("before_id", state.before);
    const page = await api("GET", "/api/events/history?" + p);
    if (!more) $("cards").replaceChildren();
    for (const e of page.events) $("cards").appendChild(card(e));
    state.before = page.next_before_id;
    $("more").hidden = !state.before;
    showError(null);
  } catch (err) { showError(err); }
}

async function timelines() {
  try {
    const t = await api("GET", "/api/events/timeline");
    const span = t.until - t.since;
    const box = $("timelines");
    box.replaceChildren();
    const cams = new Set([...Object.keys(state.cameras).map(Number), ...t.marks.map((m) => m.camera)]);
    for (const cam of [...cams].sort((a, b) => a - b)) {
      const row = document.createElement("div");
      row.className = "timeline";
      row.innerHTML = `<span class="label">${state.cameras[cam] || "camera " + cam}</span><div class="bar"></div>`;
      const bar = row.querySelector(".bar");
      for (const m of t.marks.filter((m) => m.camera === cam && isAlert(m.kind))) {
        const mark = document.createElement("span");
        mark.className = "mark";
        mark.dataset.kind = m.kind;
        mark.style.left = (100 * (m.t - t.since) / span) + "%";
        mark.style.background = colorOf(m.kind);
        mark.title = `${m.count} × ${m.kind} around ${new Date(m.t * 1000).toLocaleTimeString()}`;
        mark.addEventListener("click", async () => select(await api("GET", `/api/events/${m.id}`)));
        bar.appendChild(mark);
      }
      for (let h = 0; h <= 24; h += 6) {  // hour ticks: -24 h ... now
        const tick = document.createElement("span");
        tick.className = "tick";
        tick.style.left = (100 * h / 24) + "%";
        tick.textContent = h === 24 ? "now" : `-${24 - h}h`;
        bar.appendChild(tick);
      }
      box.appendChild(row);
    }
  } catch (err) { showError(err); }
}

function select(e) {
  state.selected = e;
  document.querySelectorAll(".card").forEach((c) => c.classList.toggle("selected", c.dataset.id == e.id));
  $("p-title").textContent = `${e.kind} · ${state.cameras[e.camera] || "camera " + e.camera}`;
  $("p-info").textContent = `${when(e.wall_time)} · ${e.message}` + (e.has_clip ? "" : " · no recording of it");
  $("p-reviewed").disabled = false;
  $("p-reviewed").textContent = e.reviewed ? "Mark not reviewed" : "Mark reviewed";
  $("p-snapshot").hidden = false;
  $("p-snapshot").href = `/api/events/${e.id}/snapshot.jpg`;
  const player = $("player");
  if (e.has_clip) {
    player.poster = `/api/events/${e.id}/snapshot.jpg`;
    player.src = `/api/events/${e.id}/clip.mp4`;
    player.play().catch(() => {});
  } else {
    player.removeAttribute("src");
    player.poster = `/api/events/${e.id}/snapshot.jpg`;
    player.load();
  }
}

$("player").addEventListener("error", () => {
  if ($("player").getAttribute("src")) showError(new Error("the clip could not be played (its recording may be gone)"));
});

$("p-reviewed").addEventListener("click", async () => {
  const e = state.selected;
  try {
    const updated = await api("POST", `/api/events/${e.id}/reviewed`, { reviewed: !e.reviewed });
    state.selected = updated;
    $("p-reviewed").textContent = updated.reviewed ? "Mark not reviewed" : "Mark reviewed";
    const li = document.querySelector(`.card[data-id="${e.id}"]`);
    if (li) li.classList.toggle("reviewed", updated.reviewed);
  } catch (err) { showError(err); }
});

for (const id of ["f-camera", "f-kind", "f-reviewed"]) $(id).addEventListener("change", () => load(false));
$("f-zone").addEventListener("change", () => load(false));
$("more").addEventListener("click", () => load(true));

function live() {  // new events at the top while the page is open
  const source = new EventSource("/api/events");
  source.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.id == null || !new Set(filters().get("kind")?.split(",") ?? [e.kind]).has(e.kind)) return;
    const cam = $("f-camera").value;
    if ((cam && Number(cam) !== e.camera) || $("f-reviewed").value === "true") return;
    if ($("f-zone").value.trim() && e.zone !== $("f-zone").value.trim()) return;
    $("cards").prepend(card({ ...e, reviewed: false, has_clip: true }));
  };
}

(async function start() {
  try {
    state.kinds = (await api("GET", "/api/events/kinds")).kinds;
    for (const c of await api("GET", "/api/cameras")) {
      state.cameras[c.id] = c.name;
      $("f-camera").insertAdjacentHTML("beforeend", `<option value="${c.id}">${c.name}</option>`);
    }
    for (const k of state.kinds) $("f-kind").insertAdjacentHTML("beforeend", `<option value="${k}">${k}</option>`);
  } catch (err) { showError(err); }
  await Promise.all([load(false), timelines()]);
  setInterval(timelines, 60000);
  live();
})();
