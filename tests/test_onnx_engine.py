"""The CPU engine without PyTorch: the same masks as the PyTorch path, no torch in the process,
the ONNX file found (shipped or cached) and clear errors for a bad one."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from fastsam_video import assets
from fastsam_video.engines import export, onnx_file, onnxrt
from fastsam_video.decoding import nms
from fastsam_video.engines.export import find_onnx
from fastsam_video.engines.onnxrt import OnnxSegmenter
from fastsam_video.options import ModelOptions
from fastsam_video.types import WeightsError
from tests.conftest import ROOT, SAMPLES, clip_dirs

HEAVY = ("torch", "torchvision", "ultralytics")


@pytest.fixture(scope="module")
def segmenter(torch_segmenter):
    """The PyTorch engine: the reference these tests hold the ONNX engine to."""
    return torch_segmenter


@pytest.fixture(scope="module")
def onnx_segmenter():
    return OnnxSegmenter()


def sample_frames(per_clip: int = 3) -> list[np.ndarray]:
    """The sample images and the first frames of each sample clip."""
    frames = [cv2.imread(str(p)) for p in sorted((SAMPLES / "images").glob("scene*.jpg"))]
    for clip in clip_dirs():
        capture = cv2.VideoCapture(str(clip / "video.mp4"))
        for _ in range(per_clip):
            ok, frame = capture.read()
            if ok:
                frames.append(frame)
        capture.release()
    return frames


def pytorch_reference(segmenter, image: np.ndarray):
    """The PyTorch path end to end: PyTorch forward, ultralytics' NMS and torch mask sampling (the GPU code)."""
    output = segmenter.infer([image])
    with torch.inference_mode():
        return segmenter.decode_on_device(torch.from_numpy(output.raw), torch.from_numpy(output.proto),
                                          list(output.letterboxes), list(output.shapes))[0]


def assert_same_segmentation(ref, got, what: str) -> None:
    assert len(got) == len(ref), f"{what}: {len(got)} masks, PyTorch {len(ref)}"
    inter = (ref.masks[:, None] & got.masks[None]).sum((2, 3))
    union = (ref.masks[:, None] | got.masks[None]).sum((2, 3))
    ious = inter / np.maximum(union, 1)
    match = ious.argmax(1)  # each PyTorch mask's best ONNX mask
    assert len(set(match.tolist())) == len(ref), f"{what}: two masks match the same one"
    best = ious[np.arange(len(ref)), match]
    assert best.min() >= 0.99, f"{what}: mask IoUs {best.round(4).tolist()}"
    assert np.allclose(ref.boxes, got.boxes[match], atol=0.5), what
    assert np.allclose(ref.scores, got.scores[match], atol=1e-3), what


@pytest.mark.parametrize("retina", [True, False], ids=["retina", "nearest"])
def test_masks_match_the_pytorch_path_on_sample_images_and_clip_frames(segmenter, onnx_segmenter, retina):
    reference, engine = copy.copy(segmenter), copy.copy(onnx_segmenter)
    reference.retina = engine.retina = retina
    frames = sample_frames()
    assert len(frames) >= 10
    found = 0
    for i, frame in enumerate(frames):
        ref, got = pytorch_reference(reference, frame), engine.segment(frame)
        assert got.masks.dtype == np.bool_ and got.shape == frame.shape[:2]
        assert_same_segmentation(ref, got, f"frame {i}")
        found += len(ref)
    assert found >= 20


def test_nms_keeps_what_ultralytics_keeps_in_its_order(segmenter, still_images):
    from ultralytics.utils.nms import non_max_suppression

    image = cv2.imread(str(still_images[0][0]))
    raw = segmenter.infer([image, cv2.flip(image, 1)]).raw
    for conf, iou, max_det in ((0.4, 0.7, 300), (0.01, 0.5, 300), (0.0, 0.9, 50)):
        theirs = non_max_suppression(torch.from_numpy(raw), conf, iou, agnostic=True, max_det=max_det, nc=1)
        ours = nms(raw, conf, iou, max_det, nc=1)
        for a, b in zip(ours, theirs):
            assert a.shape == tuple(b.shape) and len(a) > 0, (conf, iou)
            assert np.allclose(a, b.numpy(), atol=1e-4), (conf, iou)


