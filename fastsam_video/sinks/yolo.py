"""YOLO segmentation labels (Ultralytics' format, which CVAT and X-AnyLabeling import):

    DIR/images/00000.jpg     the frame
    DIR/labels/00000.txt     one line per object: CLASS x1 y1 x2 y2 ... (its outline, 0-1)
    DIR/data.yaml            names: {0: object 1, 1: object 2, ...}; train and val: images

The class of an object is its id - 1 (the tracker's ids are the labels to name); an object in
several pieces is written as its largest piece's outline.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import RecordingError
from ..types import Segmentation
from .files import make_folder

MIN_POLYGON_POINTS = 3


def mask_polygon(mask: np.ndarray) -> np.ndarray | None:
    """(K, 2) float32 pixel outline of the mask's largest piece; None for no piece of 3+ points."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contours = [c for c in contours if len(c) >= MIN_POLYGON_POINTS]
    if not contours:
        return None
    return max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float32)


def label_lines(seg: Segmentation) -> list[str]:
    h, w = seg.shape
    lines = []
    for object_id, mask in zip(seg.object_ids.tolist(), seg.masks):
        polygon = mask_polygon(mask)
        if polygon is None:
            continue
        # pixel corners: a contour point (x, y) is the pixel's centre, +0.5 puts the outline on it
        xy = np.clip((polygon + 0.5) / (w, h), 0, 1)
        lines.append(" ".join([str(object_id - 1), *(f"{v:.6f}" for v in xy.ravel())]))
    return lines


class YoloExporter:
    """Writes one label file (and the frame, as JPEG) per frame, and data.yaml on close."""

    def __init__(self, folder: str | Path, *, images: bool = True, jpeg_quality: int = 95) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise RecordingError(f"cannot export YOLO labels to {self.folder}: it is a file; give a folder like "
                                 f"{self.folder.with_name('yolo')}/")
        self.images = images
        self.jpeg_quality = jpeg_quality
        make_folder(self.folder / "labels")
        if images:
            make_folder(self.folder / "images")
        self.frames_written = 0
        self.max_id = 0

    def write(self, frame_index: int, image: np.ndarray, segmentation: Segmentation) -> None:
        name = f"{frame_index:05d}"
        (self.folder / "labels" / f"{name}.txt").write_text("\n".join(label_lines(segmentation)) + "\n")
        if self.images:
            path = self.folder / "images" / f"{name}.jpg"
            if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]):
                raise RecordingError(f"cannot write {path}: check the disk has space and the folder is writable")
        if len(segmentation):
            self.max_id = max(self.max_id, int(segmentation.object_ids.max()))
        self.frames_written += 1

    def close(self) -> None:
        names = "".join(f"  {i}: object {i + 1}\n" for i in range(self.max_id))
        (self.folder / "data.yaml").write_text(f"path: {self.folder.resolve()}\ntrain: images\nval: images\n"
                                               f"names:\n{names or '  0: object 1' + chr(10)}")

    def __enter__(self) -> YoloExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
