"""FastSAM-compatible Python API, so code written for CASIA-IVA-Lab/FastSAM ports in minutes.

    from fastsam_video import FastSAM, FastSAMPrompt
    model = FastSAM("weights/FastSAM-s.pt")          # or FastSAM() for the bundled model
    results = model(IMAGE_PATH, device="cpu", retina_masks=True, imgsz=1024, conf=0.4, iou=0.9)
    prompt = FastSAMPrompt(IMAGE_PATH, results, device="cpu")
    ann = prompt.everything_prompt()
    ann = prompt.box_prompt(bbox=[200, 200, 300, 300])           # or bboxes=[[...], ...]
    ann = prompt.text_prompt(text="a photo of a dog")
    ann = prompt.point_prompt(points=[[620, 360]], pointlabel=[1])
    prompt.plot(annotations=ann, output_path="./output/dog.jpg")

Prompt methods return masks as an (N, H, W) bool numpy array, like FastSAM's. Importing this
module loads no PyTorch: the engine is imported when a model is first run, the one its options
choose (ONNX Runtime on the CPU when the model's ONNX file is there), and CLIP on the first text prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from .engines import open_engine
from .options import ModelOptions, checked, image_size, positive_int, unit_interval
from .prompts import ClipEncoder, masks_to_boxes, select_by_boxes, select_by_points, select_by_text
from .render import Annotator, Markers
from .types import FastSAMVideoError, Segmentation

if TYPE_CHECKING:
    from .engines import SegmentationEngine as Segmenter


def read_image(source: str | Path | np.ndarray) -> np.ndarray:
    """A BGR uint8 image from a path or an array (RGB PIL images are converted)."""
    if isinstance(source, np.ndarray):
        if source.ndim == 2:
            return cv2.cvtColor(source, cv2.COLOR_GRAY2BGR)
        return source
    if hasattr(source, "convert"):  # a PIL image
        return cv2.cvtColor(np.asarray(source.convert("RGB")), cv2.COLOR_RGB2BGR)
    path = Path(source)
    if not path.is_file():
        raise FastSAMVideoError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FastSAMVideoError(f"cannot read {path} as an image (corrupt or not an image file): "
                                "give a JPEG, PNG, BMP, TIFF or WebP file")
    return image


class FastSAM:
    """A segmentation model: FastSAM(path) then model(image, ...) -> Segmentation."""

    def __init__(self, model_path: str | Path | None = None):
        self.model_path = model_path
        self._segmenters: dict[str, Segmenter] = {}

    def segmenter(self, device: str | None = None) -> Segmenter:
        key = device or "auto"
        if key not in self._segmenters:  # the engine the command line would pick (no PyTorch on the CPU path)
            model = None if self.model_path is None else str(self.model_path)
            self._segmenters[key] = open_engine(ModelOptions(model, device=device))
        return self._segmenters[key]

    def __call__(self, source, device: str | None = None, retina_masks: bool = True, imgsz: int | None = None,
                 conf: float | None = None, iou: float | None = None, max_det: int = 300) -> Segmentation:
        imgsz, conf, iou = (checked("imgsz", imgsz, image_size), checked("conf", conf, unit_interval),
                            checked("iou", iou, unit_interval))
        max_det = checked("max_det", max_det, positive_int)
        segmenter = self.segmenter(device)
        image = read_image(source)
        saved = segmenter.imgsz, segmenter.conf, segmenter.iou, segmenter.retina, segmenter.max_det
        try:
            if imgsz is not None:
                segmenter.imgsz = imgsz
            if conf is not None:
                segmenter.conf = conf
            if iou is not None:
                segmenter.iou = iou
            segmenter.retina, segmenter.max_det = retina_masks, max_det
            return segmenter.segment(image)
        finally:
            segmenter.imgsz, segmenter.conf, segmenter.iou, segmenter.retina, segmenter.max_det = saved


class FastSAMPrompt:
    """Prompts on one image's segmentation, with FastSAM's method names and semantics."""

    _clip: ClipEncoder | None = None  # loaded once per process, not on every text prompt

    def __init__(self, image, results: Segmentation, device: str | None = None, clip_model: str = "ViT-B/32"):
        """`device`: where CLIP runs for text prompts (None: the GPU when there is one); selection
        itself is numpy."""
        self.img = read_image(image)
        self.results = results
        self.device = device
        self.clip_model = clip_model

    @staticmethod
    def _masks(seg: Segmentation) -> np.ndarray:
        return seg.masks

    def everything_prompt(self) -> np.ndarray:
        return self._masks(self.results)

    def box_prompt(self, bbox: Sequence[float] | None = None, bboxes: Sequence[Sequence[float]] | None = None) -> np.ndarray:
        boxes = bboxes if bboxes is not None else [bbox] if bbox is not None else []
        return self._masks(select_by_boxes(self.results, boxes))

    def point_prompt(self, points: Sequence[Sequence[float]], pointlabel: Sequence[int]) -> np.ndarray:
        return self._masks(select_by_points(self.results, points, pointlabel))

    def text_prompt(self, text: str) -> np.ndarray:
        if FastSAMPrompt._clip is None:
            FastSAMPrompt._clip = ClipEncoder(self.clip_model, device=self.device)
        return self._masks(select_by_text(self.results, self.img, text, FastSAMPrompt._clip))

    def plot(self, annotations, output_path: str | Path, bboxes=None, points=None, point_label=None,
             mask_random_color: bool = True, better_quality: bool = True, retina: bool = False,
             withContours: bool = True) -> np.ndarray:
        """Write the overlay to output_path (folders created) and return it. Colours are stable
        per mask index (FastSAM's random colours changed on every call)."""
        masks = np.asarray(annotations, dtype=bool).reshape(-1, *self.img.shape[:2])
        seg = Segmentation.of(masks, masks_to_boxes(masks), np.ones(len(masks)))
        pts = [(float(x), float(y), int(l)) for (x, y), l in zip(points or [], point_label or [1] * len(points or []))]
        markers = Markers(pts, [tuple(b) for b in (bboxes or [])])
        annotator = Annotator(contours=withContours, better_quality=better_quality, labels=False)
        out = annotator.annotate(self.img, seg, markers)
        output_path = Path(output_path)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(output_path), out):
            raise FastSAMVideoError(f"cannot write {output_path}: use a .png or .jpg file name in a writable folder")
        return out

