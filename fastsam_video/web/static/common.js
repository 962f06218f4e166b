// Shared by the pages: the header's links, JSON requests with one-line errors shown in #error,
// mouse prompts on an image.
"use strict";

(function nav() {
  const links = [["/", "Live"], ["/review", "Review"], ["/image", "Image"], ["/docs", "API"]].map(([href, text]) =>
    `<a href="${href}"${href === location.pathname ? ' class="here"' : ""}>${text}</a>`).join("");
  document.getElementById("nav").insertAdjacentHTML("afterbegin", `<h1>fastsam-video</h1>${links}`);
})();

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.error) || `${method} ${path}: HTTP ${response.status}`);
  return data;
}

function showError(err) {
  document.getElementById("error").textContent = err ? String(err.message || err) : "";
}

// Pixel coordinates in the image's own resolution of a mouse event on a displayed <img>.
function imagePoint(img, event) {
  const rect = img.getBoundingClientRect();
  return [Math.round((event.clientX - rect.left) * img.naturalWidth / rect.width),
          Math.round((event.clientY - rect.top) * img.naturalHeight / rect.height)];
}

// click / drag on an <img>: calls onPoint([x, y], {background: shift or right click, add: ctrl click})
// or onBox([x1, y1, x2, y2]).
function pointerPrompts(img, rubber, onPoint, onBox) {
  let start = null, startClient = null;
  img.addEventListener("contextmenu", (e) => e.preventDefault());
  img.addEventListener("dragstart", (e) => e.preventDefault());
  img.addEventListener("mousedown", (e) => {
    start = imagePoint(img, e); startClient = [e.clientX, e.clientY];
  });
  img.addEventListener("mousemove", (e) => {
    if (!start) return;
    const rect = img.getBoundingClientRect();
    const [x0, y0] = [startClient[0] - rect.left, startClient[1] - rect.top];
    const [x1, y1] = [e.clientX - rect.left, e.clientY - rect.top];
    Object.assign(rubber.style, { display: "block", left: Math.min(x0, x1) + "px", top: Math.min(y0, y1) + "px",
      width: Math.abs(x1 - x0) + "px", height: Math.abs(y1 - y0) + "px" });
  });
  window.addEventListener("mouseup", (e) => {
    if (!start) return;
    const end = imagePoint(img, e);
    const moved = Math.hypot(e.clientX - startClient[0], e.clientY - startClient[1]);
    const first = start;
    start = null; rubber.style.display = "none";
    if (moved > 6) {
      const [w, h] = [img.naturalWidth, img.naturalHeight];
      const clamp = (v, m) => Math.max(0, Math.min(v, m));
      onBox([clamp(Math.min(first[0], end[0]), w), clamp(Math.min(first[1], end[1]), h),
             clamp(Math.max(first[0], end[0]), w), clamp(Math.max(first[1], end[1]), h)]);
    } else if (e.target === img) {
      onPoint(first, { background: e.shiftKey || e.button === 2, add: e.ctrlKey });
    }
  });
}
