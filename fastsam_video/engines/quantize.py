"""INT8: NNCF post-training quantization of a checkpoint's ONNX export, for the OpenVINO engine.

Calibration runs the FP32 network on real frames, letterboxed the way the engine feeds them:
frames of the shipped sample clips by default, or the user's own video
(`fastsam-video quantize MODEL --calib VIDEO`). The head's box decoding stays FP32 (an
`ignored_scope` on the distribution-focal-loss conv and the element-wise Multiply / Subtract /
Sigmoid that turn logits into boxes and scores, as the OpenVINO YOLOv8-seg notebook does): an
INT8 box regressor moves every box edge, and the masks are cropped to the boxes. The result is
an OpenVINO IR in `<cache>/int8/`, keyed by the ONNX file's bytes, which `--int8` runs.

    path = quantized_model(onnx_path, imgsz=320)                  # cached, or quantized now (shipped clips)
    path = quantize(onnx_path, frames_of(video, 300), imgsz=320)   # the user's frames, replacing the cache
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..assets import cache_dir, samples_dir
from ..decoding import letterbox_batch
from ..types import WeightsError
from .export import STRIDE, BackendError, sha256_of

log = logging.getLogger(__name__)

CALIBRATION_FRAMES = 120  # NNCF's statistics settle well before its default of 300 on these scenes
HINT = "install them (pip install openvino nncf) or drop --int8"


def int8_path(onnx_path: Path) -> Path:
    """Where the INT8 IR of an ONNX file is cached (an .xml with its .bin beside it)."""
    return cache_dir() / "int8" / f"{onnx_path.stem}-{sha256_of(onnx_path)[:16]}-int8.xml"


def frames_of(video: str | Path, limit: int, held_out: bool = False) -> list[np.ndarray]:
    """Up to `limit` BGR frames spread over the whole of `video` (every n-th), or a one-line error.
    `held_out`: the frames halfway between those (none of them is a calibration frame)."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise WeightsError(f"cannot read {video} as a video for calibration: give an .mp4 / .mkv / .avi file")
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or limit
    step = max(2, total // limit)  # at least 2: the held-out frames fall between the calibration ones
    frames = []
    index = 0
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == (step // 2 if held_out else 0):
            frames.append(frame)
        index += 1
    capture.release()
    if not frames:
        raise WeightsError(f"{video} has no readable frames to calibrate on: give another --calib video")
    return frames


def shipped_frames(limit: int = CALIBRATION_FRAMES, held_out: bool = False) -> list[np.ndarray]:
    """Frames of the shipped sample clips, an equal share of each (every clip's look is in the statistics)."""
    clips = sorted((samples_dir() / "clips").glob("*/video.mp4"))
    if not clips:
        raise WeightsError("no sample clips here to calibrate INT8 on: run `fastsam-video quantize MODEL "
                           "--calib VIDEO` with a video of your own")
    per_clip = max(1, limit // len(clips))
    return [f for clip in clips for f in frames_of(clip, per_clip, held_out)][:limit]


def network_inputs(frames: Iterable[np.ndarray], imgsz: int) -> Iterator[np.ndarray]:
    for frame in frames:
        batch, _ = letterbox_batch([frame], imgsz, STRIDE)
        yield batch


def quantize(onnx_path: Path, frames: list[np.ndarray], imgsz: int, target: Path | None = None,
             source: str = "frames") -> Path:
    """Quantize the ONNX network to INT8 on `frames` and save the IR at `target` (default: the cache)."""
    try:
        import nncf
        import openvino as ov
    except ImportError:
        raise BackendError(f"INT8 needs openvino and nncf, which are not installed: {HINT}") from None
    target = target or int8_path(onnx_path)
    model = ov.Core().read_model(str(onnx_path))
    head = head_index(model)
    ignored = nncf.IgnoredScope(patterns=[rf"/model\.{head}/dfl/.*"], types=["Multiply", "Subtract", "Sigmoid"],
                                validate=False)
    start = time.perf_counter()
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)  # its progress bars and INFO lines are not ours to print
    try:
        quantized = nncf.quantize(model, nncf.Dataset(list(network_inputs(frames, imgsz))),
                                  preset=nncf.QuantizationPreset.MIXED, subset_size=len(frames),
                                  ignored_scope=ignored)
    finally:
        nncf_log.setLevel(level)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.stem}.{os.getpid()}.tmp.xml")
    ov.save_model(quantized, str(tmp), compress_to_fp16=False)
    os.replace(tmp.with_suffix(".bin"), target.with_suffix(".bin"))
    os.replace(tmp, target)
    target.with_suffix(".json").write_text(json.dumps({"onnx": str(onnx_path), "calibration": source,
                                                       "frames": len(frames), "imgsz": imgsz}))
    log.info("quantized %s to INT8 on %d frames of %s in %.0f s: %s", onnx_path.name, len(frames), source,
             time.perf_counter() - start, target)
    return target


def head_index(model) -> int:
    """The index of the Segment head in the exported graph's names (/model.<N>/...): the largest."""
    indices = [int(m.group(1)) for op in model.get_ops() if (m := re.match(r"/model\.(\d+)/", op.get_friendly_name()))]
    if not indices:
        raise BackendError("the ONNX graph has no /model.N/ node names (not an ultralytics export): INT8 cannot keep "
                           "its head in FP32; use the FP32 model (drop --int8)")
    return max(indices)


def quantized_model(onnx_path: Path, imgsz: int) -> Path:
    """The cached INT8 IR of `onnx_path`, quantized now on the shipped clips' frames when there is none."""
    target = int8_path(onnx_path)
    if target.is_file() and target.with_suffix(".bin").is_file():
        return target
    log.info("no INT8 model of %s yet: quantizing it on the shipped clips (once)", onnx_path.name)
    return quantize(onnx_path, shipped_frames(), imgsz, target, source="the shipped clips")


def agreement(reference: list, candidate: list, min_box_iou: float = 0.5) -> tuple[float, float]:
    """(recall, mean mask IoU) of `candidate` segmentations against `reference` ones, frame by frame:
    each reference instance is matched to at most one candidate by box IoU >= `min_box_iou`
    (greedy, best box IoU first); the mask IoU is averaged over the matched instances."""
    found = total = 0
    ious: list[float] = []
    for ref, got in zip(reference, candidate, strict=True):
        total += len(ref)
        if not len(ref) or not len(got):
            continue
        a, b = ref.boxes.astype(np.float64), got.boxes.astype(np.float64)
        lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
        box_iou = inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)
        used_r, used_c = set(), set()
        for flat in np.argsort(-box_iou, axis=None):
            r, c = divmod(int(flat), box_iou.shape[1])
            if box_iou[r, c] < min_box_iou:
                break
            if r not in used_r and c not in used_c:
                used_r.add(r)
                used_c.add(c)
                found += 1
                union = np.logical_or(ref.masks[r], got.masks[c]).sum()
                ious.append(float(np.logical_and(ref.masks[r], got.masks[c]).sum() / union) if union else 1.0)
    return (found / total if total else 1.0), (float(np.mean(ious)) if ious else 1.0)


