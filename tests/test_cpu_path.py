"""The command line on the CPU with the shipped ONNX model: `image`, `run` and `demo` do their
whole job (a PNG, a recording that plays, tracked objects) with no PyTorch in the process."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import av
import cv2
import pytest

from .conftest import ROOT, SAMPLES

HEAVY = ("torch", "torchvision", "ultralytics")

# main() rather than entry(): entry() leaves with os._exit, before the modules could be listed
PROBE = """
import sys
from fastsam_video.cli import main
code = main(sys.argv[1:])
print("loaded:", " ".join(m for m in {heavy!r} if m in sys.modules), flush=True)
sys.exit(code)
"""


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": "", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


def loaded(out: subprocess.CompletedProcess) -> list[str]:
    line = next(line for line in out.stdout.splitlines() if line.startswith("loaded:"))
    return line.split()[1:]


def frames_in(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_image_writes_its_png_without_pytorch(tmp_path):
    out = run_cli("image", str(SAMPLES / "images" / "scene0.jpg"), "--point_prompt", "[[160,120]]",
                  "--output", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert loaded(out) == []
    assert re.search(r"cpu, fp32 (onnx|openvino \(auto: openvino [\d.]+x onnx\))", out.stdout), out.stdout
    png = cv2.imread(str(tmp_path / "scene0.png"))
    assert png is not None and png.shape[:2] == cv2.imread(str(SAMPLES / "images" / "scene0.jpg")).shape[:2]


@pytest.mark.slow
def test_run_records_every_frame_and_tracks_without_pytorch(tmp_path):
    clip = SAMPLES / "clips" / "crossing" / "video.mp4"
    out = run_cli("run", str(clip), "--point", "40,70", "--record", str(tmp_path / "out.mp4"),
                  "--export-coco", str(tmp_path / "coco.json"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert loaded(out) == []
    assert frames_in(tmp_path / "out.mp4") == 60
    assert "first frame" in out.stderr and (tmp_path / "coco.json").stat().st_size > 0


@pytest.mark.slow
def test_demo_tracks_the_bundled_clip_without_pytorch(tmp_path):
    out = run_cli("demo", "--record", str(tmp_path / "demo.mp4"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert loaded(out) == []
    assert "objects tracked" in out.stdout
    assert frames_in(tmp_path / "demo.mp4") > 0
