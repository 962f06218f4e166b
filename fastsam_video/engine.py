"""Segmenter: loads a FastSAM / YOLOv8-seg checkpoint and turns BGR frames into
class-agnostic segmentations, FP16 on CUDA, everything kept on the device.

Call order per batch: `infer` = letterbox (on the device) -> forward; then `decode` = NMS -> mask
decoding at the frame's resolution for the kept detections only (inside their boxes on the CPU,
in bounded chunks on the GPU) -> FastSAM's border snapping. `segment_batch` does both; the
pipeline runs them on two threads so that frame t is decoded while frame t+1 is in the network.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .assets import (ASSETS_URL, BUNDLED_NAME, DOWNLOADABLE, REPO_ROOT, bundled_weights,  # noqa: F401  (importable here)
                     resolve_weights)
from .types import Frame, Segmentation, WeightsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDefaults:
    """Inference settings recommended for a family of weights."""

    imgsz: int
    conf: float
    iou: float


# FastSAM's own recommendations (Inference.py): 1024 px, conf 0.4, iou 0.9 (keeps nested parts).
FASTSAM_DEFAULTS = ModelDefaults(imgsz=1024, conf=0.4, iou=0.9)
# The bundled model is trained at 320 px on scenes without nested parts.
BUNDLED_DEFAULTS = ModelDefaults(imgsz=320, conf=0.4, iou=0.7)
UPSAMPLE_PIXELS = 16_000_000  # float logits upsampled at once on the device (64 MB)


def load_model(weights: Path) -> torch.nn.Module:
    """The checkpoint's SegmentationModel in FP32 eval mode, fused."""
    from ultralytics.nn.tasks import load_checkpoint

    try:
        model, _ = load_checkpoint(weights, device="cpu", fuse=True)
    except Exception as err:
        # one line: ultralytics wraps the unpickling error in its own, and the cause says no more
        raise WeightsError(f"{weights} is not a readable FastSAM / YOLOv8-seg checkpoint (empty, cut short or "
                           "not a PyTorch file): re-download it or pass another --model") from err
    head = model.model[-1]
    if not hasattr(head, "proto"):
        raise WeightsError(f"{weights} is a {type(head).__name__} model without mask prototypes: "
                           "use a segmentation checkpoint (FastSAM-*.pt or yolov8*-seg.pt)")
    return model


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        device = torch.device("cuda:0" if requested in ("cuda", "gpu") else
                              f"cuda:{requested}" if requested.isdigit() else requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise WeightsError(f"device {requested!r} asked for, but CUDA is not available here: use --device cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda:0")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the network input: scale, then pad (left, top)."""

    gain: float
    pad_left: int
    pad_top: int
    content_h: int
    content_w: int
    input_h: int
    input_w: int


def letterbox_geometry(height: int, width: int, imgsz: int, stride: int = 32) -> Letterbox:
    """Fit the longer side to imgsz, pad each side to the next stride multiple (minimal, centred)."""
    gain = min(imgsz / height, imgsz / width)
    content_h, content_w = max(round(height * gain), 1), max(round(width * gain), 1)
    input_h, input_w = (math.ceil(s / stride) * stride for s in (content_h, content_w))
    return Letterbox(gain, (input_w - content_w) // 2, (input_h - content_h) // 2,
                     content_h, content_w, input_h, input_w)


@dataclass(frozen=True)
class NetworkOutput:
    """A batch through the network, not yet decoded: raw predictions (B, 4 + nc + 32, A) and
    prototypes (B, 32, h/4, w/4), with how each image was letterboxed and its (H, W)."""

    raw: torch.Tensor
    proto: torch.Tensor
    letterboxes: tuple[Letterbox, ...]
    shapes: tuple[tuple[int, int], ...]
    timings: dict[str, float]


class Segmenter:
    """One model owner: load, warm up, segment(frame | batch) -> Segmentation."""

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, half: bool | None = None,
                 imgsz: int | None = None, conf: float | None = None, iou: float | None = None,
                 max_det: int = 300, retina: bool = True, warmup: bool = True, backend: str = "torch"):
        self.weights = resolve_weights(model)
        defaults = BUNDLED_DEFAULTS if self.weights.name == BUNDLED_NAME else FASTSAM_DEFAULTS
        self.device = pick_device(device)
        self.half = self.device.type == "cuda" if half is None else half
        if self.half and self.device.type == "cpu":
            raise WeightsError("half precision needs a GPU: drop --half or use --device cuda")
        self.imgsz = imgsz or defaults.imgsz
        self.conf = defaults.conf if conf is None else conf
        self.iou = defaults.iou if iou is None else iou
        self.max_det = max_det
        self.retina = retina
        self.dtype = torch.float16 if self.half else torch.float32
        self._forward_lock = threading.Lock()  # shared by shallow copies (the web's image page)
        if self.device.type == "cpu":
            # leave a core to the decode and encode threads: with every core busy, the model's
            # OpenMP threads spin-wait for the one that is taken (measured: 10x slower on 2 cores)
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            torch.set_num_threads(max(1, cores - 1))
        model_fp32 = load_model(self.weights)
        self.stride = int(max(model_fp32.stride.max().item(), 32))
        self.num_classes = int(model_fp32.model[-1].nc)
        self.model = model_fp32.to(self.device, self.dtype).eval()
        from .runtime import select_backend  # backend: "torch" | "onnx" (ONNX Runtime, CPU) | "auto"

        self.backend, self.runtime = select_backend(backend, self.model, self.weights, self.device)
        if warmup:
            self.warmup()

    @property
    def precision(self) -> str:
        return ("fp16" if self.half else "fp32") + ("" if self.backend == "torch" else f" {self.backend}")

    def __repr__(self) -> str:
        return (f"Segmenter({self.weights.name}, device={self.device}, {self.precision}, imgsz={self.imgsz}, "
                f"conf={self.conf}, iou={self.iou})")

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network alone: (B, 3, h, w) input -> (raw predictions (B, 4 + nc + 32, A), prototypes (B, 32, h/4, w/4))."""
        if self.runtime is not None:
            return self.runtime(batch)
        with self._forward_lock:  # the head caches anchors per input shape: one forward at a time
            out = self.model(batch)
        return out[0] if isinstance(out[0], tuple) else out  # ((y, proto), raw_dict) in eval mode

    @torch.inference_mode()
    def warmup(self) -> None:
        dummy = torch.zeros((1, 3, self.imgsz, self.imgsz), device=self.device, dtype=self.dtype)
        self.forward(dummy)
        self._sync()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ pre-processing
    def to_device(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 BGR on the device; pinned, non-blocking upload on CUDA."""
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def preprocess(self, images: list[torch.Tensor]) -> tuple[torch.Tensor, list[Letterbox]]:
        """BGR uint8 HWC device tensors -> one RGB (B, 3, h, w) network input, letterboxed on the device.
        A batch shares the input size of its largest letterbox."""
        boxes = [letterbox_geometry(im.shape[0], im.shape[1], self.imgsz, self.stride) for im in images]
        input_h = max(b.input_h for b in boxes)
        input_w = max(b.input_w for b in boxes)
        placed = [Letterbox(b.gain, (input_w - b.content_w) // 2, (input_h - b.content_h) // 2,
                            b.content_h, b.content_w, input_h, input_w) for b in boxes]
        if self.device.type == "cpu":  # OpenCV: resize, pad, BGR -> RGB and scale in 2 passes, 2x faster
            padded = [cv2.copyMakeBorder(resize(im.numpy(), b.content_w, b.content_h), b.pad_top,
                                         input_h - b.content_h - b.pad_top, b.pad_left,
                                         input_w - b.content_w - b.pad_left, cv2.BORDER_CONSTANT, value=(114,) * 3)
                      for im, b in zip(images, placed)]
            return torch.from_numpy(cv2.dnn.blobFromImages(padded, 1 / 255, swapRB=True)), placed
        batch = torch.full((len(images), 3, input_h, input_w), 114 / 255, device=self.device, dtype=self.dtype)
        for i, (image, box) in enumerate(zip(images, placed)):
            chw = image.permute(2, 0, 1).flip(0).unsqueeze(0).to(self.dtype) / 255  # BGR -> RGB
            if (box.content_h, box.content_w) != tuple(image.shape[:2]):
                chw = F.interpolate(chw, size=(box.content_h, box.content_w), mode="bilinear", align_corners=False)
            batch[i, :, box.pad_top:box.pad_top + box.content_h, box.pad_left:box.pad_left + box.content_w] = chw[0]
        return batch, placed

    # ------------------------------------------------------------------ post-processing
    def decode_masks(self, proto: torch.Tensor, coeffs: torch.Tensor, boxes: torch.Tensor,
                     box: Letterbox, height: int, width: int) -> torch.Tensor:
        """(N, H, W) bool masks at the frame's resolution for the kept detections, cropped to their boxes."""
        n = coeffs.shape[0]
        if n == 0:
            return torch.zeros((0, height, width), dtype=torch.bool, device=proto.device)
        c, mh, mw = proto.shape
        logits = (coeffs.float() @ proto.float().view(c, -1)).view(n, mh, mw)
        to_proto = FrameToProto.of(box, height, width, mh, mw)
        if not self.retina:  # cheaper: threshold at prototype resolution, nearest prototype pixel
            rows, cols = to_proto.nearest(height, width, logits.device)
            return crop_to_boxes((logits > 0)[:, rows][:, :, cols], boxes)
        # smooth full-resolution edges: interpolate the logits, then threshold
        if logits.device.type == "cpu":
            return upsample_in_boxes(logits, boxes, to_proto, height, width)
        return upsample_on_device(logits, boxes, to_proto, height, width)

    def postprocess(self, raw: torch.Tensor, proto: torch.Tensor, boxes_in: list[Letterbox],
                    shapes: list[tuple[int, int]]) -> list[Segmentation]:
        from ultralytics.utils.nms import non_max_suppression

        detections = non_max_suppression(raw, self.conf, self.iou, agnostic=True, max_det=self.max_det,
                                          nc=self.num_classes)
        results = []
        for det, protos, box, (h, w) in zip(detections, proto, boxes_in, shapes):
            xyxy = det[:, :4].float()
            xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - box.pad_left) / box.gain).clamp(0, w)
            xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - box.pad_top) / box.gain).clamp(0, h)
            masks = self.decode_masks(protos, det[:, 6:], xyxy, box, h, w)  # cropped by the raw boxes
            xyxy = snap_to_border(xyxy, h, w)
            results.append(Segmentation.of(masks.cpu().numpy(), xyxy.cpu().numpy(), det[:, 4].float().cpu().numpy()))
        return results

    # ------------------------------------------------------------------ public
    @torch.inference_mode()
    def infer(self, images: list[np.ndarray | torch.Tensor]) -> NetworkOutput:
        """The model's share of the work: letterbox BGR uint8 (H, W, 3) images (numpy or device
        tensors) into one batch and run the network. `decode` turns the result into segmentations;
        the pipeline runs the two on different threads so they overlap."""
        t0 = time.perf_counter()
        tensors = [im if isinstance(im, torch.Tensor) else self.to_device(im) for im in images]
        for im in tensors:
            if im.ndim != 3 or im.shape[2] != 3 or im.dtype != torch.uint8:
                raise ValueError(f"image: expected (H, W, 3) uint8 BGR, got {tuple(im.shape)} {im.dtype}")
        batch, boxes = self.preprocess(tensors)
        self._sync()
        t1 = time.perf_counter()
        raw, proto = self.forward(batch)
        self._sync()
        t2 = time.perf_counter()
        return NetworkOutput(raw, proto, tuple(boxes), tuple(tuple(t.shape[:2]) for t in tensors),
                             {"preprocess": (t1 - t0) * 1e3, "forward": (t2 - t1) * 1e3})

    @torch.inference_mode()
    def decode(self, output: NetworkOutput) -> list[Segmentation]:
        """NMS and mask decoding for a batch from `infer`: one Segmentation per image."""
        t0 = time.perf_counter()
        results = self.postprocess(output.raw, output.proto, list(output.letterboxes), list(output.shapes))
        self._sync()
        timings = {**output.timings, "postprocess": (time.perf_counter() - t0) * 1e3}
        for r in results:
            r.timings.update(timings)
        return results

    def segment_batch(self, images: list[np.ndarray | torch.Tensor]) -> list[Segmentation]:
        """Segment BGR uint8 (H, W, 3) images (numpy or device tensors) in one forward pass."""
        return self.decode(self.infer(images)) if images else []

    def segment(self, image: np.ndarray | torch.Tensor | Frame) -> Segmentation:
        return self.segment_batch([image.image if isinstance(image, Frame) else image])[0]

    __call__ = segment


