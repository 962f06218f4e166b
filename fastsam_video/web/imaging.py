"""The image page's work, without FastAPI: decode an upload, run the model once per image and
settings, then answer each prompt by selection on the cached output (milliseconds).

State is per visitor: an upload gets a random id (only its uploader knows it) and the prompt
travels with each request, so two visitors never share points. The cache is a small LRU.
"""

from __future__ import annotations

import base64
import collections
import copy
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from ..prompts import BoxPrompt, PointPrompt, TextPrompt, select_by_boxes, select_by_points, select_by_text
from ..render import Annotator, Markers
from ..sinks import mask_annotations
from ..types import PromptError, Segmentation, topmost

if TYPE_CHECKING:
    from ..engines import SegmentationEngine as Segmenter

MAX_SIDE = 1280  # uploads are scaled down to this longer side (masks at full resolution stay bounded)
CACHE_IMAGES = 8  # uploads kept (LRU), and model outputs kept (LRU, one per image and settings)
MODES = ("everything", "points", "box", "text")


class BadRequest(ValueError):
    """A bad upload or prompt: answered with a 4xx and this one-line message."""


class NotFound(LookupError):
    """An unknown camera, object or image id (404)."""


class UnknownImage(NotFound):
    """An image id that was never issued or has left the cache."""


@dataclass(frozen=True)
class Settings:
    """The image page's sliders (FastSAM's web demo), None = the model's default."""

    imgsz: int | None = None
    conf: float | None = None
    iou: float | None = None
    retina: bool = True
    better_quality: bool = False
    contours: bool = True

    def __post_init__(self) -> None:
        if self.imgsz is not None and not (32 <= self.imgsz <= 2048):
            raise BadRequest(f"imgsz: expected 32 to 2048, got {self.imgsz}")
        for name in ("conf", "iou"):
            value = getattr(self, name)
            if value is not None and not (0.0 < value < 1.0):
                raise BadRequest(f"{name}: expected a number between 0 and 1, got {value}")


@dataclass(frozen=True)
class Answer:
    image_id: str
    width: int
    height: int
    selection: Segmentation
    overlay: np.ndarray  # BGR
    cached: bool  # the model output came from the cache
    model_ms: float
    select_ms: float

    def to_json(self) -> dict:
        masks = self.selection.masks
        boxes = self.selection.boxes.tolist()
        scores = self.selection.scores.tolist()
        return {"image_id": self.image_id, "width": self.width, "height": self.height,
                "masks": [{"id": i + 1, "box": [round(v, 1) for v in box], "score": round(score, 4),
                           "area": shape["area"], "bbox": shape["bbox"], "rle": shape["segmentation"]}
                          for i, (shape, box, score) in enumerate(zip(mask_annotations(masks), boxes, scores))],
                "overlay_png": data_url(png(self.overlay)),
                "labels_png": data_url(png(label_image(masks))),
                "cached": self.cached, "model_ms": round(self.model_ms, 1), "select_ms": round(self.select_ms, 1)}


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise BadRequest("the result could not be encoded as PNG")
    return buf.tobytes()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def label_image(masks: np.ndarray) -> np.ndarray:
    """(H, W) uint8 label map: pixel = 1-based mask index (the later mask on top), 0 = none."""
    return topmost(masks[:255], np.arange(1, min(len(masks), 255) + 1)).astype(np.uint8)


