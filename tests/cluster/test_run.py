"""`fastsam-video run --ray local` as a user runs it (a real process starting its own Ray), and
the single-machine path that never imports ray."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
from PIL import Image

from ..conftest import SAMPLES
from ..media import write_repeated

CLIP = SAMPLES / "clips" / "crossing" / "video.mp4"
FLAGS = ["--imgsz", "320", "--device", "cpu", "--backend", "torch", "--point", "40,70"]
# loopback only, no token between test processes, workers on this interpreter (not a uv environment)
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}


def frames_in(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def first_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


def test_single_machine_run_and_serve_never_import_ray(tmp_path):
    code = ("import sys\n"
            "from fastsam_video.cli import main\n"
            f"code = main(['run', {str(CLIP)!r}, '--max-frames', '3', '--record', {str(tmp_path / 'out.mp4')!r}, "
            f"*{FLAGS!r}])\n"
            "from fastsam_video.web import app, server, service\n"
            "print(code, sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "0 []", result.stdout + result.stderr[-2000:]
    assert frames_in(tmp_path / "out.mp4") == 3


@pytest.mark.cluster
@pytest.mark.timeout(600)
def test_run_ray_local_records_every_frame_of_a_file(tmp_path):
    pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")
    with av.open(str(CLIP)) as container:
        frames = container.streams.video[0].frames
    # RAY_ADDRESS names another cluster (nothing listens there): `--ray local` must start its own and
    # never join another, since it shuts Ray and Serve down when it ends
    env = {**os.environ, **RAY_ENV, "RAY_ADDRESS": "127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(CLIP), "--ray", "local",
                             "--record", str(tmp_path / "out.mp4"), "--export-masks", str(tmp_path / "masks"),
                             "--export-coco", str(tmp_path / "coco.json"), "--hud", *FLAGS],
                            capture_output=True, text=True, timeout=500, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert frames_in(tmp_path / "out.mp4") == frames
    assert f"done: {frames} frames" in result.stderr, result.stderr[-2000:]  # the summary from the cluster's status
    # the exports, written on the camera's node: every frame, the prompted object in each
    pngs = sorted((tmp_path / "masks").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(frames)]
    assert all(1 in np.unique(np.array(Image.open(p))) for p in pngs[:5])
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert len(coco["images"]) == frames and {a["image_id"] for a in coco["annotations"]} >= {coco["images"][0]["id"]}
    # --hud: the recording carries the stats band (darkened top-left corner, white text on it)
    recorded, source = (first_frame(path)[:30, :100].astype(float) for path in (tmp_path / "out.mp4", CLIP))
    assert np.median(recorded) < 0.6 * np.median(source) and (recorded > 200).any()


@pytest.mark.parametrize("address, expected", [("127.0.0.1:9", "nothing answers there"),
                                               ("nowhere", "expected auto, local or host:port")])
def test_a_cluster_address_with_nothing_behind_it_fails_in_seconds(address, expected):
    pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(CLIP), "--ray", address],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and expected in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 60  # Ray alone retries for minutes


def slow_clip(path, fps: int = 10, repeats: int = 2) -> int:
    """The crossing clip played `repeats` times at `fps`: seconds of moving objects for segments to roll."""
    return write_repeated(CLIP, path, repeats, fps)


@pytest.mark.cluster
@pytest.mark.timeout(600)
def test_run_ray_local_retention_deletes_the_oldest_finished_segments_never_the_open_one(tmp_path):
    pytest.importorskip("ray", reason="the cluster extra is not installed (uv sync --extra cluster)")
    slow_clip(tmp_path / "moving.mp4")  # 12 s at 10 fps: six 2 s segments, played at its rate
    folder = tmp_path / "rec"
    cap = 300_000  # about two segments of this clip (one is ~145 kB)
    samples, done = [], threading.Event()  # the folder's {segment index: bytes}, every 50 ms

    def watch():
        while not done.is_set():
            found = {}
            for path in folder.glob("cam-*.mp4"):
                try:
                    found[int(path.stem.split("-")[1])] = path.stat().st_size
                except OSError:  # deleted meanwhile
                    pass
            samples.append(found)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(tmp_path / "moving.mp4"),
                                 "--ray", "local", "--realtime", "--record", str(folder / "cam.mp4"),
                                 "--segment-seconds", "2", "--keep-max-size", str(cap), "--imgsz", "160",
                                 "--device", "cpu", "--backend", "torch"],
                                capture_output=True, text=True, timeout=500, env={**os.environ, **RAY_ENV})
    finally:
        done.set()
        watcher.join()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "retention is off" not in result.stderr
    deleted = [int(m) for m in re.findall(r"retention: deleted \S*cam-(\d+)\.mp4", result.stderr)]
    written = sorted(set().union(*samples))
    assert len(written) >= 5 and deleted, result.stderr[-3000:]  # it rolled, and retention deleted some
    assert deleted == list(range(1, len(deleted) + 1)), deleted  # the oldest first
    # never the one being written: whenever a segment went, a newer one was already there
    for before, after in zip(samples, samples[1:]):
        for gone in before.keys() - after.keys():
            assert after and max(after) > gone, f"segment {gone} deleted while it was the newest"
    largest = max(max(s.values(), default=0) for s in samples)
    worst = max(sum(s.values()) for s in samples)
    assert worst <= cap + largest, (worst, cap, largest)
    kept = sorted(int(p.stem.split("-")[1]) for p in folder.glob("cam-*.mp4"))
    assert kept and kept == list(range(kept[0], written[-1] + 1))  # the newest ones, the last one whole
    assert all(frames_in(folder / f"cam-{i:03d}.mp4") > 0 for i in kept)
    print(f"cap {cap} B, largest segment {largest} B, worst total {worst} B, deleted {deleted} of "
          f"{len(written)} segments")
