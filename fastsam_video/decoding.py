"""The model's input and output without PyTorch: letterboxing, NMS and mask decoding in numpy / OpenCV.

Every engine uses it on the CPU (`engines.pytorch.Segmenter`, whose GPU path decodes on the device,
and the engines without torch, `engines.onnxrt` and `engines.openvino`):

    batch, boxes = letterbox_batch(images, imgsz, stride)     # (B, 3, h, w) float32 RGB input
    raw, proto = <the network>(batch)                         # (B, 4 + nc + 32, A), (B, 32, h/4, w/4)
    segmentations = decode(raw, proto, boxes, shapes, settings)

NMS keeps what ultralytics' `non_max_suppression(raw, conf, iou, agnostic=True, max_det, nc)`
keeps, in the same order; masks are the prototypes' logits sampled bilinearly inside each box.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .assets import BUNDLED_NAME
from .types import Frame, Segmentation, WeightsError

MAX_NMS = 30_000  # ultralytics' cap on the candidates that enter NMS (the highest scores)


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


@dataclass(frozen=True)
class DecodeSettings:
    """What turns a network output into masks: thresholds, the detection cap, the class count, edges."""

    conf: float
    iou: float
    max_det: int
    num_classes: int
    retina: bool = True


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


def batch_letterboxes(shapes: list[tuple[int, int]], imgsz: int, stride: int) -> list[Letterbox]:
    """Each image's letterbox in a batch that shares the input size of its largest letterbox."""
    boxes = [letterbox_geometry(h, w, imgsz, stride) for h, w in shapes]
    input_h = max(b.input_h for b in boxes)
    input_w = max(b.input_w for b in boxes)
    return [Letterbox(b.gain, (input_w - b.content_w) // 2, (input_h - b.content_h) // 2,
                      b.content_h, b.content_w, input_h, input_w) for b in boxes]


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def check_image(image) -> np.ndarray:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        got = f"{tuple(image.shape)} {image.dtype}" if hasattr(image, "shape") else type(image).__name__
        raise ValueError(f"image: expected (H, W, 3) uint8 BGR, got {got}")
    return image


def letterbox_batch(images: list[np.ndarray], imgsz: int, stride: int) -> tuple[np.ndarray, list[Letterbox]]:
    """BGR uint8 (H, W, 3) images -> one RGB (B, 3, h, w) float32 network input in 0..1 and each
    image's letterbox. OpenCV: resize, pad, then BGR -> RGB and scale in one pass (2x faster than torch)."""
    placed = batch_letterboxes([im.shape[:2] for im in images], imgsz, stride)
    padded = [cv2.copyMakeBorder(resize(np.ascontiguousarray(im), b.content_w, b.content_h), b.pad_top,
                                 b.input_h - b.content_h - b.pad_top, b.pad_left,
                                 b.input_w - b.content_w - b.pad_left, cv2.BORDER_CONSTANT, value=(114,) * 3)
              for im, b in zip(images, placed)]
    return cv2.dnn.blobFromImages(padded, 1 / 255, swapRB=True), placed


@dataclass(frozen=True)
class NetworkOutput:
    """A batch through the network, not yet decoded: raw predictions (B, 4 + nc + 32, A) and
    prototypes (B, 32, h/4, w/4) (numpy on the CPU, device tensors on a GPU), with how each
    image was letterboxed and its (H, W)."""

    raw: object
    proto: object
    letterboxes: tuple[Letterbox, ...]
    shapes: tuple[tuple[int, int], ...]
    timings: dict[str, float]


# ---------------------------------------------------------------- NMS

