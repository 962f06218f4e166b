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


def textured_file(path, frames: int, options: dict, vfr: bool = False):
    """A moving smooth texture (every frame differs; B-frames carry real residuals); with `vfr`,
    irregular 8-70 ms intervals on a 1 ms time base."""
    rng = np.random.default_rng(9)
    coarse = rng.integers(0, 255, (12, 40, 3), dtype=np.uint8)
    texture = np.asarray(np.kron(coarse, np.ones((8, 8, 1))), np.uint8)  # 96 x 320
    pts_ms = np.cumsum(np.r_[0, rng.integers(8, 70, frames - 1)])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        if vfr:
            stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = options
        for n in range(frames):
            image = np.ascontiguousarray(np.roll(texture, -3 * n, axis=1)[:, :128])
            image[(n * 5) % 80:(n * 5) % 80 + 16, 40:70] = (250, 40, 40)  # a block moving down
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            if vfr:
                frame.pts, frame.time_base = int(pts_ms[n]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def sequential(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(container.streams.video[0])]


@pytest.fixture(scope="module", params=["b-frames", "vfr-b-frames"])
def coded_file(request, tmp_path_factory):
    """x264's default frame types (3 B-frames, B-pyramid, scene cuts) with a short keyframe
    interval; and the same at a variable frame rate. Returns (path, every frame decoded in turn)."""
    vfr = request.param.startswith("vfr")
    path = textured_file(tmp_path_factory.mktemp("coded") / f"{request.param}.mp4", 120,
                         {"preset": "medium", "bf": "3", "g": "25", "crf": "30"}, vfr=vfr)
    return path, sequential(path)


def test_random_frames_equal_a_sequential_decode_exactly(coded_file):
    path, truth = coded_file
    with SeekableVideo(path, cache_frames=6) as video:
        assert len(video) == len(truth)
        keys = video.keyframe_numbers
        assert len(keys) >= 4  # several keyframe intervals, so seeks start from different ones
        order = np.random.default_rng(2).permutation(len(truth)).tolist()
        worst = [k - 1 for k in keys[1:]]  # the frame before a keyframe: the longest decode
        steps_and_jumps = [60, 59, 58, 57, 5, 100, 99, 98, 20, 19, 110]  # a jump cancels the decoding ahead
        for n in order + worst + steps_and_jumps:
            image, _ = video.frame(n)
            assert np.array_equal(image, truth[n]), n


def test_stepping_back_and_forth_returns_the_decoded_frames(coded_file):
    """Stepping back through several keyframe intervals (the frames before are decoded ahead on
    the second decoder and kept), then forwards: every frame exactly the sequential decode's."""
    path, truth = coded_file
    frame_bytes = 128 * 96 * 3 // 2  # YUV 4:2:0
    with SeekableVideo(path, cache_bytes=12 * frame_bytes) as video:
        assert video.cache_limit == 12
        for n in [*range(len(truth) - 1, 10, -1), *range(10, 60)]:
            image, _ = video.frame(n)
            assert np.array_equal(image, truth[n]), n
            held = sum(p.buffer_size for f in video._cache.values() for p in f.planes)
            assert held <= 12 * frame_bytes  # bounded: the frames farthest from the current one go
        assert video._ahead is not None  # the frames before were decoded ahead

