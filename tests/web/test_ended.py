"""A file camera that ends keeps its last frame on the page, marked "ended", with a Replay button
that plays it again (same camera id and objects). Real browser (Playwright + Debian's Chromium)."""

from __future__ import annotations

import os

import pytest

from tests.web.conftest import Server, still_clip, wait_for
from tests.web.test_browser import browser, page, patch_rgb  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
SCREENSHOT = os.environ.get("FASTSAM_ENDED_SCREENSHOT")  # to look at the page


@pytest.fixture
def ending_server(segmenter, tmp_path):
    from fastsam_video.pipeline import Pipeline
    from fastsam_video.sources import open_source
    from fastsam_video.web.app import create_app
    from fastsam_video.web.imaging import ImageSegmenter
    from fastsam_video.web.service import LiveService

    clip = still_clip(tmp_path, frames=20, fps=10)  # 2 s, then it ends
    pipeline = Pipeline([], segmenter, queue_size=2, stay_open=True)
    live = LiveService(pipeline, lambda spec: open_source(spec, realtime=True), output_dir=tmp_path)
    live.add_camera(str(clip))
    server = Server(create_app(live, ImageSegmenter(segmenter, None)), live)
    yield server
    server.close()


def test_an_ended_file_keeps_its_last_frame_and_replays(ending_server, page):  # noqa: F811
    page.goto(ending_server.url + "/")
    ended = page.locator(".tile .ended")
    wait_for(lambda: ended.is_visible(), 30, "the tile marked ended")
    assert "ended" in ended.inner_text()
    img = page.locator(".tile img").first
    wait_for(lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), 10, "the last frame shown")
    page.wait_for_timeout(1500)  # a later refresh must not blank it
    assert img.evaluate("i => i.naturalWidth") == 416
    assert patch_rgb(page, img, 208, 160, 40).mean() > 20  # a picture, not a black tile
    page.click(".tile .replay")
    wait_for(lambda: not ended.is_visible(), 10, "the camera playing again")
    assert [c.id for c in ending_server.live.cameras()] == [0]  # the same camera id
    wait_for(lambda: ended.is_visible(), 30, "the replay ended too")
    assert ending_server.live.status(0).stats.frames >= 15  # the whole clip again (a fresh count)
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT)