def test_greedy_nms_is_torchvisions_with_degenerate_boxes_and_a_limit():
    from torchvision.ops import nms as torchvision_nms

    from fastsam_video.decoding import greedy_nms

    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 100, (200, 2))
    boxes = np.c_[corners, corners + rng.uniform(0, 30, (200, 2))].astype(np.float32)
    boxes[:20, 2:] = boxes[:20, :2]  # zero-area boxes, some duplicated: 0 / 0 IoU suppresses nothing
    boxes[10:20] = boxes[:10]
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    for iou in (0.3, 0.7):
        theirs = torchvision_nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
        assert greedy_nms(boxes, scores, iou).tolist() == theirs.tolist()
        assert greedy_nms(boxes, scores, iou, limit=25).tolist() == theirs[:25].tolist()


def test_interface_and_timings(onnx_segmenter, still_images):
    image = cv2.imread(str(still_images[0][0]))
    assert (onnx_segmenter.imgsz, onnx_segmenter.conf, onnx_segmenter.iou) == (320, 0.4, 0.7)
    assert onnx_segmenter.num_classes == 1 and onnx_segmenter.stride == 32
    assert onnx_segmenter.device_type == "cpu" and onnx_segmenter.backend == "onnx"
    assert "fp32 onnx" in repr(onnx_segmenter)
    batch = onnx_segmenter.segment_batch([image, image[:100]])
    assert [b.shape for b in batch] == [image.shape[:2], (100, image.shape[1])]
    assert set(batch[0].timings) == {"preprocess", "forward", "postprocess"}
    with pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8 BGR, got \(4, 4\) uint8"):
        onnx_segmenter.segment(np.zeros((4, 4), np.uint8))


def no_torch_run(code: str, **env) -> str:
    script = f"import sys, cv2\n{code}\nprint('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("backend, engine", [("onnx", "OnnxSegmenter"), ("openvino", "OpenVinoSegmenter")])
def test_segmenting_imports_neither_torch_torchvision_nor_ultralytics(backend, engine):
    out = no_torch_run(
        "from fastsam_video.engines import open_engine\n"
        "from fastsam_video.options import ModelOptions\n"
        f"s = open_engine(ModelOptions(device='cpu', backend={backend!r}))\n"
        f"seg = s(cv2.imread({str(SAMPLES / 'images' / 'scene1.jpg')!r}))\n"
        "print(type(s).__name__, len(seg))")
    assert out.startswith(f"{engine} ") and int(out.split()[1]) > 0
    assert "HEAVY []" in out


def test_second_run_of_a_checkpoint_finds_its_cached_export_without_torch(segmenter, tmp_path, monkeypatch):
    checkpoint = tmp_path / "mine.pt"
    shutil.copyfile(segmenter.weights, checkpoint)
    cache = tmp_path / "cache"
    assert export.cached_onnx(checkpoint, cache) is None
    # the shipped file is the export of these weights: copying it stands in for a 10 s export, checked all the same
    monkeypatch.setattr(export, "export_onnx", lambda model, target: shutil.copyfile(assets.bundled_onnx(), target))
    forward = onnxrt.OnnxForward(segmenter.model, checkpoint, cache)
    assert forward.exported and export.cached_onnx(checkpoint, cache) == forward.path
    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(cache))
    assert find_onnx(checkpoint) == forward.path
    out = no_torch_run(f"from fastsam_video.engines import open_engine\nfrom fastsam_video.options import ModelOptions\n"
                       f"s = open_engine(ModelOptions({str(checkpoint)!r}, device='cpu', backend='onnx', imgsz=320))\n"
                       f"print(type(s).__name__, s.onnx_path.name)", FASTSAM_VIDEO_CACHE=str(cache))
    assert out.startswith(f"OnnxSegmenter {forward.path.name}") and "HEAVY []" in out


