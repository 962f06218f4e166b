"""Network cameras against a real RTSP server on 127.0.0.1: frames, faults (SIGKILL, SIGSTOP,
down at start), recording across drops, latency with a slow consumer, and passwords.

The server is GStreamer's (tests/rtsp_server.py, run by Debian's /usr/bin/python3); these
tests skip with the install command when it is missing. Each test has its own port.
"""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path

import av
import numpy as np
import pytest

from fastsam_video.sinks import SegmentedRecorder, VideoRecorder
from fastsam_video.sources import CaptureThread, ReconnectingSource, StreamSource, close_all, open_source
from fastsam_video.types import SourceError

from .media import FaultyPyAV
from .rtsp_server import FrameLog, Received, RtspServer, unavailable, wait_until

pytestmark = pytest.mark.timeout(60)

FPS = 25
FAST = dict(open_timeout=2.0, read_timeout=1.0)  # a camera on the LAN answers well within these


@pytest.fixture(scope="module", autouse=True)
def needs_server():
    reason = unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def server():
    server = RtspServer(fps=FPS, seconds=90)
    yield server
    server.close()


def check_continuity(frames: list[Received], contiguous: bool = False) -> None:
    """Indices, capture times and pts only go forward across reconnects (a CaptureThread
    may skip frames its consumer was too slow for; a direct reader gets them all)."""
    indices = [f.index for f in frames]
    assert indices == list(range(indices[0], indices[0] + len(indices))) if contiguous else \
        all(a < b for a, b in zip(indices, indices[1:]))
    assert all(a.t_capture <= b.t_capture and a.pts < b.pts for a, b in zip(frames, frames[1:]))


# --- frames ------------------------------------------------------------------------------

def test_frames_arrive_at_the_cameras_rate(server):
    server.start()
    start = time.monotonic()
    with open_source(server.url(), **FAST) as source:
        assert isinstance(source, ReconnectingSource)
        frames = [source.read() for _ in range(2 * FPS)]
        assert source.connection.state == "connected" and source.fps == FPS
    assert frames[0].t_capture - start < 2.0  # the first frame ~0.6 s after asking
    assert frames[0].image.shape == (240, 320, 3) and frames[0].image.std() > 10  # a picture, not gray
    check_continuity(frames, contiguous=True)
    steady = frames[FPS:]  # the first frames come in a burst, buffered while the stream was probed
    rate = (len(steady) - 1) / (steady[-1].t_capture - steady[0].t_capture)
    assert rate == pytest.approx(FPS, rel=0.25)


def test_udp_transport_is_selectable(server):
    server.start()
    with open_source(server.url(), rtsp_transport="udp", **FAST) as source:
        assert [source.read().index for _ in range(10)] == list(range(10))


# --- faults ------------------------------------------------------------------------------

def test_a_killed_server_is_noticed_at_once_and_rejoined_after_its_restart(server):
    server.start()
    capture = CaptureThread(open_source(server.url(), **FAST))  # the default backoff: 1, 2, 5, ... s
    consumer = FrameLog(capture)
    try:
        assert wait_until(lambda: len(consumer.frames) >= FPS, 5)
        source = capture.source
        server.kill()
        killed = time.monotonic()
        noticed = wait_until(lambda: source.connection.state != "connected", 2)
        assert noticed is not None and noticed < 0.5  # the TCP connection closed: at once
        time.sleep(1.0)
        state = source.connection
        assert state.state == "reconnecting" and state.attempts >= 1 and state.last_error == "Connection refused"
        server.start()
        restarted = time.monotonic()
        rejoined = wait_until(lambda: consumer.count_after(restarted) > 0, 8)
        assert rejoined is not None and rejoined < 5.0
        assert wait_until(lambda: consumer.count_after(restarted) >= 10, 3)
        state = source.connection
        assert (state.state, state.attempts, state.reconnects) == ("connected", 0, 1)
    finally:
        consumer.stop()
    check_continuity(consumer.frames)
    gap = max(np.diff([f.t_capture for f in consumer.frames]))
    assert 1.0 < gap < time.monotonic() - killed


