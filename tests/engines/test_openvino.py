"""The OpenVINO engine: ONNX Runtime's masks, compiled once and cached, and `--backend auto`'s
measured choice, cached per model and CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fastsam_video.assets import cache_dir
from fastsam_video.engines import choice, open_engine
from fastsam_video.engines.openvino import OpenVinoSegmenter
from fastsam_video.engines.quantize import agreement, frames_of
from fastsam_video.options import ModelOptions
from fastsam_video.types import WeightsError
from tests.conftest import ROOT, SAMPLES, SHARED_CLIPS, clip_dirs


@pytest.fixture(scope="module")
def openvino_segmenter():
    return OpenVinoSegmenter()


def mixed_frames() -> list[np.ndarray]:
    """The sample images, frames of every sample clip, and of the real clips when they are here."""
    frames = [cv2.imread(str(p)) for p in sorted((SAMPLES / "images").glob("scene?.jpg"))]
    for clip in clip_dirs():
        frames += frames_of(clip / "video.mp4", 4)
    for name in ("blackswan.mp4", "aquarium.mp4"):
        if (SHARED_CLIPS / name).is_file():
            frames += frames_of(SHARED_CLIPS / name, 4)
    return frames


def test_openvino_masks_are_onnx_runtimes(segmenter, openvino_segmenter):
    assert openvino_segmenter.backend == "openvino" and openvino_segmenter.precision == "fp32 openvino"
    frames = mixed_frames()
    reference = [segmenter.segment(f) for f in frames]
    got = [openvino_segmenter.segment(f) for f in frames]
    assert sum(map(len, reference)) > 50
    recall, mask_iou = agreement(reference, got)
    assert recall >= 0.98 and mask_iou >= 0.95, (recall, mask_iou)
    for ref, seg in zip(reference, got):  # FP32 both: the same boxes and scores, within float error
        if len(ref) == len(seg):
            assert np.allclose(ref.scores, seg.scores, atol=2e-3)


def test_any_input_shape_and_batch(segmenter, openvino_segmenter):
    image = cv2.imread(str(SAMPLES / "images" / "scene0.jpg"))
    tall = np.ascontiguousarray(image.transpose(1, 0, 2)[:, :200])
    for frames in ([image], [tall], [image, tall]):
        batch, _ = segmenter.preprocess(frames)
        for want, have in zip(segmenter.forward(batch), openvino_segmenter.forward(batch)):
            assert have.shape == want.shape and have.dtype == np.float32
            assert np.allclose(have, want, rtol=1e-3, atol=5e-2)


def test_the_compiled_network_is_cached(openvino_segmenter):
    assert any((cache_dir() / "openvino").glob("*.blob"))


def test_auto_measures_once_and_says_what_it_chose(monkeypatch):
    engine = open_engine(ModelOptions(device="cpu", backend="auto"))
    assert engine.backend in ("onnx", "openvino")
    assert "(auto: openvino " in engine.precision and engine.precision.startswith(f"fp32 {engine.backend}")
    known = json.loads((cache_dir() / "backend-choice.json").read_text())
    assert any(set(ms) == {"onnx", "openvino"} for ms in known.values())

    def measure_again(*args):
        raise AssertionError("measured again although the choice is cached")

    monkeypatch.setattr(choice, "measure", measure_again)
    assert open_engine(ModelOptions(device="cpu")).backend == engine.backend


def test_missing_openvino_is_one_line_and_auto_keeps_onnx_runtime(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    monkeypatch.setattr("fastsam_video.engines.installed", lambda m: m != "openvino")
    with pytest.raises(WeightsError, match="needs openvino, which is not installed.*--backend onnx") as err:
        OpenVinoSegmenter(warmup=False)
    assert "\n" not in str(err.value)
    assert open_engine(ModelOptions(device="cpu")).backend == "onnx"


def test_int8_where_the_backend_cannot_run_it_is_refused_with_one_line():
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(SAMPLES / "clips" / "crossing" /
                           "video.mp4"), "--int8", "--backend", "onnx", "--no-window"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["fastsam-video: error: --int8 needs the openvino backend; onnx "
                                                "cannot run the INT8 model: use --backend openvino (or auto), or "
                                                "drop --int8"]


def cpu_has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bfloat16 kernels (AMX or AVX-512 BF16)")
def test_bf16_keeps_fp32s_instances_and_masks(segmenter):
    engine = open_engine(ModelOptions(device="cpu", bf16=True))
    assert engine.backend == "openvino" and engine.precision == "bf16 openvino"
    frames = mixed_frames()
    reference = [segmenter.segment(f) for f in frames]
    assert sum(map(len, reference)) > 50
    recall, mask_iou = agreement(reference, [engine.segment(f) for f in frames])
    assert recall >= 0.98 and mask_iou >= 0.95, (recall, mask_iou)


def test_bf16_on_a_cpu_without_bf16_kernels_is_one_line(monkeypatch):
    import openvino as ov

    capabilities = ov.Core.get_property
    monkeypatch.setattr(ov.Core, "get_property", lambda self, device, name: ["FP32", "INT8"]
                        if name == "OPTIMIZATION_CAPABILITIES" else capabilities(self, device, name))
    with pytest.raises(WeightsError, match=r"--bf16: this CPU \(.*\) has no bfloat16 kernels.*drop --bf16") as err:
        OpenVinoSegmenter(bf16=True, warmup=False)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("flags, message", [
    (["--bf16", "--backend", "onnx"], "--bf16 needs the openvino backend; onnx cannot run in bfloat16: use "
                                      "--backend openvino (or auto), or drop --bf16"),
    (["--bf16", "--int8"], "--int8 and --bf16 are two precisions of one model: pick one"),
])
def test_bf16_where_it_cannot_run_is_refused_with_one_line(flags, message):
    done = subprocess.run([sys.executable, "-m", "fastsam_video", "run", str(SAMPLES / "clips" / "crossing" /
                           "video.mp4"), *flags, "--no-window"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"fastsam-video: error: {message}"]