def nms(raw: np.ndarray, conf: float, iou: float, max_det: int = 300, nc: int = 0,
        max_nms: int = MAX_NMS) -> list[np.ndarray]:
    """Class-agnostic NMS of raw head output (B, 4 + nc + extra, A) in network-input pixels ->
    per image (n, 6 + extra) float32 rows [x1, y1, x2, y2, score, class, extra...], best first:
    ultralytics' `non_max_suppression(..., agnostic=True)` with torchvision's greedy NMS."""
    raw = np.asarray(raw, dtype=np.float32)
    nc = nc or raw.shape[1] - 4
    out = []
    for pred in raw:
        scores_all = pred[4:4 + nc].max(0)
        keep = np.flatnonzero(scores_all > conf)
        x = pred[:, keep].T  # (n, C)
        xy, half = x[:, :2], x[:, 2:4] / 2
        cls = x[:, 4:4 + nc].argmax(1).astype(np.float32)
        rows = np.concatenate([xy - half, xy + half, scores_all[keep, None], cls[:, None], x[:, 4 + nc:]], 1)
        if len(rows) > max_nms:
            rows = rows[np.argsort(-rows[:, 4], kind="stable")[:max_nms]]
        out.append(rows[greedy_nms(rows[:, :4], rows[:, 4], iou, max_det)])
    return out


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int | None = None) -> np.ndarray:
    """Indices kept by torchvision.ops.nms (the first `limit` of them): best score first, drop every
    later box whose IoU with a kept one is > iou (a degenerate pair, 0 / 0, suppresses nothing)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    kept = []
    while order.size and (limit is None or len(kept) < limit):
        i, rest = order[0], order[1:]
        kept.append(i)
        w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
        h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        order = rest[np.divide(inter, union, out=np.zeros_like(inter), where=union > 0) <= iou]
    return np.array(kept, dtype=np.int64)


# ---------------------------------------------------------------- masks

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

    def grid(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Prototype coordinates (v of each frame row, u of each frame column), float32."""
        v = np.arange(height, dtype=np.float32) * np.float32(self.scale_y) + np.float32(self.offset_y)
        u = np.arange(width, dtype=np.float32) * np.float32(self.scale_x) + np.float32(self.offset_x)
        return v, u

    def nearest(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The prototype row of each frame row and column of each frame column (nearest, clamped)."""
        v, u = self.grid(height, width)
        return (np.clip(np.round(v), 0, self.proto_h - 1).astype(np.int64),
                np.clip(np.round(u), 0, self.proto_w - 1).astype(np.int64))

    def affine(self, x0: int = 0, y0: int = 0) -> np.ndarray:
        """The 2x3 map from a window starting at frame pixel (x0, y0) to prototype coordinates."""
        return np.array([[self.scale_x, 0, self.scale_x * x0 + self.offset_x],
                         [0, self.scale_y, self.scale_y * y0 + self.offset_y]])


def box_windows(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 4) int [x1, y1, x2, y2]: the whole pixels each xyxy box touches (floor / ceil), inside the frame."""
    corners = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    low = np.floor(corners[:, :2])
    high = np.ceil(corners[:, 2:])
    limit = np.array([width, height])
    return np.concatenate([np.clip(low, 0, limit), np.clip(high, 0, limit)], 1).astype(np.int64)


def upsample_in_boxes(logits: np.ndarray, boxes: np.ndarray, to_proto: FrameToProto,
                      height: int, width: int) -> np.ndarray:
    """Retina decoding on the CPU: (N, H, W) bool masks, each the prototype logits sampled
    bilinearly (edges clamped, like torch's grid_sample with padding "border") at the frame's
    pixels inside its box, > 0; empty outside the box.

    One OpenCV warp per mask samples the box's window of the frame grid: work is proportional to
    the boxes' area rather than N whole frames (25-40x faster than a batched torch op on 2
    cores); a loop of N C calls, since the windows differ in size."""
    masks = np.zeros((len(logits), height, width), dtype=bool)
    source = np.ascontiguousarray(logits, dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(box_windows(boxes, height, width).tolist()):
        if x2 <= x1 or y2 <= y1:
            continue
        window = cv2.warpAffine(source[k], to_proto.affine(x1, y1), (x2 - x1, y2 - y1),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        np.greater(window, 0, out=masks[k, y1:y2, x1:x2])
    return masks


def nearest_in_boxes(logits: np.ndarray, boxes: np.ndarray, to_proto: FrameToProto,
                     height: int, width: int) -> np.ndarray:
    """Non-retina decoding: threshold at prototype resolution, each frame pixel inside its box
    takes its nearest prototype pixel (cheaper, blocky edges)."""
    masks = np.zeros((len(logits), height, width), dtype=bool)
    rows, cols = to_proto.nearest(height, width)
    positive = np.asarray(logits) > 0
    for k, (x1, y1, x2, y2) in enumerate(box_windows(boxes, height, width).tolist()):
        if x2 > x1 and y2 > y1:
            masks[k, y1:y2, x1:x2] = positive[k][np.ix_(rows[y1:y2], cols[x1:x2])]
    return masks


def decode_masks(proto: np.ndarray, coeffs: np.ndarray, boxes: np.ndarray, box: Letterbox,
                 height: int, width: int, retina: bool = True) -> np.ndarray:
    """(N, H, W) bool masks at the frame's resolution for the kept detections, cropped to their
    xyxy `boxes` (frame pixels): coefficients times prototypes (32, h, w), then sampled."""
    if len(coeffs) == 0:
        return np.zeros((0, height, width), dtype=bool)
    c, mh, mw = proto.shape
    logits = (np.asarray(coeffs, np.float32) @ np.asarray(proto, np.float32).reshape(c, -1)).reshape(-1, mh, mw)
    to_proto = FrameToProto.of(box, height, width, mh, mw)
    sample = upsample_in_boxes if retina else nearest_in_boxes
    return sample(logits, boxes, to_proto, height, width)


def snap_to_border(boxes: np.ndarray, height: int, width: int, threshold: int = 20) -> np.ndarray:
    """FastSAM's post-processing: box edges within `threshold` px of the image border go to the
    border, and a box covering > 90% IoU of the whole image becomes the whole image."""
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    boxes[boxes[:, 0] < threshold, 0] = 0
    boxes[boxes[:, 1] < threshold, 1] = 0
    boxes[boxes[:, 2] > width - threshold, 2] = width
    boxes[boxes[:, 3] > height - threshold, 3] = height
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    boxes[area / (width * height) > 0.9] = (0, 0, width, height)  # the box lies inside the image: IoU = area ratio
    return boxes


def to_frame(xyxy: np.ndarray, box: Letterbox, height: int, width: int) -> np.ndarray:
    """Boxes in network-input pixels -> frame pixels, clipped to the frame."""
    out = np.array(xyxy, dtype=np.float32).reshape(-1, 4)
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - box.pad_left) / box.gain, 0, width)
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - box.pad_top) / box.gain, 0, height)
    return out