def snap_to_border(boxes: torch.Tensor, height: int, width: int, threshold: int = 20) -> torch.Tensor:
    """FastSAM's post-processing: box edges within `threshold` px of the image border go to the
    border, and a box covering > 90% IoU of the whole image becomes the whole image."""
    boxes = boxes.clone()
    boxes[boxes[:, 0] < threshold, 0] = 0
    boxes[boxes[:, 1] < threshold, 1] = 0
    boxes[boxes[:, 2] > width - threshold, 2] = width
    boxes[boxes[:, 3] > height - threshold, 3] = height
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    full = torch.tensor([0.0, 0.0, width, height], device=boxes.device)
    boxes[area / (width * height) > 0.9] = full  # the box lies inside the image, so IoU = area ratio
    return boxes


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class FrameToProto:
    """Where frame pixel (x, y) lies on the prototype grid: u = scale_x * x + offset_x (pixel
    centres at integers), through the letterbox exactly (no rounding of the padding)."""

    scale_x: float
    offset_x: float
    scale_y: float
    offset_y: float
    proto_h: int
    proto_w: int

    @classmethod
    def of(cls, box: Letterbox, height: int, width: int, proto_h: int, proto_w: int) -> FrameToProto:
        # frame pixel centre x + 0.5 -> network input (x + 0.5) * content_w / width + pad (the resize
        # that made the input) -> prototype input * proto_w / input_w - 0.5
        gain_x, gain_y = box.content_w / width, box.content_h / height
        sx, sy = proto_w / box.input_w, proto_h / box.input_h
        return cls(gain_x * sx, (0.5 * gain_x + box.pad_left) * sx - 0.5,
                   gain_y * sy, (0.5 * gain_y + box.pad_top) * sy - 0.5, proto_h, proto_w)

    def grid(self, height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Prototype coordinates (v of each frame row, u of each frame column)."""
        v = torch.arange(height, device=device, dtype=torch.float32) * self.scale_y + self.offset_y
        u = torch.arange(width, device=device, dtype=torch.float32) * self.scale_x + self.offset_x
        return v, u

    def nearest(self, height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The prototype row of each frame row and column of each frame column (nearest, clamped)."""
        v, u = self.grid(height, width, device)
        return v.round().long().clamp(0, self.proto_h - 1), u.round().long().clamp(0, self.proto_w - 1)

    def affine(self, x0: int = 0, y0: int = 0) -> np.ndarray:
        """The 2x3 map from a window starting at frame pixel (x0, y0) to prototype coordinates."""
        return np.array([[self.scale_x, 0, self.scale_x * x0 + self.offset_x],
                         [0, self.scale_y, self.scale_y * y0 + self.offset_y]])


def upsample(logits: torch.Tensor, to_proto: FrameToProto, height: int, width: int) -> torch.Tensor:
    """(N, h, w) prototype logits bilinearly sampled at every frame pixel: (N, height, width) float."""
    lh, lw = logits.shape[1:]
    v, u = to_proto.grid(height, width, logits.device)
    # grid_sample's normalized coordinates (align_corners=False): -1 and 1 are the outer pixel edges
    grid = torch.stack(torch.broadcast_tensors(((2 * u + 1) / lw - 1)[None, :], ((2 * v + 1) / lh - 1)[:, None]), -1)
    return F.grid_sample(logits[None], grid[None].to(logits.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)[0]


def crop_to_boxes(masks: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Clear each (N, H, W) mask outside its xyxy box (whole pixels: floor / ceil), in place."""
    height, width = masks.shape[1:]
    ys = torch.arange(height, device=masks.device)
    xs = torch.arange(width, device=masks.device)
    x1, y1, x2, y2 = (boxes[:, i, None] for i in range(4))
    masks &= ((ys >= y1.floor()) & (ys < y2.ceil()))[:, :, None]  # rows inside the box
    masks &= ((xs >= x1.floor()) & (xs < x2.ceil()))[:, None, :]  # columns inside the box
    return masks


def upsample_on_device(logits: torch.Tensor, boxes: torch.Tensor, to_proto: FrameToProto, height: int,
                       width: int, chunk_pixels: int = UPSAMPLE_PIXELS) -> torch.Tensor:
    """The GPU path of retina decoding: `upsample(...) > 0` cropped to the boxes, a few masks at a
    time so that the float intermediate stays under `chunk_pixels` however many masks there are."""
    n = logits.shape[0]
    masks = torch.empty((n, height, width), dtype=torch.bool, device=logits.device)
    chunk = max(1, chunk_pixels // (height * width))
    for start in range(0, n, chunk):
        torch.gt(upsample(logits[start:start + chunk], to_proto, height, width), 0, out=masks[start:start + chunk])
    return crop_to_boxes(masks, boxes)


def upsample_in_boxes(logits: torch.Tensor, boxes: torch.Tensor, to_proto: FrameToProto,
                      height: int, width: int) -> torch.Tensor:
    """The CPU path of retina decoding: the masks `upsample(...) > 0` cropped to the boxes gives,
    computed inside each box only.

    One OpenCV warp per mask samples the box's window of the frame grid (bilinear, edges clamped,
    as grid_sample above). Work is proportional to the boxes' area rather than N whole frames:
    25-40x faster than the batched torch op on 2 cores, the same masks (tests/test_engine.py);
    a loop of N C calls, since the windows differ in size."""
    n = logits.shape[0]
    masks = np.zeros((n, height, width), dtype=bool)
    corners = boxes.detach().cpu().numpy()
    x1 = np.clip(np.floor(corners[:, 0]), 0, width).astype(int)
    y1 = np.clip(np.floor(corners[:, 1]), 0, height).astype(int)
    x2 = np.clip(np.ceil(corners[:, 2]), 0, width).astype(int)
    y2 = np.clip(np.ceil(corners[:, 3]), 0, height).astype(int)
    source = logits.contiguous().numpy()
    for k in range(n):
        if x2[k] <= x1[k] or y2[k] <= y1[k]:
            continue
        window = cv2.warpAffine(source[k], to_proto.affine(x1[k], y1[k]), (int(x2[k] - x1[k]), int(y2[k] - y1[k])),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        np.greater(window, 0, out=masks[k, y1[k]:y2[k], x1[k]:x2[k]])
    return torch.from_numpy(masks)
