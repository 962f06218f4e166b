"""Frame sources and the capture thread, on real small files, lavfi streams and fakes."""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fastsam_video import sources
from fastsam_video.sources import (CaptureThread, FileSource, FolderSource, FrameSource, Reconnecting,
                                   ReconnectingSource, StreamSource, WebcamSource, close_all, open_source, redact_url)
from fastsam_video.types import SourceError

from .media import FaultyPyAV, H, W, cut_short, gray_level, write_two_size_video, write_video

class FakeLiveSource(FrameSource):
    """A camera producing a frame every `period` seconds, forever (or `fail_at` frames)."""

    live = True

    def __init__(self, period: float = 0.01, fail_at: int | None = None) -> None:
        super().__init__()
        self.name = "fake camera"
        self.period = period
        self.fail_at = fail_at
        self.released = False
        self._next = time.monotonic()

    def _read_image(self):
        if self.fail_at is not None and self._next_index == self.fail_at:
            raise RuntimeError("sensor on fire")
        self._next += self.period
        time.sleep(max(0.0, self._next - time.monotonic()))
        return np.full((8, 8, 3), self._next_index % 256, np.uint8), None

    def _release(self) -> None:
        self.released = True


class FakeCapture:
    """Stands in for cv2.VideoCapture: opens or not, then yields `frames` images."""

    def __init__(self, opened: bool = True, frames: list[np.ndarray] | None = None, fps: float = 25.0) -> None:
        self.opened = opened
        self.frames = list(frames or [])
        self.fps = fps
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def read(self):
        return (True, self.frames.pop(0)) if self.frames else (False, None)

    def get(self, prop: int) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released = True


def capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("capture ")]


# --- names -------------------------------------------------------------------------------

def test_redact_url_hides_passwords_and_keeps_the_rest():
    assert redact_url("rtsp://admin:s3cret@10.0.0.7:554/live/ch1") == "rtsp://admin:***@10.0.0.7:554/live/ch1"
    assert redact_url("rtsp://admin:p@ss:w0rd@cam.local/x?y=1") == "rtsp://admin:***@cam.local/x?y=1"
    assert redact_url("https://cam.local/mjpg?user=bob&password=hunter2&res=hd") == \
        "https://cam.local/mjpg?user=bob&password=***&res=hd"
    assert redact_url("rtsp://user@cam/x") == "rtsp://user@cam/x"
    assert redact_url("rtsp://cam/x") == "rtsp://cam/x"
    assert redact_url("videos/clip.mp4") == "videos/clip.mp4"


def test_stream_errors_never_show_the_password():
    with pytest.raises(SourceError) as info:
        StreamSource("rtsp://admin:hunter2@127.0.0.1:9/live", open_timeout=2, read_timeout=2)
    assert "hunter2" not in str(info.value) and "admin:***@127.0.0.1:9" in str(info.value)
    assert "hunter2" not in str(info.value.__cause__)  # a printed traceback shows the cause too


# --- files and folders -------------------------------------------------------------------

def test_file_source_yields_every_frame_in_order_with_its_pixels_and_pts(tmp_path):
    with FileSource(write_video(tmp_path / "clip.mp4", n=20, fps=30)) as source:
        assert (source.live, source.fps, source.frame_count) == (False, 30.0, 20)
        frames = list(source)
        assert source.read() is None  # stays at the end
    assert [f.index for f in frames] == list(range(20))
    assert np.allclose([f.pts for f in frames], np.arange(20) / 30, atol=1e-3)
    assert all(f.image.shape == (H, W, 3) for f in frames)
    # swscale's yuv420p->BGR reads flat gray ~3 levels dark (cv2 decodes the same file alike)
    assert [abs(float(f.image.mean()) - gray_level(f.index)) < 4 for f in frames] == [True] * 20
    assert all(a.t_capture <= b.t_capture for a, b in zip(frames, frames[1:]))


def test_realtime_file_source_plays_at_its_frame_rate_like_a_camera(tmp_path):
    source = FileSource(write_video(tmp_path / "clip.mp4", n=16, fps=30), realtime=True)
    assert source.live
    frames = list(source)
    took = frames[-1].t_capture - frames[0].t_capture
    assert len(frames) == 16 and 0.45 < took < 0.8  # 15 intervals of 1/30 s = 0.5 s


