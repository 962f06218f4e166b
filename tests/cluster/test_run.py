"""`fastsam-video run --ray local` as a user runs it (a real process starting its own Ray), and
the single-machine path that never imports ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import av
import numpy as np
import pytest
from PIL import Image

from ..conftest import SAMPLES

CLIP = SAMPLES / "clips" / "crossing" / "video.mp4"
FLAGS = ["--imgsz", "320", "--device", "cpu", "--backend", "torch", "--point", "40,70"]


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
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_ADDRESS": "127.0.0.1:9"}
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