def decode(raw: np.ndarray, proto: np.ndarray, letterboxes: list[Letterbox] | tuple[Letterbox, ...],
           shapes: list[tuple[int, int]] | tuple[tuple[int, int], ...], settings: DecodeSettings) -> list[Segmentation]:
    """NMS, then masks at each frame's resolution for the kept detections, then border snapping:
    one Segmentation per image of the batch."""
    detections = nms(raw, settings.conf, settings.iou, settings.max_det, settings.num_classes)
    results = []
    for det, protos, box, (h, w) in zip(detections, np.asarray(proto), letterboxes, shapes):
        xyxy = to_frame(det[:, :4], box, h, w)
        masks = decode_masks(protos, det[:, 6:], xyxy, box, h, w, settings.retina)  # cropped by the raw boxes
        results.append(Segmentation.of(masks, snap_to_border(xyxy, h, w), det[:, 4]))
    return results


class SegmenterBase:
    """What both engines share: `infer` (theirs) -> `decode` -> one Segmentation per image, timed.
    A subclass sets weights, device, precision, imgsz, conf, iou, max_det, num_classes, retina and
    defines `infer`; `decode_output` is numpy decoding unless it overrides it."""

    def _set_settings(self, imgsz: int | None, conf: float | None, iou: float | None, max_det: int,
                      retina: bool) -> None:
        """imgsz, conf and iou as given, None taking the recommendation for `self.weights`' family."""
        defaults = BUNDLED_DEFAULTS if self.weights.name == BUNDLED_NAME else FASTSAM_DEFAULTS
        self.imgsz = imgsz or defaults.imgsz
        self.conf = defaults.conf if conf is None else conf
        self.iou = defaults.iou if iou is None else iou
        self.max_det = max_det
        self.retina = retina

    def _sync(self) -> None:
        """Wait for the device's queued work (a GPU engine's); on the CPU there is none."""

    @property
    def settings(self) -> DecodeSettings:
        return DecodeSettings(self.conf, self.iou, self.max_det, self.num_classes, self.retina)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.weights.name}, device={self.device}, {self.precision}, "
                f"imgsz={self.imgsz}, conf={self.conf}, iou={self.iou})")

    def decode_output(self, output: NetworkOutput) -> list[Segmentation]:
        return decode(np.asarray(output.raw), np.asarray(output.proto), output.letterboxes, output.shapes,
                      self.settings)

    def decode(self, output: NetworkOutput) -> list[Segmentation]:
        """NMS and mask decoding for a batch from `infer`: one Segmentation per image, with the
        batch's preprocess / forward / postprocess times in ms."""
        t0 = time.perf_counter()
        results = self.decode_output(output)
        timings = {**output.timings, "postprocess": (time.perf_counter() - t0) * 1e3}
        for r in results:
            r.timings.update(timings)
        return results

    def segment_batch(self, images: list) -> list[Segmentation]:
        """Segment BGR uint8 (H, W, 3) images in one forward pass."""
        return self.decode(self.infer(images)) if images else []

    def segment(self, image) -> Segmentation:
        return self.segment_batch([image.image if isinstance(image, Frame) else image])[0]

    def __call__(self, image) -> Segmentation:
        return self.segment(image)


