"""The real `fastsam-video gui` process (offscreen) stopped by SIGTERM / SIGINT: while it records
a live source (the recording must play), and while its camera is down and reconnecting. It
closes within 10 s and exits with 128 + the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
import pytest

pytestmark = [pytest.mark.qt, pytest.mark.timeout(150)]

LIVE = "lavfi:testsrc2=size=320x240:rate=15,realtime"  # endless, like a camera
DOWN = "rtsp://127.0.0.1:9/x"  # refused: the camera keeps reconnecting


def frames_in(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def ignore_sigint() -> None:  # as in a background job of a script: SIGINT ignored at start
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_gui(tmp_path, model, source: str, signum: int, ready, *extra: str) -> tuple[int, float, str]:
    """Starts the gui on `source`, waits until `ready(stderr)`, sends `signum`; returns
    (exit status, seconds from the signal to the exit, stderr)."""
    log = tmp_path / "stderr.txt"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", YOLO_VERBOSE="False", XDG_CONFIG_HOME=str(tmp_path))
    with open(log, "w") as err:
        process = subprocess.Popen([sys.executable, "-m", "fastsam_video", "gui", source, "--model", model, "--imgsz",
                                    "320", "--device", "cpu", *extra], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err, preexec_fn=ignore_sigint)
    try:
        deadline = time.monotonic() + 100
        while not ready(log.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        time.sleep(1.0)
        sent = time.monotonic()
        process.send_signal(signum)
        process.wait(timeout=10)
        return process.returncode, time.monotonic() - sent, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_the_window_and_finalises_the_recording(tmp_path, ui_segmenter, signum):
    target = tmp_path / "rec.mp4"

    def recording(_: str) -> bool:
        return target.exists() and target.stat().st_size > 2000

    code, took, stderr = stop_gui(tmp_path, str(ui_segmenter.weights), LIVE, signum, recording, "--record",
                                  str(target))
    print(f"{signal.Signals(signum).name} while recording: exit {code} in {took:.2f} s")
    assert code == 128 + signum, stderr[-2000:]
    assert f"{signal.Signals(signum).name}: closing the window" in stderr
    assert frames_in(target) >= 5  # finalised: the whole file decodes
    settings = (tmp_path / "fastsam-video" / "fastsam-video.conf").read_text()
    assert "recent_sources=" in settings and "geometry=" in settings  # written before the exit


def test_sigterm_while_the_camera_reconnects(tmp_path, ui_segmenter):
    code, took, stderr = stop_gui(tmp_path, str(ui_segmenter.weights), DOWN, signal.SIGTERM,
                                  lambda text: "retrying in" in text)
    print(f"SIGTERM while reconnecting: exit {code} in {took:.2f} s")
    assert code == 143, stderr[-2000:]