def test_file_source_skips_and_counts_a_corrupt_frame(tmp_path):
    path = write_video(tmp_path / "clip.mp4", n=20, noise=True)
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + len(data) // 3
    data[start:start + 2000] = np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    with FileSource(path) as source:
        frames = list(source)
    assert source.skipped >= 1 and 10 <= len(frames) < 20
    assert [f.index for f in frames] == list(range(len(frames)))


def write_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"frame{i}.png"), np.full((H, W, 3), gray_level(i), np.uint8))


def test_folder_source_reads_in_natural_order_and_skips_unreadable_images(tmp_path):
    write_images(tmp_path, 12)
    (tmp_path / "frame5.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored: not an image extension")
    with FolderSource(tmp_path, fps=10) as source:
        frames = list(source)
    levels = [round(float(f.image.mean())) for f in frames]
    assert levels == [gray_level(i) for i in range(12) if i != 5]  # frame10 after frame9, not after frame1
    assert source.skipped == 1 and source.frame_count == 12
    assert [f.pts for f in frames[:3]] == [0.0, 0.1, 0.2]


def test_glob_source_matches_only_its_pattern(tmp_path):
    write_images(tmp_path, 12)
    with open_source(str(tmp_path / "frame1*.png")) as source:
        assert isinstance(source, FolderSource) and source.fps is None
        frames = list(source)
    assert [round(float(f.image.mean())) for f in frames] == [gray_level(i) for i in (1, 10, 11)]
    assert frames[0].pts is None


def test_open_source_picks_the_source_by_spec(tmp_path, monkeypatch):
    write_images(tmp_path / "images", 2)
    video = write_video(tmp_path / "clip.mp4", n=2)
    opened = []

    def webcam(index, **kw):
        opened.append(index)
        return WebcamSource(index, capture_factory=lambda i: FakeCapture(frames=[np.zeros((H, W, 3), np.uint8)]))

    monkeypatch.setattr(sources, "WebcamSource", webcam)
    for spec, index in [("0", 0), ("webcam:3", 3)]:
        with open_source(spec) as source:  # a webcam reconnects like a network camera
            assert isinstance(source, Reconnecting) and source.name == f"webcam {index}"
            assert source.read().index == 0 and source.connection.state == "connected"
    assert opened == [0, 3]
    plain = open_source("webcam:1", reconnect=False)
    assert isinstance(plain, WebcamSource) and opened == [0, 3, 1]
    for spec, kind in [(str(video), FileSource), (str(tmp_path / "images"), FolderSource),
                       (str(tmp_path / "images" / "frame0.png"), FolderSource),
                       (str(tmp_path / "images" / "*.png"), FolderSource),
                       ("lavfi:testsrc2=size=64x48:rate=30", StreamSource)]:
        with open_source(spec) as source:
            assert isinstance(source, kind), spec
            assert source.read() is not None


def test_an_image_file_is_a_one_frame_source(tmp_path):
    write_images(tmp_path, 1)
    with open_source(str(tmp_path / "frame0.png")) as source:
        assert source.read().index == 0 and source.read() is None


# --- bad input: one line, quickly --------------------------------------------------------

def bad_specs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "fake.mp4").write_text("this is not a video\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.mp4").write_bytes(b"")
    return {"missing file": str(tmp_path / "nope.mp4"),
            "text named .mp4": str(tmp_path / "fake.mp4"),
            "empty file": str(tmp_path / "empty.mp4"),
            "empty folder": str(tmp_path / "empty"),
            "glob matching nothing": str(tmp_path / "*.jpg"),
            "unreachable rtsp": "rtsp://127.0.0.1:9/x",
            "unreachable http": "http://127.0.0.1:9/x.mjpg",
            "bad lavfi graph": "lavfi:nosuchfilter=1"}


@pytest.mark.parametrize("case", ["missing file", "text named .mp4", "empty file", "empty folder",
                                  "glob matching nothing", "unreachable rtsp", "unreachable http",
                                  "bad lavfi graph"])
