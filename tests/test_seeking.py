"""Exact seeking by frame number on a variable-frame-rate file made with PyAV (issue 26): the
frame's content and its timestamp, in any order, stepping back and forth."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from fastsam_video.sources.seeking import SeekableVideo
from fastsam_video.types import SourceError

FRAMES = 90


def level(n: int) -> int:
    return 20 + (n * 23) % 216  # neighbours differ by 23 grey levels


@pytest.fixture(scope="module")
def vfr_file(tmp_path_factory):
    """90 frames of 64x48 at irregular intervals (10-70 ms, 1 ms time base), B-frames, a
    keyframe every 12 frames; frame n is flat grey `level(n)`; returns (path, pts in seconds)."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    rng = np.random.default_rng(3)
    pts_ms = np.cumsum(np.r_[0, rng.integers(10, 70, FRAMES - 1)])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "8", "g": "12", "bf": "2"}
        for n, ms in enumerate(pts_ms.tolist()):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), level(n), np.uint8), format="bgr24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path, pts_ms / 1000


def check(video, n, times):
    image, t = video.frame(n)
    assert abs(float(image.mean()) - level(n)) < 4, (n, image.mean(), level(n))
    assert t == pytest.approx(times[n], abs=1e-3)


def test_every_frame_by_number_in_any_order_on_a_vfr_file(vfr_file):
    path, times = vfr_file
    intervals = np.diff(times)
    assert intervals.min() < 0.02 and intervals.max() > 0.06  # really variable
    with SeekableVideo(path, cache_frames=4) as video:
        assert len(video) == FRAMES
        assert np.allclose(video.times, times, atol=1e-3)
        order = np.random.default_rng(5).permutation(FRAMES).tolist()
        for n in order:  # random seeks: mostly to another keyframe stretch
            check(video, n, times)
        for n in range(40, 20, -1):  # stepping back, one frame at a time
            check(video, n, times)
        for n in range(20, 45):  # and forwards
            check(video, n, times)
        assert video.index_at(times[33] + 0.001) == 33 and video.index_at(0) == 0


def test_a_frame_past_the_end_is_one_clear_error(vfr_file):
    with SeekableVideo(vfr_file[0]) as video:
        with pytest.raises(SourceError, match=f"frame {FRAMES}: vfr.mp4 has {FRAMES} frames"):
            video.frame(FRAMES)


def test_a_file_that_is_not_a_video_is_one_clear_error(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    with pytest.raises(SourceError, match="cannot open"):
        SeekableVideo(bad)
