"""Retention: the oldest finished segments go first, the one being written never; a real recording
with 2 s segments stays under its cap plus one segment."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from fastsam_video.retention import DAY, Retention, Rule, enforce, parse_size
from tests.web.conftest import still_clip


def segment(folder, name, size, age_s):
    path = folder / name
    path.write_bytes(b"\0" * size)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return path


def test_sizes_parse_like_a_user_writes_them():
    assert parse_size("500MB") == 500 * 10**6 and parse_size("20GB") == 20 * 10**9
    assert parse_size("1.5GiB") == int(1.5 * 2**30) and parse_size("4096") == 4096
    for bad in ("lots", "-5MB", "5 parsecs", ""):
        with pytest.raises(ValueError, match="expected a size like 500MB"):
            parse_size(bad)


def test_oldest_finished_first_never_the_one_being_written(tmp_path):
    old = [segment(tmp_path, f"rec-{i}.mp4", 1000, 1000 - i) for i in range(5)]  # rec-0 oldest
    writing = segment(tmp_path, "rec-5.mp4", 1000, 0)
    other = segment(tmp_path, "notes.txt", 5000, 5000)  # not a recording: never touched
    deleted = enforce(Rule(tmp_path, max_bytes=3500), {writing})
    assert deleted == old[:3]  # 6000 -> 3000 bytes, oldest first
    assert writing.exists() and other.exists() and all(p.exists() for p in old[3:])
    assert enforce(Rule(tmp_path, max_bytes=1), {writing}) == old[3:]  # even over the cap: the open file stays
    assert writing.exists()


def test_a_segment_that_rolls_during_a_check_is_never_deleted(tmp_path):
    """The open files are asked for after the folder is listed (a cluster's camera actors answer
    over the network): a roll in between finishes a listed file and opens one the check never saw."""
    old = segment(tmp_path, "rec-1.mp4", 1000, 100)
    open_then = segment(tmp_path, "rec-2.mp4", 1000, 10)
    rolled_to = tmp_path / "rec-3.mp4"

    def writing():  # the camera rolls to rec-3 while the check runs
        rolled_to.write_bytes(b"\0" * 1000)
        return {rolled_to}

    assert enforce(Rule(tmp_path, max_bytes=1), writing) == [old, open_then]
    assert rolled_to.exists()
    rolled_to.unlink()
    retention = Retention([Rule(tmp_path, max_bytes=1)], writing)  # the thread's check asks the same way
    assert retention.check() == [] and rolled_to.exists()


def test_days_and_per_camera_folders(tmp_path):
    cam = tmp_path / "yard"
    cam.mkdir()
    stale = segment(tmp_path, "a.mp4", 10, 3 * DAY)
    fresh = segment(tmp_path, "b.mp4", 10, 0.5 * DAY)
    cam_old = segment(cam, "c.mp4", 10, 3 * DAY)  # the camera keeps 5 days: stays
    retention = Retention([Rule(tmp_path, keep_days=2), Rule(cam, keep_days=5)], lambda: set())
    assert retention.check() == [stale]
    assert fresh.exists() and cam_old.exists()
    assert (retention.deleted_files, retention.deleted_bytes) == (1, 10)


@pytest.mark.slow
def test_a_recording_with_2_s_segments_stays_under_the_cap_plus_one_segment(tmp_path):
    clip = still_clip(tmp_path, frames=240, fps=15)  # 16 s: 8 segments
    folder = tmp_path / "rec"
    folder.mkdir()
    cap = 150_000  # about two 2 s segments of this clip
    samples, done = [], threading.Event()

    def watch():
        while not done.is_set():
            sizes = [p.stat().st_size for p in folder.glob("*.mp4") if p.exists()]
            samples.append((sum(sizes), max(sizes, default=0)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(clip), "--realtime",
                                 "--record", f"{folder}/", "--segment-seconds", "2", "--keep-max-size", f"{cap}",
                                 "--imgsz", "160", "--backend", "onnx"],
                                capture_output=True, text=True, timeout=180)
    finally:
        done.set()
        watcher.join()
    assert result.returncode == 0, result.stderr[-2000:]
    deleted = [line for line in result.stderr.splitlines() if "retention: deleted" in line]
    segments = [line for line in result.stderr.splitlines() if "recording segment" in line]
    assert len(segments) >= 6 and deleted  # it rolled, and retention deleted the oldest
    largest = max(biggest for _, biggest in samples)
    worst = max(total for total, _ in samples)
    assert worst <= cap + largest, (worst, cap, largest)
    left = sorted(folder.glob("*.mp4"))
    assert left and str(left[-1]) in segments[-1]  # the newest segment is kept
    print(f"cap {cap} B, largest segment {largest} B, worst total {worst} B, {len(deleted)} deleted "
          f"of {len(segments)} segments")
