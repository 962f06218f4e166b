"""Writes docs/web-live.png and docs/web-image.png: the pages in Chromium on the bundled model.

    uv run python -m tests.web.make_screenshots
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.web.conftest import OBJECT_POINT, STILL, make_server, still_clip, wait_for


def main() -> None:
    from playwright.sync_api import sync_playwright

    from fastsam_video.engines.pytorch import Segmenter
    from fastsam_video.web.server import DEMO_CLIP

    tmp = Path(tempfile.mkdtemp())
    server = make_server(Segmenter(device="cpu"), tmp, sources=[DEMO_CLIP, still_clip(tmp)])
    try:
        api = httpx.Client(base_url=server.url, timeout=30)
        wait_for(lambda: all(c["state"] == "running" for c in api.get("/api/cameras").json()), 60, "cameras running")
        api.post("/api/cameras/1/objects", json={"points": [[*OBJECT_POINT, 1]]})
        api.post("/api/cameras/1/objects", json={"box": [0, 150, 115, 320]})
        api.put("/api/cameras/1/everything", json={"on": False})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 640})
            page.goto(server.url + "/")
            page.wait_for_timeout(1500)
            page.click(".tile[data-camera='1'] .title")
            page.wait_for_timeout(2500)
            page.screenshot(path=str(ROOT / "docs" / "web-live.png"))
            page.goto(server.url + "/image")
            page.wait_for_function("document.getElementById('imgsz').value !== ''")
            page.set_input_files("#file", str(STILL))
            page.wait_for_selector("#result[data-masks]")
            result = page.locator("#result")
            box = result.bounding_box()
            natural = result.evaluate("i => [i.naturalWidth, i.naturalHeight]")
            scale = box["width"] / natural[0]
            for x, y in (OBJECT_POINT, (40, 225)):
                result.evaluate("i => delete i.dataset.masks")
                page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
                page.wait_for_selector("#result[data-masks]")
            time.sleep(0.5)
            page.screenshot(path=str(ROOT / "docs" / "web-image.png"))
            browser.close()
        print(json.dumps(api.get("/api/cameras").json(), indent=1)[:400])
    finally:
        server.close()


if __name__ == "__main__":
    main()