def quantize_command(model: str | None, calib: str | None, frames: int, imgsz: int | None) -> str:
    """`fastsam-video quantize`: quantize, cache, measure against FP32 on held-out frames; the report line."""
    from . import default_imgsz, export_with_torch
    from ..assets import locate_weights
    from ..options import ModelOptions
    from .export import find_onnx
    from .onnxrt import OnnxSegmenter
    from .openvino import OpenVinoSegmenter

    if calib is not None and not Path(calib).is_file():
        raise WeightsError(f"--calib {calib}: no such file (give a video of the scenes the model will see)")
    options = ModelOptions(model, device="cpu", backend="openvino", imgsz=imgsz)
    if model is not None and model.endswith(".onnx"):
        onnx_path = Path(model)
        if not onnx_path.is_file():
            raise WeightsError(f"model file not found: {model}")
        model = None
    else:
        weights = locate_weights(model)
        onnx_path = (find_onnx(weights) if weights is not None else None) or export_with_torch(options)
    imgsz = imgsz or default_imgsz(options)
    calibration = frames_of(calib, frames) if calib else shipped_frames(frames)
    held_out = frames_of(calib, 40, held_out=True) if calib else shipped_frames(40, held_out=True)
    target = quantize(onnx_path, calibration, imgsz, source=calib or "the shipped clips")
    reference = OnnxSegmenter(model, onnx_path=onnx_path, imgsz=imgsz)
    int8 = OpenVinoSegmenter(model, ir_path=target, imgsz=imgsz)
    recall, mask_iou = agreement([reference.segment(f) for f in held_out], [int8.segment(f) for f in held_out])
    return (f"wrote {target} (INT8, calibrated on {len(calibration)} frames of {calib or 'the shipped clips'}); "
            f"on {len(held_out)} held-out frames vs FP32: recall {recall:.3f}, mean mask IoU {mask_iou:.3f} "
            f"(run it with --int8)")