def test_a_frozen_server_is_noticed_within_the_read_timeout_and_rejoined_when_it_thaws(server):
    server.start()
    capture = CaptureThread(open_source(server.url(), backoff=(0.5, 1.0), **FAST))
    consumer = FrameLog(capture)
    try:
        assert wait_until(lambda: len(consumer.frames) >= FPS, 5)
        source = capture.source
        server.freeze()
        frozen = time.monotonic()
        noticed = wait_until(lambda: source.connection.state != "connected", 4)
        assert noticed is not None and 0.8 < noticed < 1.6  # read_timeout = 1 s, no hang
        assert "stalled: no data for 1 s" in source.connection.last_error
        # attempts on a frozen server: the kernel still accepts, nobody answers: open_timeout
        assert wait_until(lambda: source.connection.attempts >= 1, 4)
        assert "no answer within 2 s" in source.connection.last_error
        assert consumer.count_after(frozen + 0.2) == 0
        server.thaw()
        thawed = time.monotonic()
        rejoined = wait_until(lambda: consumer.count_after(thawed) > 0, 8)
        assert rejoined is not None and rejoined < 5.0
        assert source.connection.state == "connected" and source.connection.reconnects == 1
    finally:
        consumer.stop()
    check_continuity(consumer.frames)


def test_closing_while_an_attempt_hangs_on_a_frozen_server_is_bounded(server):
    server.start()
    source = open_source(server.url(), backoff=(0.1,), **FAST)
    capture = CaptureThread(source)
    assert capture.get(timeout=5) is not None
    server.freeze()
    assert wait_until(lambda: source.connection.attempts >= 1, 5)  # now inside a 2 s open
    start = time.monotonic()
    capture.close()
    assert time.monotonic() - start < FAST["open_timeout"] + 0.5 and not capture.alive


def test_closing_n_frozen_cameras_takes_one_timeout_not_n(server):
    n = 4
    server.start()
    # no backoff: once frozen, each camera is always inside a read (1 s) or an open (2 s), the worst case
    captures = [CaptureThread(open_source(server.url(), backoff=(0.0,), **FAST)) for _ in range(n)]
    try:
        assert all(c.get(timeout=5) is not None for c in captures)
        server.freeze()
        time.sleep(1.5)
    finally:
        start = time.monotonic()
        closed = close_all(captures)
        took = time.monotonic() - start
    print(f"closing {n} frozen cameras took {took:.2f} s")
    assert closed and took < FAST["open_timeout"] + 0.5, took  # one after the other: ~0.5 + (n - 1) x 2 s
    assert not any(c.alive for c in captures)


def test_a_frame_that_fails_to_convert_reconnects_at_once(server, monkeypatch):
    faults = FaultyPyAV("convert", after=FPS, error=ValueError("Conversion to numpy array failed"))
    monkeypatch.setattr(av, "open", faults.open(av.open))
    server.start()
    capture = CaptureThread(open_source(server.url(), backoff=(0.5,), **FAST))
    consumer = FrameLog(capture)
    try:
        assert wait_until(lambda: faults.failed_at is not None, 5)
        assert wait_until(lambda: consumer.count_after(faults.failed_at) > 0, 5)
        back = consumer.frames[-consumer.count_after(faults.failed_at)].received_at - faults.failed_at
        state = capture.source.connection
    finally:
        consumer.stop()
    print(f"frames flow again {back:.2f} s after a frame failed to convert")
    assert back < 2.0 and (state.reconnects, faults.opens) == (1, 2)
    assert state.last_error == "stream: cannot convert a 320x240 yuv420p frame to BGR: Conversion to numpy array failed"
    check_continuity(consumer.frames)


