"""Shared fixtures: the bundled model, a FastSAM-architecture checkpoint built here, sample data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_VERBOSE", "False")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the CLI's default backend exports the model to ONNX once: into this run's own cache, not the user's
os.environ.setdefault("FASTSAM_VIDEO_CACHE", tempfile.mkdtemp(prefix="fastsam-video-cache-"))

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED_CLIPS = ROOT.parent / "shared" / "clips"


def pytest_collection_modifyitems(config, items):
    if not any("gpu" in item.keywords for item in items):
        return  # torch (seconds to import) only when GPU tests were collected
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def segmenter():
    """The bundled model on the CPU on ONNX Runtime (no PyTorch), the default CPU engine;
    tests/test_engine.py and test_onnx_engine.py hold the PyTorch engine to the same masks,
    tests/engines/ the OpenVINO and INT8 ones."""
    from fastsam_video.engines import open_engine
    from fastsam_video.options import ModelOptions

    return open_engine(ModelOptions(device="cpu", backend="onnx"))


@pytest.fixture(scope="session")
def torch_segmenter():
    """The bundled model on the PyTorch engine (the reference and the GPU path), on the CPU."""
    from fastsam_video.engines.pytorch import Segmenter

    return Segmenter(device="cpu")


@pytest.fixture(scope="session")
def fastsam_s_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint in FastSAM's format with FastSAM-s's architecture (YOLOv8s-seg, one class,
    32 prototypes) and random weights, saved the way ultralytics saves one."""
    import torch
    from ultralytics.nn.tasks import SegmentationModel

    torch.manual_seed(0)
    model = SegmentationModel("yolov8s-seg.yaml", nc=1, verbose=False)
    path = tmp_path_factory.mktemp("weights") / "FastSAM-s-random.pt"
    torch.save({"model": model.half(), "train_args": {"task": "segment"}, "date": "test"}, path)
    return path


@pytest.fixture(scope="session")
def still_images() -> list[tuple[Path, np.ndarray]]:
    """The bundled still images with their instance ground truth (value = object id)."""
    from fastsam_video.sinks import read_davis_png

    images = sorted((SAMPLES / "images").glob("scene*.jpg"))
    return [(p, read_davis_png(p.with_name(p.stem + "_gt.png"))) for p in images]


def clip_dirs() -> list[Path]:
    return sorted(p for p in (SAMPLES / "clips").iterdir() if (p / "video.mp4").exists())


def shared_clip(name: str) -> Path:
    path = SHARED_CLIPS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real clips live in ../shared/clips beside the checkout)")
    return path