def test_bad_input_is_one_source_error_line_at_once(tmp_path, case):
    spec = bad_specs(tmp_path)[case]
    start = time.monotonic()
    with pytest.raises(SourceError) as info:
        open_source(spec, open_timeout=2, read_timeout=2, reconnect=False)  # network URLs wait by default
    assert time.monotonic() - start < 3
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert ("no such file" in message) if case == "missing file" else True


def test_a_server_that_accepts_but_never_answers_times_out(tmp_path):
    with socket.socket() as server:  # a frozen camera: the connection opens, nothing comes back
        server.bind(("127.0.0.1", 0))
        server.listen()
        start = time.monotonic()
        with pytest.raises(SourceError, match="cannot open stream"):
            StreamSource(f"rtsp://127.0.0.1:{server.getsockname()[1]}/x", open_timeout=1, read_timeout=1)
        assert time.monotonic() - start < 4


# --- webcam (no camera here: fakes) ------------------------------------------------------

def test_webcam_that_fails_to_open_says_so_and_releases_it():
    capture = FakeCapture(opened=False)
    with pytest.raises(SourceError, match=r"^cannot open webcam 2: no camera at that index") as info:
        WebcamSource(2, capture_factory=lambda index: capture)
    assert "\n" not in str(info.value) and capture.released


def test_webcam_delivers_bgr_frames_then_reports_a_lost_camera():
    images = [np.full((H, W, 3), 7, np.uint8), np.full((H, W), 9, np.uint8)]  # the second one gray
    capture = FakeCapture(frames=images, fps=25)
    with WebcamSource(0, capture_factory=lambda index: capture) as source:
        assert (source.live, source.fps, source.name) == (True, 25.0, "webcam 0")
        first, second = source.read(), source.read()
        assert (first.index, second.index) == (0, 1) and second.image.shape == (H, W, 3)
        assert int(second.image[0, 0, 2]) == 9
        with pytest.raises(SourceError, match="webcam 0 stopped delivering frames"):
            source.read()
    assert capture.released


# --- live streams ------------------------------------------------------------------------

def test_lavfi_stream_delivers_frames_at_its_rate():
    with StreamSource("lavfi:testsrc2=size=160x120:rate=30,realtime") as source:
        assert source.live and source.fps == 30.0 and source.frame_count is None
        frames = [source.read() for _ in range(31)]
    took = frames[-1].t_capture - frames[0].t_capture
    assert 30 / took == pytest.approx(30, rel=0.2)
    assert np.allclose(np.diff([f.pts for f in frames]), 1 / 30)


def test_a_live_stream_that_ends_is_a_disconnect_and_can_be_reopened():
    source = StreamSource("lavfi:testsrc2=size=64x48:rate=30:duration=0.1")
    assert len([source.read() for _ in range(3)]) == 3
    with pytest.raises(SourceError, match="^stream ended: lavfi:testsrc2"):
        for _ in range(10):
            source.read()
    source.open()  # a fresh container, as a reconnecting wrapper would
    assert source.read() is not None
    source.close()


# --- capture thread ----------------------------------------------------------------------

def test_capture_thread_keeps_only_the_newest_frame_of_a_live_source():
    source = FakeLiveSource(period=0.01)
    with CaptureThread(source) as capture:
        got = []
        for _ in range(6):
            time.sleep(0.1)  # a slow consumer: ~10 frames arrive between two gets
            frame = capture.get(timeout=1.0)
            got.append((frame.index, time.monotonic() - frame.t_capture))
        assert capture.dropped >= 30
        assert capture.captured >= capture.dropped + len(got)
        assert capture.capture_fps == pytest.approx(100, rel=0.35)
    indices = [i for i, _ in got]
    assert all(b - a >= 5 for a, b in zip(indices, indices[1:]))  # frames were skipped, not queued
    assert max(age for _, age in got) < 0.08  # recent: a queue would hand out frames ~0.8 s old
    assert source.released and not capture_threads()


def test_capture_thread_drops_nothing_from_a_file(tmp_path):
    source = FileSource(write_video(tmp_path / "clip.mp4", n=20))
    with CaptureThread(source, queue_size=2) as capture:
        indices = []
        while (frame := capture.get(timeout=2.0)) is not None:
            time.sleep(0.01)
            indices.append(frame.index)
        assert capture.get(timeout=0.1) is None  # stays ended
    assert indices == list(range(20)) and capture.dropped == 0 and capture.captured == 20


