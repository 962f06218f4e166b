"""The live page's player for a file camera (issue 26), in a real browser (Playwright + Debian's
Chromium): pause, seek with the bar, click a point on the paused frame (its mask drawn on that
frame at once, the object prompted at that frame's pts), a frame back with the Left key."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from fastsam_video.sources.seeking import SeekableVideo
from tests.media import marked_frame, write_marked_clip
from tests.web.conftest import OBJECT_POINT, STILL, make_server, wait_for
from tests.web.test_browser import browser, click_on_frame, page, patch_rgb  # noqa: F401  (fixtures)
from tests.web.test_playback_api import playback_opener

pytestmark = pytest.mark.browser
SCREENSHOT = os.environ.get("FASTSAM_PLAYBACK_SCREENSHOT")  # to look at the page
FRAMES = 30


@pytest.fixture(scope="module")
def player(segmenter, tmp_path_factory):
    folder = tmp_path_factory.mktemp("player-page")
    clip = write_marked_clip(folder / "marked.mp4", cv2.imread(str(STILL)), FRAMES)
    srv = make_server(segmenter, folder, open_source=playback_opener, sources=[clip])
    srv.clip = clip
    yield srv
    srv.close()


def frame_on_screen(img) -> int:
    """The frame number the page shows: the mark read off the displayed picture."""
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    shot = cv2.imdecode(np.frombuffer(img.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    return marked_frame(cv2.resize(shot, tuple(natural), interpolation=cv2.INTER_AREA))


def test_pause_seek_prompt_on_the_paused_frame_and_step_back(player, page):  # noqa: F811
    from fastsam_video.render import color_of

    page.goto(player.url + "/")
    img = page.locator(".tile img").first
    bar, label = page.locator(".tile .playback"), page.locator(".tile .playback .position")
    wait_for(lambda: bar.is_visible() and img.evaluate("i => i.complete && i.naturalWidth > 0"), 30,
             "the player bar and the picture")
    page.click("#everything")  # plain video: the object's own colour
    wait_for(lambda: player.live.status(0).playback.paused, 30, "the file played to its end, where it pauses")
    wait_for(lambda: "frame 29 / 29" in label.inner_text() and "ended, paused" in label.inner_text(), 10, "paused at the end")
    page.click(".tile .playback .play")  # play: from the start again
    wait_for(lambda: "paused" not in label.inner_text(), 10, "playing")
    page.click(".tile .playback .play")  # pause
    wait_for(lambda: "paused" in label.inner_text() and player.live.status(0).playback.paused, 10, "paused")
    page.locator(".tile .playback .seek").fill("12")
    wait_for(lambda: label.inner_text().startswith("frame 12 / 29 ·"), 10, "the bar at frame 12")
    wait_for(lambda: frame_on_screen(img) == 12, 20, "frame 12 on the screen")

    before = patch_rgb(page, img, *OBJECT_POINT)
    click_on_frame(page, img, *OBJECT_POINT)
    item = page.locator("#objects li").first
    wait_for(lambda: item.count() and "tracked" in item.inner_text(), 30, "the object tracked in the list")
    expected = 0.5 * before + 0.5 * np.array(color_of(1)[::-1], float)  # the mask blended at alpha 0.5, RGB
    wait_for(lambda: np.abs(patch_rgb(page, img, *OBJECT_POINT) - expected).sum() < 60, 20,
             "the object's mask drawn on the paused frame")
    assert frame_on_screen(img) == 12 and "frame 12 / 29" in label.inner_text()  # still the paused frame
    with SeekableVideo(player.clip) as reference:
        listed = player.live.objects(0)[0]
        assert listed["pts"] == pytest.approx(reference.times[12], abs=1e-6)  # prompted on the frame it showed

    page.keyboard.press("ArrowLeft")
    wait_for(lambda: label.inner_text().startswith("frame 11 / 29"), 10, "the bar at frame 11")
    wait_for(lambda: frame_on_screen(img) == 11, 20, "frame 11 on the screen")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT)
    page.keyboard.press(" ")  # Space: play on
    wait_for(lambda: "paused" not in label.inner_text() or player.live.status(0).playback.frame > 11, 10,
             "playing again")
