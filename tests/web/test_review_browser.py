"""The review page in a real browser (Debian's Chromium through Playwright): timelines, thumbnails,
a clicked event's clip playing in the page, marking it reviewed."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.web.conftest import wait_for
from tests.web.test_browser import browser, page  # noqa: F401 (fixtures)
from tests.web.test_review import review_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_review_page_shows_thumbnails_and_plays_a_clip(review_server, page):  # noqa: F811
    base = review_server.url
    wait_for(lambda: httpx.get(base + "/api/cameras").json()[0]["state"] == "running", 30, "the camera running")
    time.sleep(2.0)
    httpx.post(base + "/api/cameras/0/objects", json={"box": [40, 40, 200, 200]}, timeout=10)
    added = wait_for(lambda: next((e for e in httpx.get(base + "/api/events/history?kind=object_added").json()[
        "events"]), None), 20, "the object's event stored")
    time.sleep(3.0)  # some recording after it

    page.goto(base + "/review")
    card = page.locator(f'.card[data-id="{added["id"]}"]')
    card.wait_for(timeout=15000)
    wait_for(lambda: card.locator("img").evaluate("i => i.complete && i.naturalWidth > 0"), 15, "its thumbnail shown")
    assert page.locator(".timeline .mark[data-kind=object_added]").count() >= 1
    assert page.locator(".card").count() >= 1
    assert all("camera_" not in k for k in page.locator(".card b").all_inner_texts())  # alerts only by default

    card.click()
    video = page.locator("#player")
    wait_for(lambda: video.evaluate("v => v.readyState >= 2 && v.currentTime > 0.5 && !v.paused"), 20,
             "the clip playing in the page")
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [320, 240]
    assert video.evaluate("v => v.duration") > 3
    assert page.locator("#error").inner_text() == ""

    page.click("#p-reviewed")
    wait_for(lambda: "reviewed" in (card.get_attribute("class") or ""), 10, "the card marked reviewed")
    assert httpx.get(base + f"/api/events/{added['id']}").json()["reviewed"] is True
    page.select_option("#f-reviewed", "false")
    wait_for(lambda: page.locator(f'.card[data-id="{added["id"]}"]').count() == 0, 10, "reviewed events hidden")
