"""INT8 (NNCF post-training quantization, OpenVINO): measured against ONNX Runtime FP32 on frames
it was not calibrated on, cached, and what `--int8` and `quantize` do with it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fastsam_video.assets import bundled_onnx
from fastsam_video.engines import open_engine, quantize
from fastsam_video.options import ModelOptions
from tests.conftest import ROOT, clip_dirs

pytestmark = pytest.mark.skipif(any(__import__("importlib").util.find_spec(m) is None for m in ("nncf", "openvino")),
                                reason="nncf / openvino are not installed")
IMGSZ = 320


@pytest.fixture(scope="module")
def int8_model():
    """The bundled model quantized on a few frames of three sample clips (seconds), into the test cache."""
    clips = clip_dirs()
    assert len(clips) >= 4
    frames = [f for clip in clips[:3] for f in quantize.frames_of(clip / "video.mp4", 5)]
    return quantize.quantize(bundled_onnx(), frames, IMGSZ, source="three sample clips")


def test_int8_keeps_fp32s_instances_and_masks_on_held_out_clips(segmenter, int8_model):
    from fastsam_video.engines.openvino import OpenVinoSegmenter

    int8 = OpenVinoSegmenter(ir_path=int8_model, imgsz=IMGSZ)
    assert int8.precision == "int8 openvino"
    held_out = [f for clip in clip_dirs()[3:] for f in quantize.frames_of(clip / "video.mp4", 20)]
    reference = [segmenter.segment(f) for f in held_out]
    assert sum(map(len, reference)) >= 40
    recall, mask_iou = quantize.agreement(reference, [int8.segment(f) for f in held_out])
    assert recall >= 0.98 and mask_iou >= 0.95, (recall, mask_iou)


def test_int8_option_runs_the_cached_model_without_quantizing_again(int8_model, monkeypatch):
    def quantize_again(*args, **kwargs):
        raise AssertionError("quantized again although the cache holds the INT8 model")

    monkeypatch.setattr(quantize, "quantize", quantize_again)
    engine = open_engine(ModelOptions(device="cpu", int8=True, imgsz=IMGSZ))
    assert engine.precision == "int8 openvino" and engine.model_path == int8_model


def test_quantize_command_reports_agreement_and_a_bad_video_is_one_line(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "quantize", "--calib", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(
        f"fastsam-video: error: cannot read {bad} as a video for calibration")


def test_agreement_counts_missing_instances_and_mask_overlap(segmenter):
    import cv2

    from tests.conftest import SAMPLES

    seg = segmenter.segment(cv2.imread(str(SAMPLES / "images" / "scene1.jpg")))
    assert len(seg) >= 2
    assert quantize.agreement([seg], [seg]) == (1.0, 1.0)
    recall, mask_iou = quantize.agreement([seg], [seg.select(np.arange(1, len(seg)))])
    assert recall == pytest.approx((len(seg) - 1) / len(seg)) and mask_iou == 1.0