def test_capture_thread_raises_the_readers_error_from_the_original():
    capture = CaptureThread(FakeLiveSource(period=0.001, fail_at=3))
    with pytest.raises(SourceError, match="capture from fake camera failed: RuntimeError: sensor on fire") as info:
        for _ in range(100):
            try:
                capture.get(timeout=1.0)
            except queue.Empty:
                pass
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(SourceError):  # and keeps saying so
        capture.get(timeout=0.1)
    capture.close()
    assert not capture_threads()


def test_capture_thread_passes_a_source_error_through_unchanged_in_kind():
    capture = FakeCapture(frames=[np.zeros((H, W, 3), np.uint8)])
    with CaptureThread(WebcamSource(0, capture_factory=lambda index: capture)) as thread:
        assert thread.get(timeout=1.0).index == 0
        with pytest.raises(SourceError, match="^webcam 0 stopped delivering frames") as info:
            thread.get(timeout=1.0)
        assert isinstance(info.value.__cause__, SourceError)


def test_close_stops_a_live_capture_and_leaves_no_thread():
    stop = threading.Event()
    source = FakeLiveSource(period=0.005)
    capture = CaptureThread(source, stop=stop)
    assert capture.get(timeout=1.0) is not None
    start = time.monotonic()
    capture.close()
    capture.close()  # idempotent
    assert time.monotonic() - start < 1.0
    assert stop.is_set() and source.released and not capture.alive and not capture_threads()
    # after close, get() ends at once (possibly after the last frame still held)
    assert None in [capture.get(timeout=0.1), capture.get(timeout=0.1)]


def test_lavfi_through_capture_thread_reports_its_capture_rate():
    with CaptureThread(open_source("lavfi:testsrc2=size=160x120:rate=30,realtime")) as capture:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                capture.get(timeout=0.5)
            except queue.Empty:
                pass
            time.sleep(0.05)  # slower than the camera: drops expected
        assert capture.capture_fps == pytest.approx(30, rel=0.2)
        assert capture.dropped > 0
    assert not capture_threads()


# --- reconnecting sources (fakes and lavfi here; a real RTSP server in test_rtsp.py) ------

CAMERA = "rtsp://u:***@cam/x"  # the name of the fakes' camera, rtsp://u:pw@cam/x


class FakeStream(FrameSource):
    """One connection of a flaky camera: `frames` frames (pts from 0 again), then a drop."""

    live = True

    def __init__(self, frames: int | None, period: float = 0.005) -> None:
        super().__init__()
        self.name = "fake stream"
        self.frames = frames
        self.period = period
        self.fps = 1 / period

    def _read_image(self):
        if self.frames is not None and self._next_index >= self.frames:
            raise SourceError(f"stream ended: {CAMERA} (the server closed the connection)")
        time.sleep(self.period)
        return np.full((8, 8, 3), self._next_index, np.uint8), self._next_index * self.period


def refused() -> SourceError:
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as err:
        try:
            raise SourceError(f"cannot open stream {CAMERA}: Connection refused (check ...)") from err
        except SourceError as source_error:
            return source_error


def unauthorized() -> SourceError:
    cause = av.error.HTTPUnauthorizedError(-825242872, "Server returned 401 Unauthorized (authorization failed)",
                                           "rtsp://u:hunter2@cam/x")
    error = SourceError(f"cannot open stream {CAMERA}: Server returned 401 Unauthorized (check ...)")
    error.__cause__ = cause
    return error


class FlakyCamera:
    """A `stream_factory` following a plan: an error to raise at that connect, or a number
    of frames to deliver before dropping (None: forever). Records when each connect came."""

    def __init__(self, *plan) -> None:
        self.plan = list(plan)
        self.connects: list[float] = []

    def __call__(self) -> FrameSource:
        self.connects.append(time.monotonic())
        step = self.plan.pop(0) if self.plan else None
        if isinstance(step, BaseException):
            raise step
        return FakeStream(step)


