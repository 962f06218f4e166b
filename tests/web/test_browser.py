"""The pages in a real browser: Playwright driving Debian's Chromium (no browser download)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.web.conftest import OBJECT_POINT, STILL, wait_for

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (Debian package `chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    yield page
    page.close()


def click_on_frame(page, img, x: float, y: float) -> None:
    """A click on frame pixel (x, y) of the displayed image."""
    box = img.bounding_box()
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    page.mouse.click(box["x"] + x * box["width"] / natural[0], box["y"] + y * box["height"] / natural[1])


def patch_rgb(page, img, x: float, y: float, size: int = 6) -> np.ndarray:
    """Mean RGB of a small patch of the displayed image around frame pixel (x, y)."""
    import cv2

    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    png = img.screenshot()
    shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    sx, sy = shot.shape[1] / natural[0], shot.shape[0] / natural[1]
    cx, cy = int(x * sx), int(y * sy)
    return shot[cy - size:cy + size, cx - size:cx + size].reshape(-1, 3).mean(0)


def test_live_page_click_makes_an_object_with_its_overlay(server, page):
    from fastsam_video.render import color_of

    posted = []  # the page sends the time of the frame it showed with the prompt (issue 21)
    page.on("request", lambda r: posted.append(r.post_data) if r.method == "POST" and r.url.endswith("/objects")
            else None)
    page.goto(server.url + "/")
    img = page.locator(".tile img").first
    wait_for(lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), 30, "the MJPEG stream shown")
    page.click("#everything")  # plain video first: the object's own colour
    wait_for(lambda: page.locator("#everything").get_attribute("class") in ("", None), 10, "everything off")
    page.wait_for_timeout(1000)
    before = patch_rgb(page, img, *OBJECT_POINT)
    click_on_frame(page, img, *OBJECT_POINT)
    item = page.locator("#objects li").first
    wait_for(lambda: "tracked" in item.inner_text(), 30, "the object tracked in the list")
    assert item.get_attribute("data-object") == "1"
    assert len(posted) == 1 and isinstance(json.loads(posted[0])["pts"], float)
    overlay = np.array(color_of(1)[::-1], float)  # RGB
    expected = 0.5 * before + 0.5 * overlay  # the mask blended at alpha 0.5
    def overlaid():
        patch = patch_rgb(page, img, *OBJECT_POINT)
        return patch if np.abs(patch - expected).sum() < np.abs(before - expected).sum() / 2 else None

    after = wait_for(overlaid, 20, "the object's overlay in the video")
    assert np.abs(after - expected).sum() < 60
    item.locator("button").click()
    wait_for(lambda: page.locator("#objects li").count() == 0, 10, "the object removed")
    page.click("#everything")


def test_image_page_segments_an_upload_in_each_mode(server, page):
    page.goto(server.url + "/image")
    page.wait_for_function("document.getElementById('imgsz').value !== ''")
    page.set_input_files("#file", str(STILL))
    result = page.locator("#result")
    masks = lambda: int(result.get_attribute("data-masks") or -1)  # noqa: E731
    wait_for(lambda: masks() >= 3, 90, "everything mode answered")
    assert page.locator("#dl-overlay").get_attribute("href").startswith("data:image/png")
    assert page.locator("#dl-coco").get_attribute("href").startswith("blob:")
    box = result.bounding_box()
    natural = result.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    sx, sy = box["width"] / natural[0], box["height"] / natural[1]
    x, y = box["x"] + OBJECT_POINT[0] * sx, box["y"] + OBJECT_POINT[1] * sy
    page.mouse.click(x, y)  # points mode
    wait_for(lambda: masks() == 1 and "cached" in page.inner_text("#status"), 60, "points mode answered")
    result.evaluate("i => i.dataset.masks = -1")
    page.mouse.move(x - 45 * sx, y - 45 * sy)  # box mode: a drag around the disc
    page.mouse.down()
    page.mouse.move(x + 45 * sx, y + 45 * sy, steps=5)
    page.mouse.up()
    wait_for(lambda: masks() == 1, 60, "box mode answered")
    assert page.is_checked("input[value=box]")
    result.evaluate("i => i.dataset.masks = -1")
    page.fill("#text", "a purple disc")
    page.click("#text-form button")
    wait_for(lambda: masks() == 1, 60, "text mode answered")
    assert page.inner_text("#error") == ""


def test_live_page_draws_a_zone_and_shows_its_zone_entered_event(server, page):
    page.goto(server.url + "/")
    img = page.locator(".tile img").first
    wait_for(lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), 30, "the MJPEG stream shown")
    box = img.bounding_box()
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")

    def screen(x, y):  # frame pixels -> page coordinates
        return box["x"] + x * box["width"] / natural[0], box["y"] + y * box["height"] / natural[1]

    page.mouse.click(*screen(*OBJECT_POINT))  # the object to count
    wait_for(lambda: "tracked" in page.locator("#objects li").first.inner_text(), 30, "the object tracked")
    page.fill("#zone-name", "door")
    page.click("#draw-zone")
    x, y = OBJECT_POINT
    corners = [(x - 80, y - 80), (x + 80, y - 80), (x + 80, y + 80), (x - 80, y + 80)]
    for corner in corners:
        page.mouse.click(*screen(*corner))
    page.mouse.dblclick(*screen(*corners[-1]))
    zone = page.locator("#zones li[data-zone=door]")
    wait_for(lambda: zone.count() == 1, 10, "the zone listed")
    wait_for(lambda: "object 1 entered door" in page.locator("#events").inner_text(), 30, "zone_entered on the page")
    wait_for(lambda: "1 inside" in zone.inner_text(), 10, "the zone's count live")
    # the server drew it into the video: the outline (red: something inside) at the zone's top edge
    edge = patch_rgb(page, img, x, y - 80, size=2)
    assert edge[0] > 150 and edge[2] < 120, edge
    zones = server.live.zones(0)
    assert zones[0]["polygon"] == [[pytest.approx(cx / natural[0], abs=0.01), pytest.approx(cy / natural[1], abs=0.01)]
                                   for cx, cy in corners]
    # a line by a drag, from its first point to its second
    page.fill("#zone-name", "gate")
    page.click("#draw-line")
    page.mouse.move(*screen(x, y + 100))
    page.mouse.down()
    page.mouse.move(*screen(x, y - 20), steps=5)
    page.mouse.move(*screen(x, y - 100), steps=5)
    page.mouse.up()
    wait_for(lambda: page.locator("#zones li[data-zone=gate]").count() == 1, 10, "the line listed")
    start, end = server.live.zones(0)[1]["line"]
    assert start[1] > end[1] and start[0] == pytest.approx(x / natural[0], abs=0.01)
    page.locator("#zones li[data-zone=gate] button").click()
    zone.locator("button").click()
    wait_for(lambda: page.locator("#zones li").count() == 0, 10, "the zone deleted")
    page.locator("#objects li").first.locator("button").click()
    wait_for(lambda: page.locator("#objects li").count() == 0, 10, "the object removed")
