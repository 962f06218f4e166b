"""The real `fastsam-video gui` process (offscreen) stopped by SIGTERM / SIGINT while it
records a live source: it closes within 10 s, exits 128 + the signal, and the recording plays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
import pytest

pytestmark = [pytest.mark.qt, pytest.mark.timeout(120)]

LIVE = "lavfi:testsrc2=size=320x240:rate=15,realtime"  # endless, like a camera


def frames_in(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_the_window_and_finalises_the_recording(tmp_path, ui_segmenter, signum):
    target = tmp_path / "rec.mp4"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", YOLO_VERBOSE="False", XDG_CONFIG_HOME=str(tmp_path))

    def ignore_sigint() -> None:  # as in a background job of a script: SIGINT ignored at start
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen(
        [sys.executable, "-m", "fastsam_video", "gui", LIVE, "--record", str(target), "--model",
         str(ui_segmenter.weights), "--imgsz", "320", "--device", "cpu"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ignore_sigint)
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 90
        while not (target.exists() and target.stat().st_size > 2000) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1][-2000:]
            time.sleep(0.2)
        assert target.exists(), "the recording never started"
        time.sleep(1.0)  # a few more frames
        sent = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    print(f"{signal.Signals(signum).name}: started in {sent - started:.1f} s, stopped in {took:.2f} s")
    assert process.returncode == 128 + signum, stderr[-2000:]
    assert took < 10
    assert f"{signal.Signals(signum).name}: closing the window" in stderr
    assert frames_in(target) >= 5  # finalised: the whole file decodes