def test_reconnecting_source_backs_off_then_starts_over_once_frames_flow(caplog):
    caplog.set_level(logging.DEBUG)
    camera = FlakyCamera(refused(), refused(), refused(), 3, refused(), 2, None)
    source = ReconnectingSource("rtsp://u:pw@cam/x", backoff=(0.05, 0.1, 0.2), stream_factory=camera)
    state = source.connection  # down at start: waiting, not raising
    assert (state.state, state.attempts, state.last_error, state.reconnects) == \
        ("reconnecting", 1, "Connection refused", 0)
    assert 0 < state.next_retry_in <= 0.05 and state.down_for >= 0
    assert "reconnecting in 0 s (1 failed attempt), no frames for 0 s: Connection refused" == state.describe()
    frames = [source.read() for _ in range(7)]
    gaps = np.diff(camera.connects)
    # 3 failures at start: waits 0.05, 0.1, 0.2; the drop after 3 frames: at once, then 0.05
    assert [round(g, 2) for g in gaps[[0, 1, 2, 4]] - [0.05, 0.1, 0.2, 0.05]] == pytest.approx([0] * 4, abs=0.1)
    assert (gaps[:3] >= [0.05, 0.1, 0.2]).all() and gaps[3] >= 0.015 and gaps[4] >= 0.05
    assert gaps[3] < 0.1  # 3 frames (5 ms each), then the immediate retry
    assert [f.index for f in frames] == list(range(7))
    assert all(a.t_capture <= b.t_capture and a.pts < b.pts for a, b in zip(frames, frames[1:]))
    state = source.connection
    assert (state.state, state.attempts, state.next_retry_in, state.reconnects, state.down_for) == \
        ("connected", 0, None, 3, None)  # up after the start, after the first drop, after the second
    assert state.describe() == "connected (3 reconnects)"
    source.close()
    assert source.connection.state == "closed" and source.read() is None
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "rtsp://u:***@cam/x: cannot connect: Connection refused; it may not be up yet; retrying in 0.05 s" in text
    assert "rtsp://u:***@cam/x: connection lost: stream ended; reconnecting" in text
    assert "reconnected; frames flow again after" in text and "pw" not in text.replace("***", "")


def test_close_and_capture_close_interrupt_a_long_backoff():
    source = ReconnectingSource("rtsp://cam/x", backoff=(30,), stream_factory=FlakyCamera(*[refused()] * 9))
    result = []
    reader = threading.Thread(target=lambda: result.append(source.read()))
    reader.start()
    time.sleep(0.1)
    start = time.monotonic()
    source.close()  # from another thread, while the reader waits out a 30 s backoff
    reader.join(1.0)
    assert not reader.is_alive() and result == [None] and time.monotonic() - start < 0.5

    source = ReconnectingSource("rtsp://cam/x", backoff=(30,), stream_factory=FlakyCamera(*[refused()] * 9))
    capture = CaptureThread(source)
    with pytest.raises(queue.Empty):
        capture.get(timeout=0.2)  # nothing comes, but the consumer keeps control
    start = time.monotonic()
    capture.close()
    assert time.monotonic() - start < 0.5 and not capture_threads()
    assert capture.get(timeout=0.1) is None and source.connection.state == "closed"


def test_what_retrying_cannot_fix_fails_at_start_but_is_retried_mid_stream():
    with pytest.raises(SourceError, match="401 Unauthorized") as info:
        ReconnectingSource("rtsp://u:hunter2@cam/x", stream_factory=FlakyCamera(unauthorized()))
    assert "hunter2" not in str(info.value)
    patient = ReconnectingSource("rtsp://u:pw@cam/x", fail_fast=False, backoff=(0.01,),
                                 stream_factory=FlakyCamera(unauthorized(), None))
    assert patient.connection.last_error == "Server returned 401 Unauthorized"
    assert patient.read().index == 0
    patient.close()
    camera = FlakyCamera(2, unauthorized(), None)  # a camera rebooting may refuse for a while
    with ReconnectingSource("rtsp://cam/x", backoff=(0.01,), stream_factory=camera) as source:
        assert [source.read().index for _ in range(4)] == [0, 1, 2, 3]
        assert source.connection.reconnects == 1 and len(camera.connects) == 3


