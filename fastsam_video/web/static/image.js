// The image page: FastSAM's web demo (everything / points / box / text, its sliders), answered
// by POST /api/segment. The model runs once per image and settings; each click reruns only the
// selection. Points and the image id live in this page: nothing is shared between visitors.
"use strict";

const page = { imageId: null, points: [], box: null, last: null };
const $ = (id) => document.getElementById(id);
const mode = () => document.querySelector("input[name=mode]:checked").value;

function bindSlider(id, value) {
  const input = $(id), out = input.nextElementSibling;
  input.value = value;
  out.textContent = input.value;
  input.addEventListener("input", () => { out.textContent = input.value; });
  input.addEventListener("change", run);
}

async function run() {
  if (!page.imageId && !$("file").files.length) return;
  const m = mode();
  if (m === "points" && !page.points.length) return;
  if (m === "box" && !page.box) return;
  const form = new FormData();
  if (page.imageId) form.append("image_id", page.imageId); else form.append("image", $("file").files[0]);
  form.append("mode", m);
  if (m === "points") form.append("points", JSON.stringify(page.points));
  if (m === "box") form.append("box", JSON.stringify(page.box));
  if (m === "text") form.append("text", $("text").value);
  for (const id of ["imgsz", "iou", "conf"]) form.append(id, $(id).value);
  for (const id of ["better_quality", "retina", "contours"]) form.append(id, $(id).checked);
  const t0 = performance.now();
  try {
    showError(null);
    let answer;
    try { answer = await api("POST", "/api/segment", form); }
    catch (err) {
      if (!page.imageId || !/unknown image/.test(err.message)) throw err;
      page.imageId = null;  // left the server's cache: upload it again
      return run();
    }
    page.imageId = answer.image_id;
    show(answer, performance.now() - t0);
  } catch (err) { showError(err); }
}

function show(answer, ms) {
  page.last = answer;
  $("result").style.setProperty("--ar", answer.width / answer.height);
  $("result").src = answer.overlay_png;
  $("result").dataset.masks = answer.masks.length;
  $("status").textContent = `${answer.masks.length} mask(s) · ${answer.width}x${answer.height} · `
    + (answer.cached ? "model output cached" : `model ${answer.model_ms} ms`)
    + ` · selection ${answer.select_ms} ms · round trip ${ms.toFixed(0)} ms`;
  $("dl-overlay").href = answer.overlay_png;
  $("dl-masks").href = answer.labels_png;
  const coco = { images: [{ id: 1, width: answer.width, height: answer.height }],
    annotations: answer.masks.map((m) => ({ id: m.id, image_id: 1, category_id: 1, score: m.score,
      area: m.area, bbox: m.bbox, segmentation: m.rle })) };
  $("dl-coco").href = URL.createObjectURL(new Blob([JSON.stringify(coco)], { type: "application/json" }));
}

$("file").addEventListener("change", () => { page.imageId = null; page.points = []; page.box = null; run(); });
for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", run);
for (const id of ["better_quality", "retina", "contours"]) $(id).addEventListener("change", run);
$("clear").addEventListener("click", () => { page.points = []; document.querySelector("input[value=everything]").click(); });
$("text-form").addEventListener("submit", (e) => {
  e.preventDefault();
  document.querySelector("input[value=text]").checked = true;
  run();
});
pointerPrompts($("result"), $("rubber"), (point, { background }) => {
  const label = background ? 0 : Number(document.querySelector("input[name=label]:checked").value);
  document.querySelector("input[value=points]").checked = true;
  page.points.push([...point, label]);
  run();
}, (box) => {
  document.querySelector("input[value=box]").checked = true;
  page.box = box;
  run();
});

api("GET", "/api/health").then((health) => {
  bindSlider("imgsz", health.model.imgsz);
  bindSlider("iou", health.model.iou);
  bindSlider("conf", health.model.conf);
}).catch(showError);
