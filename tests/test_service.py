"""`fastsam-video run` as a service runs it: real processes, real signals, real files.

SIGTERM and SIGINT (also when SIGINT was ignored at start, as for `cmd &` in a script) stop
it within 10 s, also while cameras are reconnecting or frozen, with the recording playable
and the COCO export valid; a second signal exits at once; set-up failures exit with one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import av
import pytest

from .conftest import SAMPLES
from .rtsp_server import RtspServer, free_port, unavailable

LIVE = "lavfi:testsrc2=size=320x240:rate=30,realtime"
STOP_SECONDS = 10.0  # the promise: a signal to an exit


def start(tmp_path, *args, ignore_sigint: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "fastsam_video", "run", *map(str, args), "--no-window"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None)


def wait_for_recording(process: subprocess.Popen, path, size: int = 20_000, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > size):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no recording after {timeout} s:\n{process.communicate()[0].decode()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen, signum: int) -> tuple[float, str]:
    """Sends `signum`; returns the seconds until the process exited, and its output."""
    sent = time.monotonic()
    process.send_signal(signum)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running 60 s after {signal.Signals(signum).name}:\n{process.communicate()[0].decode()}")
    return time.monotonic() - sent, out.decode()


def decoded(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def coco_images(path) -> int:
    coco = json.loads(path.read_text())  # complete, valid JSON
    assert {"images", "annotations", "categories"} <= set(coco)
    return len(coco["images"])


@pytest.mark.parametrize("signum, code, ignore_sigint", [
    (signal.SIGTERM, 143, False),
    (signal.SIGINT, 130, True),  # started like `cmd &` from a script: SIGINT ignored, our handler installed anyway
])
def test_a_signal_stops_gracefully_with_the_outputs_complete(tmp_path, signum, code, ignore_sigint):
    process = start(tmp_path, LIVE, "--record", "r.mp4", "--export-coco", "c.json", ignore_sigint=ignore_sigint)
    wait_for_recording(process, tmp_path / "r.mp4")
    took, out = stop(process, signum)
    assert process.returncode == code, out
    assert took < STOP_SECONDS, out
    assert f"stopped by {signal.Signals(signum).name}" in out  # the final summary
    frames = decoded(tmp_path / "r.mp4")
    assert frames >= 10
    assert coco_images(tmp_path / "c.json") >= frames  # every recorded frame is in the export


@pytest.fixture
def rtsp():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with RtspServer(fps=25, seconds=120) as server:
        yield server


def test_sigterm_stops_within_10_s_while_cameras_are_frozen_or_reconnecting(tmp_path, rtsp):
    dead = f"rtsp://127.0.0.1:{free_port()}/x"  # nobody listens: reconnecting with backoff
    process = start(tmp_path, LIVE, rtsp.url(), rtsp.url(), rtsp.url(), dead, "--record", "r.mp4",
                    "--export-coco", "c.json", "--read-timeout", "3", "--open-timeout", "3")
    wait_for_recording(process, tmp_path / "r-cam1.mp4")
    wait_for_recording(process, tmp_path / "r-cam2.mp4", size=5_000)
    rtsp.freeze()  # three cameras frozen mid-stream: each read blocks until its timeout
    time.sleep(1.0)
    took, out = stop(process, signal.SIGTERM)
    rtsp.thaw()
    assert process.returncode == 143, out
    assert took < STOP_SECONDS, out  # one read timeout (3 s), not three
    assert decoded(tmp_path / "r-cam1.mp4") >= 10 and decoded(tmp_path / "r-cam2.mp4") >= 1
    assert coco_images(tmp_path / "c-cam1.json") >= 10
    # the camera that never came up: outputs appear with a camera's first frame, so none for it
    assert not (tmp_path / "c-cam5.json").exists() and not (tmp_path / "r-cam5.mp4").exists()


def test_a_second_signal_exits_at_once(tmp_path, rtsp):
    process = start(tmp_path, rtsp.url(), "--record", "r.mp4", "--read-timeout", "8", "--open-timeout", "3")
    wait_for_recording(process, tmp_path / "r.mp4", size=5_000)
    rtsp.freeze()  # the graceful stop now waits for the read timeout (8 s)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    took, out = stop(process, signal.SIGINT)
    rtsp.thaw()
    assert process.returncode == 130, out  # the second signal's code
    assert took < 2.0, out
    assert "SIGINT again: exiting now" in out


# ---------------------------------------------------------------- set-up errors never hang

def run_to_end(tmp_path, *args, timeout: float = 120) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fastsam_video", *map(str, args)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=timeout)
    return result.returncode, (result.stdout + result.stderr).strip(), time.monotonic() - started


def test_an_output_failing_after_another_opened_exits_with_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    code, out, _ = run_to_end(tmp_path, "run", LIVE, "--record", "r.mp4", "--export-coco", "notes.txt/c.json",
                              "--no-window")  # used to print its error and never exit
    assert code == 2, out
    errors = [line for line in out.splitlines() if "error" in line]
    assert len(errors) == 1 and "notes.txt" in errors[0], out
    assert "Traceback" not in out
    assert not (tmp_path / "r.mp4").exists()  # no 0-byte recording left behind


def test_a_model_that_fails_to_load_exits_with_one_line(tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"\x80\x02 not a checkpoint")
    code, out, _ = run_to_end(tmp_path, "run", SAMPLES / "clips" / "crossing" / "video.mp4", "--model", "broken.pt",
                              "--record", "r.mp4", "--no-window")
    assert code == 2, out
    assert out.splitlines() == ["fastsam-video: error: broken.pt is not a readable FastSAM / YOLOv8-seg checkpoint "
                                "(empty, cut short or not a PyTorch file): re-download it or pass another --model"]


@pytest.mark.parametrize("flag, value, allowed", [
    ("--imgsz", "-5", "an integer of at least 32"),
    ("--imgsz", "0", "an integer of at least 32"),
    ("--conf", "2", "a number from 0 to 1"),
    ("--iou", "-0.1", "a number from 0 to 1"),
    ("--max-frames", "0", "a positive integer"),
    ("--read-timeout", "0", "a positive number"),
    ("--segment-seconds", "-1", "a positive number"),
    ("--max-det", "many", "a positive integer"),
    ("--export-coco", ".", "a file name"),
])
def test_bad_options_exit_2_with_one_line_before_anything_loads(tmp_path, flag, value, allowed):
    code, out, took = run_to_end(tmp_path, "run", "clip.mp4", f"{flag}={value}", timeout=30)
    assert code == 2
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fastsam-video run: error: argument {flag}: expected {allowed}")
    assert lines[0].endswith((f"got {value}", f"got {value!r}", f"got the folder {value!r}"))
    assert took < 10  # no model, not even torch, is loaded for a usage error