def test_the_options_pick_the_engine(monkeypatch):
    shipped = assets.bundled_onnx()
    assert shipped is not None and shipped.name == "fastsam-video-n.onnx"
    assert onnx_file(ModelOptions(device="cpu")) == shipped
    assert onnx_file(ModelOptions(device="cpu", backend="onnx")) == shipped
    assert onnx_file(ModelOptions(device="cpu", backend="torch")) is None
    assert onnx_file(ModelOptions(device="cuda")) is None
    monkeypatch.setattr("fastsam_video.engines.nvidia_gpu_present", lambda: True)
    assert onnx_file(ModelOptions()) is None  # a GPU: PyTorch
    monkeypatch.setattr("fastsam_video.engines.nvidia_gpu_present", lambda: False)
    assert onnx_file(ModelOptions()) == shipped
    with pytest.raises(WeightsError, match="model file not found"):
        onnx_file(ModelOptions("nope.pt", device="cpu"))


def test_corrupt_onnx_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model" * 100)
    with pytest.raises(WeightsError, match=r"broken.onnx is not a readable ONNX model .*--backend onnx to export "
                                           r"it again, or use --backend torch") as err:
        OnnxSegmenter(onnx_path=bad)
    assert "\n" not in str(err.value)


def test_shipped_onnx_is_not_run_for_a_retrained_checkpoint(tmp_path):
    retrained = tmp_path / assets.BUNDLED_NAME
    retrained.write_bytes(assets.bundled_weights().read_bytes() + b"\0")
    with pytest.raises(WeightsError, match="exported from another fastsam-video-n.pt .*python -m "
                                           "fastsam_video.engines.export"):
        OnnxSegmenter(retrained, onnx_path=assets.bundled_onnx())


def test_no_export_yet_and_gpu_requests_are_clear_errors(tmp_path):
    checkpoint = tmp_path / "never-exported.pt"
    shutil.copyfile(assets.bundled_weights(), checkpoint)
    with pytest.raises(WeightsError, match="no ONNX export of never-exported.pt here yet: run once with "
                                           "--backend onnx"):
        OnnxSegmenter(checkpoint)
    with pytest.raises(WeightsError, match="runs on the CPU, not 'cuda'"):
        OnnxSegmenter(device="cuda")


def test_device_letterbox_matches_the_opencv_one(still_images):
    """The GPU path's letterbox (run here on CPU tensors) gives OpenCV's input, within resampling error."""
    from fastsam_video.decoding import letterbox_batch
    from fastsam_video.engines.pytorch import letterbox_on_device

    image = cv2.imread(str(still_images[0][0]))
    frames = [image, np.ascontiguousarray(image[:, :150]), cv2.resize(image, (640, 480))]
    want, want_boxes = letterbox_batch(frames, 320, 32)
    got, got_boxes = letterbox_on_device([torch.from_numpy(f) for f in frames], 320, 32)
    assert got_boxes == want_boxes and tuple(got.shape) == want.shape
    assert np.abs(got.numpy() - want).mean() < 0.01


def test_a_fastsam_architecture_checkpoint_runs_from_its_cached_export(fastsam_s_checkpoint, tmp_path, monkeypatch):
    from fastsam_video.engines.pytorch import Segmenter

    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(tmp_path))
    reference = Segmenter(fastsam_s_checkpoint, device="cpu", backend="onnx", imgsz=320, conf=0.0, max_det=10)
    assert reference.runtime.exported and find_onnx(fastsam_s_checkpoint) == reference.runtime.path
    engine = OnnxSegmenter(fastsam_s_checkpoint, imgsz=320, conf=0.0, max_det=10)
    assert engine.num_classes == 1 and (engine.iou, engine.conf) == (0.9, 0.0)  # FastSAM's defaults, nc from shapes
    assert (OnnxSegmenter(fastsam_s_checkpoint, warmup=False).imgsz, engine.onnx_path) == (1024, reference.runtime.path)
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    ref, got = reference.segment(image), engine.segment(image)
    assert len(got) == len(ref) == 10 and np.array_equal(got.masks, ref.masks)  # one graph, one decoding