def test_a_camera_that_changes_its_frame_size_keeps_delivering_frames_of_each_size(server):
    server.start()  # the /switch mount: 320x240 <-> 480x360 every second
    with CaptureThread(open_source(server.url(path="switch"), **FAST)) as capture:
        shapes: list[tuple[int, int, int]] = []
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            frame = capture.get(timeout=2)
            if not shapes or shapes[-1] != frame.image.shape:
                shapes.append(frame.image.shape)
        state = capture.source.connection
    assert len(shapes) >= 3 and set(shapes) == {(240, 320, 3), (360, 480, 3)}, shapes
    assert state.reconnects == 0 and state.connected  # the size changed in-band: no reconnect


def test_a_server_down_at_start_is_waited_for(server, caplog):
    caplog.set_level(logging.INFO, logger="fastsam_video")
    start = time.monotonic()
    source = open_source(server.url(), backoff=(0.3, 0.6), **FAST)  # nothing listens on the port yet
    assert time.monotonic() - start < 0.5
    capture = CaptureThread(source)
    consumer = FrameLog(capture)
    try:
        assert source.connection.state == "reconnecting"
        assert wait_until(lambda: source.connection.attempts >= 3, 3)
        state = source.connection
        assert state.last_error == "Connection refused" and state.down_for > 0.5
        assert not consumer.frames
        server.start()
        up = time.monotonic()
        assert wait_until(lambda: len(consumer.frames) > 0, 5)
        assert consumer.frames[0].received_at - up < 0.6 + 2.0  # next attempt within 0.6 s, first frame ~0.6 s
        state = source.connection
        assert (state.state, state.attempts, state.reconnects) == ("connected", 0, 1)
    finally:
        consumer.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot connect: Connection refused; it may not be up yet; retrying in 0.3 s" in m for m in messages)
    assert any("reconnected; frames flow again after" in m for m in messages)


# --- recording across drops --------------------------------------------------------------

def test_a_recording_across_two_drops_plays_and_holds_every_frame_received(server, tmp_path):
    server.start()
    whole = VideoRecorder(tmp_path / "whole.mp4", fps_hint=FPS)
    segments = SegmentedRecorder(tmp_path / "seg-{index:03d}.mp4", segment_seconds=2.0, fps_hint=FPS)
    capture = CaptureThread(open_source(server.url(), backoff=(0.3, 0.6), **FAST))
    consumer = FrameLog(capture, recorders=(whole, segments))
    try:
        assert wait_until(lambda: len(consumer.frames) >= FPS, 5)
        server.kill()  # drop 1: the camera is gone for a while
        time.sleep(0.5)
        server.start()
        restarted = time.monotonic()
        assert wait_until(lambda: consumer.count_after(restarted) >= FPS, 6)
        server.freeze()  # drop 2: the camera hangs
        time.sleep(1.5)
        server.thaw()
        thawed = time.monotonic()
        assert wait_until(lambda: consumer.count_after(thawed) >= FPS, 6)
        assert capture.source.connection.reconnects == 2
    finally:
        consumer.stop()
        whole.close()
        segments.close()
    received = len(consumer.frames)
    check_continuity(consumer.frames)
    with av.open(str(tmp_path / "whole.mp4")) as container:
        played = list(container.decode(video=0))  # plays to the end without an error
    assert len(played) == whole.frames_written == received
    times = np.array([f.time for f in played])
    captured = np.array([f.t_capture for f in consumer.frames])
    assert np.abs(times - (captured - captured[0])).max() < 1e-3  # the gaps are gaps, in place
    assert (np.diff(times) > 0.9).sum() == 2
    counts = []
    for path in segments.paths:
        with av.open(str(path)) as container:
            counts.append(sum(1 for _ in container.decode(video=0)))
    assert len(counts) >= 3 and sum(counts) == segments.frames_written == received


# --- latency -----------------------------------------------------------------------------

