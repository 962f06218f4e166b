"""The ONNX Runtime backend: same masks as PyTorch, export cached and reused, clear errors."""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
import pytest
import torch

from fastsam_video.engines import export
from fastsam_video.engines.export import BackendError
from fastsam_video.engines.onnxrt import OnnxForward
from fastsam_video.engines.pytorch import Segmenter, select_backend
from fastsam_video.types import WeightsError

needs_onnx = pytest.mark.skipif(
    any(__import__("importlib").util.find_spec(m) is None for m in ("onnxruntime", "onnx")),
    reason="onnxruntime / onnx are not installed")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_segmenter(onnx_cache):
    """The bundled model on ONNX Runtime, exported into a fresh cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FASTSAM_VIDEO_CACHE", str(onnx_cache))
        return Segmenter(device="cpu", backend="onnx")


def mask_ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = (a & b).sum((1, 2))
    union = (a | b).sum((1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


@needs_onnx
def test_onnx_backend_is_named_and_exported_into_the_cache(onnx_segmenter, onnx_cache):
    assert onnx_segmenter.backend == "onnx"
    assert onnx_segmenter.precision == "fp32 onnx" and "fp32 onnx" in repr(onnx_segmenter)
    assert onnx_segmenter.runtime.exported
    assert onnx_segmenter.runtime.path.parent == onnx_cache and onnx_segmenter.runtime.path.is_file()
    assert [p.name for p in onnx_cache.iterdir()] == [onnx_segmenter.runtime.path.name]  # no temporary left


@needs_onnx
def test_onnx_masks_agree_with_pytorch_on_the_sample_images(segmenter, onnx_segmenter, still_images):
    for path, _ in still_images:
        image = cv2.imread(str(path))
        ref, got = segmenter.segment(image), onnx_segmenter.segment(image)
        assert len(got) == len(ref) > 0, path.name
        ious = mask_ious(ref.masks, got.masks)
        assert ious.min() > 0.95, f"{path.name}: mask IoUs {ious.tolist()}"
        assert np.allclose(ref.boxes, got.boxes, atol=0.5) and np.allclose(ref.scores, got.scores, atol=1e-3)


@needs_onnx
def test_onnx_forward_matches_pytorch_for_any_input_shape_and_batch(segmenter, onnx_segmenter, still_images):
    image = cv2.imread(str(still_images[0][0]))
    tall = np.ascontiguousarray(image.transpose(1, 0, 2)[:, :200])
    for frames in ([image], [tall], [image, tall]):  # inputs 256x320, 320x160, and a padded batch of both
        batch, _ = segmenter.preprocess(frames)
        for want, have in zip(segmenter.forward(batch), onnx_segmenter.forward(batch)):
            assert have.shape == want.shape and have.dtype == np.float32
            assert np.allclose(have, want, rtol=1e-3, atol=1e-2)


@needs_onnx
def test_second_construction_reuses_the_cached_export(onnx_segmenter, onnx_cache, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(export, "export_onnx", no_export)
    again = OnnxForward(onnx_segmenter.model, onnx_segmenter.weights, onnx_cache)
    assert not again.exported and again.path == onnx_segmenter.runtime.path
    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(onnx_cache))
    assert not Segmenter(device="cpu", backend="onnx", warmup=False).runtime.exported


@needs_onnx
def test_damaged_cache_file_is_exported_again_and_outdated_exports_go(onnx_segmenter, tmp_path):
    damaged = tmp_path / onnx_segmenter.runtime.path.name
    damaged.write_bytes(b"not an onnx file")
    outdated = tmp_path / "fastsam-video-n-0123456789abcdef.onnx"  # an earlier version of the checkpoint
    other = tmp_path / "FastSAM-s-0123456789abcdef.onnx"
    outdated.write_bytes(b"old")
    other.write_bytes(b"another model")
    again = OnnxForward(onnx_segmenter.model, onnx_segmenter.weights, tmp_path)
    assert again.exported and again.path == damaged and damaged.stat().st_size > 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([damaged.name, other.name])


@needs_onnx
def test_failed_export_says_what_failed_and_leaves_no_file(onnx_segmenter, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Unsupported operator: aten::something")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(WeightsError, match=r"exporting fastsam-video-n-\w+ to ONNX failed \(RuntimeError: "
                                           r"Unsupported operator.*use --backend torch"):
        OnnxForward(onnx_segmenter.model, onnx_segmenter.weights, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnxruntime_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    monkeypatch.setenv("FASTSAM_VIDEO_CACHE", str(tmp_path))
    with pytest.raises(WeightsError, match="needs onnxruntime, which is not installed: install onnxruntime .* "
                                           "or use --backend torch") as err:
        Segmenter(device="cpu", backend="onnx", warmup=False)
    assert "\n" not in str(err.value)
    auto = Segmenter(device="cpu", backend="auto", warmup=False)  # auto falls back to PyTorch
    assert auto.backend == "torch" and auto.runtime is None and auto.precision == "fp32"


def test_backend_choice_is_checked():
    model = torch.nn.Identity()
    with pytest.raises(BackendError, match="unknown backend 'tensorrt'"):
        select_backend("tensorrt", model, None, torch.device("cpu"))
    with pytest.raises(BackendError, match="runs on the CPU.*--device cpu or --backend torch"):
        select_backend("onnx", model, None, torch.device("cuda"))
    assert select_backend("auto", model, None, torch.device("cuda")) == ("torch", None)
    assert select_backend("torch", model, None, torch.device("cpu")) == ("torch", None)


def test_cli_model_options_take_a_backend():
    from fastsam_video.cli import add_model_options

    parser = argparse.ArgumentParser()
    add_model_options(parser)
    assert parser.parse_args([]).backend == "auto"
    assert parser.parse_args(["--backend", "onnx"]).backend == "onnx"
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "tensorrt"])
