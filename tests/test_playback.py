"""A file camera under playback control in the pipeline (issue 26): pause keeps the frame shown,
a step or a seek delivers exactly that frame (number and content) through the model and tracker,
a prompt while paused shows its mask on the paused frame at once; live sources refuse."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from fastsam_video.pipeline import Pipeline
from fastsam_video.sources.playback import (NotPlayable, PlaybackCommand, PlaybackError, PlaybackSource)
from fastsam_video.sources.seeking import SeekableVideo
from fastsam_video.tracker import ObjectPrompt, PromptSet
from fastsam_video.types import FastSAMVideoError
from tests.media import marked_frame, write_marked_clip
from tests.test_seeking import vfr_file  # noqa: F401  (fixture)
from tests.web.conftest import OBJECT_POINT, STILL

FRAMES = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_marked_clip(tmp_path_factory.mktemp("playback") / "marked.mp4", cv2.imread(str(STILL)), FRAMES)


class Shown:
    """The pipeline's results, as a display sees them."""

    def __init__(self):
        self.latest = None
        self.changed = threading.Condition()

    def __call__(self, result):
        with self.changed:
            self.latest = result
            self.changed.notify_all()

    def wait(self, predicate, timeout=20.0, what="a result"):
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.latest is None or not predicate(self.latest):
                left = deadline - time.monotonic()
                assert left > 0, f"{what} not shown within {timeout:.0f} s"
                self.changed.wait(left)
            return self.latest


def test_pause_step_seek_and_a_prompt_on_the_paused_frame(segmenter, clip):
    shown = Shown()
    source = PlaybackSource(clip)
    pipeline = Pipeline(source, segmenter, PromptSet(everything=False), on_result=shown, stay_open=True)
    with SeekableVideo(clip) as reference, pipeline:
        playback = pipeline.playback(0)
        shown.wait(lambda r: r.frame.index >= 3, what="frames playing")
        paused_at = playback.pause().frame
        time.sleep(0.5)  # frames read ahead were dropped: the frame shown stays
        assert shown.latest.frame.index == pipeline.status(0).playback.frame
        assert abs(shown.latest.frame.index - paused_at) <= 2  # a frame in flight at most
        count = pipeline.status(0).stats.frames
        time.sleep(0.3)
        assert pipeline.status(0).stats.frames == count  # nothing plays while paused

        def exactly(n):  # the frame asked for: its number, pts and content
            result = shown.wait(lambda r: r.frame.index == n, what=f"frame {n}")
            image, pts = reference.frame(n)
            assert np.array_equal(result.frame.image, image) and result.frame.pts == pytest.approx(pts)
            assert marked_frame(result.annotated) == n
            status = pipeline.status(0).playback
            assert (status.frame, status.paused, status.frames) == (n, True, FRAMES)
            assert status.time == pytest.approx(pts)
            return result

        assert playback.seek(20).frame == 20
        exactly(20)
        assert playback.step(-1).frame == 19
        exactly(19)
        assert playback.apply(PlaybackCommand.step(1)).frame == 20
        exactly(20)
        playback.seek(5)  # back across keyframes
        exactly(5)

        # a prompt on the paused frame: its mask on that very frame, without playing on
        prompts = pipeline.prompts_of(0).add(ObjectPrompt(1, points=(OBJECT_POINT,), labels=(1,), pts=reference.times[5]))
        pipeline.set_prompts(prompts, 0)
        result = shown.wait(lambda r: 1 in r.segmentation.object_ids.tolist(), what="the object's mask")
        assert result.frame.index == 5
        mask = result.segmentation.masks[result.segmentation.object_ids.tolist().index(1)]
        assert mask[OBJECT_POINT[1], OBJECT_POINT[0]]

        for bad, message in ((PlaybackCommand.seek(FRAMES), f"0-{FRAMES - 1}"), (PlaybackCommand.seek(-1), "0-"),
                             (PlaybackCommand.step(0), "non-zero")):
            with pytest.raises(PlaybackError, match=message):
                playback.apply(bad)

        playback.seek(FRAMES - 2)
        playback.play()  # on to the end, where it pauses on the last frame
        shown.wait(lambda r: r.frame.index == FRAMES - 1, what="the last frame")
        wait = time.monotonic() + 5
        while not pipeline.status(0).playback.paused:
            assert time.monotonic() < wait, "not paused at the end"
            time.sleep(0.05)
        assert pipeline.status(0).state.value == "running"  # not ended: it can still be sought
        playback.play()  # at the end: again from the start
        shown.wait(lambda r: r.frame.index < 5, what="playing from the start again")


def test_a_camera_that_is_not_a_playback_file_refuses(segmenter, tmp_path, clip):
    from fastsam_video.sources import open_source

    with Pipeline(open_source(str(clip)), segmenter, stay_open=True) as pipeline:
        with pytest.raises(NotPlayable, match="camera 0 .* pause, step and seek need a video file camera"):
            pipeline.playback(0)
        assert pipeline.status(0).playback is None
    with pytest.raises(FastSAMVideoError, match="no such file"):
        PlaybackSource(tmp_path / "missing.mp4")


def test_reads_exactly_the_frame_asked_for_on_a_vfr_file(vfr_file):
    """Without the pipeline: paused, each command's frame is the next read, by number and pts."""
    from tests.test_seeking import level

    path, times = vfr_file
    source = PlaybackSource(path, paused=True)
    try:
        assert source.read().index == 0  # paused at the start: the first frame, once
        for command, n in ((PlaybackCommand.seek(47), 47), (PlaybackCommand.step(-1), 46),
                           (PlaybackCommand.step(5), 51), (PlaybackCommand.seek(3), 3)):
            assert source.apply(command).frame == n
            frame = source.read()
            assert (frame.index, frame.commanded) == (n, True)
            assert frame.pts == pytest.approx(times[n], abs=1e-3)
            assert abs(float(frame.image.mean()) - level(n)) < 4
        stale = frame
        source.play()
        assert not source.is_current(stale)  # read before the command: the pipeline drops it
        assert [source.read().index for _ in range(3)] == [4, 5, 6]
        assert source.step(-100).frame == 0  # a step stops at either end
    finally:
        source.close()