def test_a_slow_consumer_still_gets_fresh_frames(server):
    server.start()
    with CaptureThread(open_source(server.url(), **FAST)) as capture:
        assert capture.get(timeout=5) is not None
        ages, indices = [], []
        for _ in range(12):  # 5 fps from a 25 fps camera, for ~2.4 s
            time.sleep(0.2)
            frame = capture.get(timeout=2)
            ages.append(time.monotonic() - frame.t_capture)
            indices.append(frame.index)
        assert capture.dropped >= 30
    assert max(ages) < 0.3, ages
    assert min(np.diff(indices)) >= 3  # frames were skipped, not queued


# --- passwords ---------------------------------------------------------------------------

def test_the_password_never_reaches_a_log_line_or_an_error(server, caplog, capfd):
    password = "s3cretPW"
    secrets = [password, base64.b64encode(f"user:{password}".encode()).decode()]  # also the Basic auth header
    server.user, server.password = "user", password
    server.start()
    url = server.url()
    assert password in url
    caplog.set_level(1)  # everything, FFmpeg's DEBUG (level 5) included
    caplog.set_level(1, logger="libav")  # PyAV holds its loggers at WARNING
    av.logging.set_level(av.logging.TRACE)  # FFmpeg at its most talkative
    texts: list[str] = []
    try:
        source = open_source(url, backoff=(0.2,), **FAST)
        texts += [source.name, repr(source)]
        capture = CaptureThread(source)
        consumer = FrameLog(capture)
        texts.append(capture.name)
        try:
            assert wait_until(lambda: len(consumer.frames) >= 5, 5)
            server.kill()
            assert wait_until(lambda: source.connection.attempts >= 1, 3)
            texts += [str(source.connection), source.connection.describe()]
            server.start()
            assert wait_until(lambda: source.connection.reconnects == 1 and source.connection.connected, 6)
        finally:
            consumer.stop()
        wrong = server.url(password="wr0ngPW")
        errors = []
        for attempt in (lambda: open_source(wrong, **FAST),  # fails fast: retrying cannot fix it
                        lambda: StreamSource(wrong, **FAST),
                        lambda: open_source(url.replace(f":{server.port}/", ":9/"), reconnect=False, **FAST)):
            with pytest.raises(SourceError) as info:
                attempt()
            errors.append(info.value)
        assert "401 Unauthorized" in str(errors[0]) and "Connection refused" in str(errors[2])
        texts += [str(e) for e in errors] + [repr(e) for e in errors] + [str(e.__cause__) for e in errors]
        patient = ReconnectingSource(wrong, fail_fast=False, backoff=(0.2,), **FAST)
        texts += [patient.connection.describe()]
        patient.close()
    finally:
        av.logging.set_level(None)
    records = caplog.records
    texts += [r.getMessage() for r in records] + [caplog.text]
    out, err = capfd.readouterr()
    texts += [out, err]
    assert any(r.name.startswith("libav") and r.levelno < logging.DEBUG for r in records)  # FFmpeg spoke
    assert any("Authorization: ***" in r.getMessage() for r in records)  # ... and was redacted
    assert any("connection lost" in r.getMessage() for r in records)
    assert any("user:***@127.0.0.1" in t for t in texts)
    leaks = [t for t in texts if any(s in t for s in secrets)]
    assert not leaks, leaks[:3]


def test_the_segment_names_never_hold_the_url(tmp_path, server):
    server.user, server.password = "user", "s3cretPW"
    server.start()
    with open_source(server.url(), **FAST) as source, SegmentedRecorder(tmp_path, 0.3) as recorder:
        for _ in range(2 * FPS):  # the first ~0.5 s come in a burst
            frame = source.read()
            recorder.write(frame.image, frame.t_capture)
    names = [p.name for p in Path(tmp_path).iterdir()]
    assert len(names) >= 2 and all(n.startswith("rec-") and "s3cret" not in n and "127.0.0.1" not in n
                                   for n in names)