def test_a_connection_that_never_delivers_counts_as_a_failed_attempt():
    camera = FlakyCamera(0, 0, 0, None)  # opens, then drops before the first frame
    with ReconnectingSource("rtsp://cam/x", backoff=(0.05, 0.1), stream_factory=camera) as source:
        assert source.read().index == 0
        assert source.connection.reconnects == 1
    assert (np.diff(camera.connects) >= [0.05, 0.1, 0.1]).all()  # backed off, no busy loop


def test_a_real_pyav_stream_that_keeps_ending_is_reopened_with_continuous_indices():
    with open_source("lavfi:testsrc2=size=64x48:rate=30:duration=0.1", reconnect=True, backoff=(0.01,)) as source:
        assert isinstance(source, ReconnectingSource)
        frames = [source.read() for _ in range(10)]
        assert source.connection.reconnects >= 2 and source.fps == 30.0
    assert [f.index for f in frames] == list(range(10))
    assert all(a.pts < b.pts for a, b in zip(frames, frames[1:]))  # its pts start over at each connection


def test_network_urls_wait_for_their_camera_by_default():
    start = time.monotonic()
    with open_source("rtsp://admin:hunter2@127.0.0.1:9/x", open_timeout=1, read_timeout=1) as source:
        assert isinstance(source, ReconnectingSource) and time.monotonic() - start < 1
        state = source.connection
        assert (state.state, state.attempts, state.last_error) == ("reconnecting", 1, "Connection refused")
        assert source.name == "rtsp://admin:***@127.0.0.1:9/x"
    assert isinstance(open_source("lavfi:testsrc2=size=64x48:rate=30"), StreamSource)
    with pytest.raises(SourceError, match="unknown RTSP transport 'quic'"):
        open_source("rtsp://127.0.0.1:9/x", rtsp_transport="quic")


# --- files cut short, frame sizes that change ---------------------------------------------

def test_a_file_cut_short_says_how_many_frames_it_lacks(tmp_path, caplog):
    whole = write_video(tmp_path / "whole.mp4", n=150, noise=True, faststart=True)  # the header comes first
    (tmp_path / "clip.mp4").write_bytes(whole.read_bytes())
    clip = cut_short(tmp_path / "clip.mp4", 0.3)
    with FileSource(whole) as source:
        assert len(list(source)) == 150 and source.truncated is None
    assert not caplog.records
    with FileSource(clip) as source:
        assert source.expected_frames == 150
        frames = list(source)
        assert source.read() is None  # asked again at the end: still one warning
    read = len(frames)
    assert 10 < read < 150 and source.frames_read == read
    assert source.truncated == f"{clip} ended after {read} of 150 frames (the file is cut short)"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [source.truncated]


def test_a_file_whose_frame_size_changes_midway_delivers_both_sizes(tmp_path):
    path = write_two_size_video(tmp_path / "two.mp4", sizes=((W, H), (96, 64)), frames_each=10)
    with CaptureThread(FileSource(path)) as capture:
        frames = []
        while (frame := capture.get(timeout=5.0)) is not None:
            frames.append(frame)
    assert [f.image.shape for f in frames] == [(H, W, 3)] * 10 + [(64, 96, 3)] * 10
    assert [abs(float(f.image.mean()) - gray_level(f.index)) < 4 for f in frames] == [True] * 20
    assert [f.index for f in frames] == list(range(20)) and capture.source.truncated is None


# --- faults anywhere in a live stream's read path reconnect -------------------------------

@pytest.mark.parametrize("stage", ["open", "demux", "decode", "convert"])
def test_a_fault_anywhere_in_a_live_streams_read_path_reconnects(monkeypatch, caplog, stage):
    faults = FaultyPyAV(stage)
    monkeypatch.setattr(av, "open", faults.open(av.open))
    with open_source("lavfi:testsrc2=size=64x48:rate=30", reconnect=True, backoff=(0.05,)) as source:
        frames = [source.read() for _ in range(12)]
        state = source.connection
    assert faults.failed_at is not None and faults.opens == 2
    assert [f.index for f in frames] == list(range(12)) and all(f.image.shape == (48, 64, 3) for f in frames)
    assert (state.reconnects, state.last_error) == (1, f"RuntimeError: injected {stage} fault")
    assert any("RuntimeError: injected" in r.getMessage() for r in caplog.records)