class CpuSegmenterBase(SegmenterBase):
    """What the CPU engines without PyTorch share: letterbox in OpenCV -> `forward` (theirs, numpy
    in and out) -> numpy decoding. A subclass sets the attributes above, `stride` and `forward`."""

    device = "cpu"
    device_type = "cpu"
    half = False

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def warmup(self) -> None:
        self.forward(np.zeros((1, 3, self.imgsz, self.imgsz), np.float32))

    def preprocess(self, images: list[np.ndarray]):
        return letterbox_batch(images, self.imgsz, self.stride)

    def infer(self, images: list[np.ndarray]) -> NetworkOutput:
        """Letterbox BGR uint8 (H, W, 3) images into one batch and run the network."""
        t0 = time.perf_counter()
        batch, boxes = self.preprocess([check_image(im) for im in images])
        t1 = time.perf_counter()
        raw, proto = self.forward(batch)
        t2 = time.perf_counter()
        return NetworkOutput(raw, proto, tuple(boxes), tuple(im.shape[:2] for im in images),
                             {"preprocess": (t1 - t0) * 1e3, "forward": (t2 - t1) * 1e3})

    def classes_from_outputs(self, source: Path | str) -> int:
        """The class count from the output channels of one tiny forward (the ONNX shapes are symbolic):
        raw has 4 box + nc class + as many coefficient channels as proto has prototypes."""
        raw, proto = self.forward(np.zeros((1, 3, self.stride, self.stride), np.float32))
        if raw.ndim != 3 or proto.ndim != 4 or raw.shape[1] <= 4 + proto.shape[1]:
            raise WeightsError(f"{source} gives outputs {raw.shape} and {proto.shape}, not a segmentation "
                               "model's (B, 4 + nc + 32, A) and (B, 32, h, w): use a FastSAM / YOLOv8-seg export")
        return int(raw.shape[1] - 4 - proto.shape[1])