def decode_image(data: bytes) -> np.ndarray:
    if not data:
        raise BadRequest("the upload is empty: choose a JPEG, PNG, BMP or WebP image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadRequest("the upload is not an image OpenCV can read: choose a JPEG, PNG, BMP or WebP file")
    scale = MAX_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    return image


def parse_points(points, width: int, height: int) -> PointPrompt:
    if not isinstance(points, list) or not points:
        raise BadRequest(f"points: expected a list of [x, y, label], got {points!r:.60}")
    xy, labels = [], []
    for p in points:
        if not (isinstance(p, (list, tuple)) and len(p) == 3 and all(isinstance(v, (int, float)) for v in p)):
            raise BadRequest(f"points: expected [x, y, label] with numbers, got {p!r:.60}")
        x, y, label = p
        check_inside(x, y, width, height)
        xy.append((float(x), float(y)))
        labels.append(int(label))
    try:
        return PointPrompt(tuple(xy), tuple(labels))
    except PromptError as err:
        raise BadRequest(str(err)) from None


def parse_box(box, width: int, height: int) -> BoxPrompt:
    if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
        raise BadRequest(f"box: expected [x1, y1, x2, y2] in pixels, got {box!r:.60}")
    x1, y1, x2, y2 = (float(v) for v in box)
    check_inside(x1, y1, width + 1, height + 1)
    check_inside(x2, y2, width + 1, height + 1)
    try:
        return BoxPrompt((x1, y1, x2, y2))
    except PromptError as err:
        raise BadRequest(str(err)) from None


def parse_text(text) -> TextPrompt:
    try:
        return TextPrompt(text if isinstance(text, str) else "")
    except PromptError as err:
        raise BadRequest(str(err)) from None


def check_inside(x: float, y: float, width: int, height: int) -> None:
    if not (0 <= x < width and 0 <= y < height):
        raise BadRequest(f"point ({x:g}, {y:g}) is off the {width}x{height} image: use pixel coordinates inside it")


class ImageSegmenter:
    """Model outputs of uploaded images, cached per (image, settings); prompts answered on them.
    `segmenter` is shared with the live cameras: each settings change uses a shallow copy of it
    (same weights and runtime, its own imgsz / conf / iou), so the cameras never see it."""

    def __init__(self, segmenter: Segmenter, text_encoder: Callable[[], object] | None = None,
                 capacity: int = CACHE_IMAGES):
        self.segmenter = segmenter
        self._text_encoder_factory = text_encoder
        self._text_encoder = None
        self._images: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._outputs: collections.OrderedDict[tuple, Segmentation] = collections.OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, data: bytes) -> str:
        image = decode_image(data)
        image_id = secrets.token_urlsafe(16)
        with self._lock:
            self._images[image_id] = image
            while len(self._images) > self._capacity:
                old, _ = self._images.popitem(last=False)
                for key in [k for k in self._outputs if k[0] == old]:
                    del self._outputs[key]
        return image_id

    def image(self, image_id: str) -> np.ndarray:
        with self._lock:
            if image_id not in self._images:
                raise UnknownImage(f"unknown image id {image_id[:40]!r}: upload the image again")
            self._images.move_to_end(image_id)
            return self._images[image_id]

    def _everything(self, image_id: str, image: np.ndarray, s: Settings) -> tuple[Segmentation, bool, float]:
        key = (image_id, s.imgsz, s.conf, s.iou, s.retina)
        with self._lock:
            if key in self._outputs:
                self._outputs.move_to_end(key)
                return self._outputs[key], True, 0.0
        model = copy.copy(self.segmenter)  # same weights and runtime; settings of this request only
        model.imgsz = s.imgsz or model.imgsz
        model.conf = model.conf if s.conf is None else s.conf
        model.iou = model.iou if s.iou is None else s.iou
        model.retina = s.retina
        t0 = time.perf_counter()
        seg = model.segment(image)
        ms = (time.perf_counter() - t0) * 1e3
        with self._lock:
            if image_id in self._images:
                self._outputs[key] = seg
                while len(self._outputs) > self._capacity:  # masks at full resolution: a few only
                    self._outputs.popitem(last=False)
        return seg, False, ms

    def _encoder(self):
        if self._text_encoder is None:
            if self._text_encoder_factory is None:
                from ..prompts import ClipEncoder

                self._text_encoder = ClipEncoder(device=self.segmenter.device)
            else:
                self._text_encoder = self._text_encoder_factory()
        return self._text_encoder

    def answer(self, image_id: str, mode: str, settings: Settings, *, points=None, box=None,
               text=None) -> Answer:
        """`mode`: everything | points ([[x, y, label], ...]) | box ([x1, y1, x2, y2]) | text."""
        if mode not in MODES:
            raise BadRequest(f"mode: expected one of {', '.join(MODES)}, got {mode!r:.40}")
        image = self.image(image_id)
        h, w = image.shape[:2]
        prompt = (parse_points(points, w, h) if mode == "points" else parse_box(box, w, h) if mode == "box"
                  else parse_text(text) if mode == "text" else None)
        everything, cached, model_ms = self._everything(image_id, image, settings)
        t0 = time.perf_counter()
        markers = Markers()
        if isinstance(prompt, PointPrompt):
            selection = select_by_points(everything, prompt.points, prompt.labels)
            markers = Markers([(x, y, label) for (x, y), label in zip(prompt.points, prompt.labels)])
        elif isinstance(prompt, BoxPrompt):
            selection = select_by_boxes(everything, [prompt.box])
            markers = Markers(boxes=[prompt.box])
        elif isinstance(prompt, TextPrompt):
            selection = select_by_text(everything, image, prompt.text, self._encoder())
        else:
            selection = everything
        annotator = Annotator(contours=settings.contours, better_quality=settings.better_quality,
                              labels=False)
        overlay = annotator.annotate(image, selection, markers)
        return Answer(image_id, w, h, selection, overlay, cached, model_ms, (time.perf_counter() - t0) * 1e3)