def test_a_frame_that_cannot_be_converted_is_a_source_error_line(monkeypatch):
    faults = FaultyPyAV("convert", after=2, error=ValueError("Conversion to numpy array with format `bgr24` failed"))
    monkeypatch.setattr(av, "open", faults.open(av.open))
    with StreamSource("lavfi:testsrc2=size=64x48:rate=30") as source:
        source.read(), source.read()
        with pytest.raises(SourceError, match=r"^stream lavfi:testsrc2=size=64x48:rate=30: cannot convert a 64x48 "
                                              r"\w+ frame to BGR: Conversion to numpy") as info:
            source.read()
    assert isinstance(info.value.__cause__, ValueError)


# --- a webcam that fails is retried like a network camera (no camera here: fakes) ----------

class FlakyWebcam:
    """A `capture_factory`: each call is the camera opened again, following a plan: the number
    of frames it grabs before a grab fails (a cable pulled), or 0: it cannot be opened."""

    def __init__(self, *plan: int) -> None:
        self.plan = list(plan)
        self.opens: list[float] = []
        self.captures: list[FakeCapture] = []

    def __call__(self, index: int) -> FakeCapture:
        self.opens.append(time.monotonic())
        n = self.plan.pop(0) if self.plan else 1000
        capture = FakeCapture(opened=n > 0, frames=[np.full((H, W, 3), len(self.opens), np.uint8)] * n)
        self.captures.append(capture)
        return capture


def test_a_webcam_that_fails_a_grab_is_reopened_with_the_network_backoff(monkeypatch, caplog):
    camera = FlakyWebcam(3, 0, 0, 3)  # 3 frames, a failed grab, gone for two attempts, back
    monkeypatch.setattr(sources, "WebcamSource", lambda index, **kw: WebcamSource(index, capture_factory=camera, **kw))
    with open_source("0", backoff=(0.05, 0.1)) as source:
        frames = [source.read() for _ in range(6)]
        state = source.connection
    assert [f.index for f in frames] == list(range(6))
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 1, 1, 4, 4, 4]  # the first, then the fourth opening
    gaps = np.diff(camera.opens)
    assert gaps[0] < 0.05 and 0.05 <= gaps[1] < 0.15 and 0.1 <= gaps[2] < 0.2  # at once, then the backoff
    assert (state.state, state.reconnects, state.attempts) == ("connected", 1, 0)
    assert all(c.released for c in camera.captures)  # every opening released, also those that failed
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "webcam 0: connection lost: stopped delivering frames; reconnecting" in text
    assert "webcam 0: cannot connect: cannot open the stream: no camera at that index; retrying in 0.05 s" in text


def test_a_webcam_index_with_no_camera_still_fails_at_once(monkeypatch):
    camera = FlakyWebcam(0)
    monkeypatch.setattr(sources, "WebcamSource", lambda index, **kw: WebcamSource(index, capture_factory=camera, **kw))
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"^cannot open webcam 7: no camera at that index"):
        open_source("webcam:7")
    assert time.monotonic() - start < 0.5 and len(camera.opens) == 1


# --- closing many frozen cameras ---------------------------------------------------------

def test_closing_n_cameras_stuck_on_silent_servers_takes_one_timeout_not_n():
    servers = []
    for _ in range(4):  # frozen cameras: each connection opens, nothing ever comes back
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        servers.append(server)
    try:
        start = time.monotonic()
        # a camera frozen at start is waited for, not refused (its first open times out in the constructor)
        cameras = [open_source(f"rtsp://127.0.0.1:{s.getsockname()[1]}/x", open_timeout=0.5, read_timeout=0.5,
                               backoff=(0.02,)) for s in servers]
        assert all("no answer within 0.5 s" in c.connection.last_error for c in cameras)
        assert time.monotonic() - start < 4 * 0.5 + 1.0
        captures = [CaptureThread(camera) for camera in cameras]
        time.sleep(0.2)  # every camera is inside its next open
        start = time.monotonic()
        assert close_all(captures)
        took = time.monotonic() - start
    finally:
        for server in servers:
            server.close()
    assert took < 0.5 + 0.4, took  # one open timeout; one after the other: up to 4 x 0.5 s
    assert not any(c.alive for c in captures) and not capture_threads()
    assert all(c.source.connection.state == "closed" for c in captures)
