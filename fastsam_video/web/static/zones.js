// Zones and lines on the live page: draw a polygon (clicks, double-click closes) or a line (drag)
// over the selected camera, name it, see its counts live, delete it. Uses live.js's `state`.
"use strict";

const zones = { mode: null, points: [], svg: null, list: [] };

function zoneView() {
  const t = state.tiles.get(state.selected);
  return t ? t.el.querySelector(".view") : null;
}

// normalised [x, y] (0-1 of the frame) of a mouse event on the drawing layer
function unitPoint(svg, e) {
  const r = svg.getBoundingClientRect();
  const clamp = (v) => Math.max(0, Math.min(1, v));
  return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
}

function redraw(extra) {
  const pts = extra ? [...zones.points, extra] : zones.points;
  const shape = zones.svg.querySelector(".shape");
  if (zones.mode === "line") {
    const [a, b] = pts.length >= 2 ? [pts[0], pts[pts.length - 1]] : [pts[0] || [0, 0], pts[0] || [0, 0]];
    shape.outerHTML = `<line class="shape" vector-effect="non-scaling-stroke" x1="${a[0]}" y1="${a[1]}" x2="${b[0]}" y2="${b[1]}"/>`;
  } else {
    shape.outerHTML = `<polyline class="shape" vector-effect="non-scaling-stroke" points="${pts.map((p) => p.join(",")).join(" ")}"/>`;
  }
}

function stopDrawing() {
  if (zones.svg) zones.svg.remove();
  zones.svg = null; zones.mode = null; zones.points = [];
  for (const id of ["draw-zone", "draw-line"]) document.getElementById(id).classList.remove("drawing");
}

async function saveZone(body) {
  const cid = state.selected;
  stopDrawing();
  try { showError(null); await api("POST", `/api/cameras/${cid}/zones`, body); } catch (err) { showError(err); }
  refreshZones();
}

function startDrawing(mode) {
  stopDrawing();
  const view = zoneView();
  const name = document.getElementById("zone-name").value.trim();
  if (!view) { showError("add or select a camera first"); return; }
  if (!name) { showError("name the zone or line first (e.g. door)"); return; }
  zones.mode = mode;
  document.getElementById(mode === "line" ? "draw-line" : "draw-zone").classList.add("drawing");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "draw");
  svg.setAttribute("viewBox", "0 0 1 1");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.innerHTML = `<polyline class="shape" vector-effect="non-scaling-stroke"/>`;
  view.appendChild(svg);
  zones.svg = svg;
  svg.addEventListener("contextmenu", (e) => e.preventDefault());
  svg.addEventListener("mousedown", (e) => {
    e.stopPropagation(); e.preventDefault();
    if (mode === "line") { zones.points = [unitPoint(svg, e)]; redraw(); }
  });
  svg.addEventListener("mousemove", (e) => {
    if (mode === "line" && zones.points.length) redraw(unitPoint(svg, e));
    else if (mode === "zone" && zones.points.length) redraw(unitPoint(svg, e));
  });
  svg.addEventListener("mouseup", (e) => {
    e.stopPropagation();
    if (mode !== "line" || !zones.points.length) return;
    const [a, b] = [zones.points[0], unitPoint(svg, e)];
    if (Math.hypot(b[0] - a[0], b[1] - a[1]) < 0.01) { zones.points = []; redraw(); return; }
    saveZone({ name, line: [a, b] });
  });
  svg.addEventListener("click", (e) => {
    e.stopPropagation();
    if (mode === "zone") { zones.points.push(unitPoint(svg, e)); redraw(); }
  });
  svg.addEventListener("dblclick", (e) => {
    e.stopPropagation();
    if (mode !== "zone") return;
    // the double-click's own clicks added its point twice: keep one
    const pts = zones.points.filter((p, i, all) => i === 0 || Math.hypot(p[0] - all[i - 1][0], p[1] - all[i - 1][1]) > 0.005);
    if (pts.length < 3) { showError("a zone needs at least 3 corners: click them, then double-click"); return; }
    saveZone({ name, polygon: pts });
  });
}

async function refreshZones() {
  const list = document.getElementById("zones");
  if (state.selected === null) { list.innerHTML = ""; return; }
  let items;
  try { items = await api("GET", `/api/cameras/${state.selected}/zones`); } catch (err) { return; }
  list.innerHTML = "";
  for (const z of items) {
    const c = z.counts;
    const text = z.kind === "line" ? `in ${c.crossed_in || 0} · out ${c.crossed_out || 0}`
      : `${c.count} inside · ${Math.round(100 * (c.coverage || 0))}% covered`;
    const li = document.createElement("li");
    li.dataset.zone = z.name;
    li.innerHTML = `<b></b><span class="help">${z.kind}</span><span class="count">${text}</span>
      <button title="delete" style="margin-left:auto">✕</button>`;
    li.querySelector("b").textContent = z.name;
    li.querySelector("button").addEventListener("click", async () => {
      try { await api("DELETE", `/api/cameras/${state.selected}/zones/${encodeURIComponent(z.name)}`); }
      catch (err) { showError(err); }
      refreshZones();
    });
    list.appendChild(li);
  }
}

document.getElementById("draw-zone").addEventListener("click", () => startDrawing("zone"));
document.getElementById("draw-line").addEventListener("click", () => startDrawing("line"));
window.addEventListener("keydown", (e) => { if (e.key === "Escape") stopDrawing(); });
refreshZones();
setInterval(refreshZones, 1000);
