"""Masks kept as the windows around them (`Patch`) and one frame's candidate masks (`Candidates`)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Segmentation
from .appearance import color_histograms


@dataclass(frozen=True, slots=True)
class Patch:
    """A mask kept as the window around it: `pixels` (h, w) bool whose top-left pixel sits at
    (y, x) of a grid (the frame, or the work grid). Moving one moves its corner, and comparing
    two touches only where their windows meet: no whole-frame array per object."""

    pixels: np.ndarray
    y: int
    x: int

    @classmethod
    def of_mask(cls, mask: np.ndarray) -> Patch:
        """The tight window of an (H, W) mask (a view, no copy)."""
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if len(rows) == 0:
            return cls(mask[:0, :0], 0, 0)
        return cls(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], int(rows[0]), int(cols[0]))

    @classmethod
    def of_mask_at(cls, mask: np.ndarray, y: int, x: int) -> Patch:
        """The tight window of a mask whose top-left pixel sits at (y, x)."""
        tight = cls.of_mask(mask)
        return tight.moved(y, x) if tight.pixels.size else tight

    def to_work(self, stride: int) -> Patch:
        """A frame-grid patch sampled onto the work grid (work pixel (i, j) is frame pixel
        (i * stride, j * stride))."""
        if stride == 1:
            return self
        top, left = -self.y % stride, -self.x % stride
        return Patch(self.pixels[top::stride, left::stride], (self.y + top) // stride, (self.x + left) // stride)

    @property
    def window(self) -> tuple[int, int, int, int]:
        """(y1, x1, y2, x2), exclusive ends."""
        h, w = self.pixels.shape
        return self.y, self.x, self.y + h, self.x + w

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.pixels))

    def copy(self) -> Patch:
        """Its own pixels: a view would keep the whole frame it came from alive."""
        return Patch(self.pixels.copy(), self.y, self.x)

    def moved(self, dy: int, dx: int) -> Patch:
        return Patch(self.pixels, self.y + dy, self.x + dx)

    def clipped(self, height: int, width: int) -> Patch:
        """What lies inside a (height, width) grid; what left it is gone."""
        y1, x1, y2, x2 = self.window
        cy1, cx1, cy2, cx2 = max(y1, 0), max(x1, 0), min(y2, height), min(x2, width)
        if (cy1, cx1, cy2, cx2) == (y1, x1, y2, x2):
            return self
        if cy2 <= cy1 or cx2 <= cx1:
            return Patch(self.pixels[:0, :0], 0, 0)
        return Patch(self.pixels[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1], cy1, cx1)

    def grown(self, radius: int) -> Patch:
        """Dilated by a (2 radius + 1) square: pieces may stick out of a prediction by a pixel or two."""
        padded = np.pad(self.pixels, radius).view(np.uint8)
        kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
        return Patch(cv2.dilate(padded, kernel).view(bool), self.y - radius, self.x - radius)

    def box(self) -> np.ndarray | None:
        """xyxy (exclusive right / bottom) of its pixels in grid units; None when empty."""
        rows, cols = np.flatnonzero(self.pixels.any(1)), np.flatnonzero(self.pixels.any(0))
        if len(rows) == 0:
            return None
        return np.array([self.x + cols[0], self.y + rows[0], self.x + cols[-1] + 1, self.y + rows[-1] + 1], float)


def meet(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    y1, x1, y2, x2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (y1, x1, y2, x2) if y2 > y1 and x2 > x1 else None


def part(patch: Patch, window: tuple[int, int, int, int]) -> np.ndarray:
    y1, x1, y2, x2 = window
    return patch.pixels[y1 - patch.y:y2 - patch.y, x1 - patch.x:x2 - patch.x]


def overlap(a: Patch, b: Patch) -> int:
    """Pixels in both, counted where the windows meet."""
    window = meet(a.window, b.window)
    return 0 if window is None else int(np.count_nonzero(part(a, window) & part(b, window)))


def intersection(a: Patch, b: Patch) -> Patch:
    window = meet(a.window, b.window)
    if window is None:
        return Patch(a.pixels[:0, :0], 0, 0)
    return Patch(part(a, window) & part(b, window), window[0], window[1])


def patch_union(patches: list[Patch]) -> Patch:
    if len(patches) == 1:
        return patches[0]
    windows = np.array([p.window for p in patches])
    y1, x1 = windows[:, :2].min(0)
    y2, x2 = windows[:, 2:].max(0)
    out = np.zeros((y2 - y1, x2 - x1), bool)
    for p in patches:
        py1, px1, py2, px2 = p.window
        out[py1 - y1:py2 - y1, px1 - x1:px2 - x1] |= p.pixels
    return Patch(out, int(y1), int(x1))


def paste(patches: list[Patch], height: int, width: int) -> np.ndarray:
    """(N, height, width) bool masks; only the windows are written."""
    out = np.zeros((len(patches), height, width), bool)
    for layer, patch in zip(out, patches):
        patch = patch.clipped(height, width)
        y1, x1, y2, x2 = patch.window
        layer[y1:y2, x1:x2] = patch.pixels
    return out


def touching(a: np.ndarray, b: np.ndarray, margin: int = 0) -> np.ndarray:
    """(A, B) whether windows (y1, x1, y2, x2) of a, grown by `margin`, meet those of b."""
    return ((a[:, None, 0] - margin < b[None, :, 2]) & (b[None, :, 0] < a[:, None, 2] + margin)
            & (a[:, None, 1] - margin < b[None, :, 3]) & (b[None, :, 1] < a[:, None, 3] + margin))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of xyxy boxes (0 where both are empty)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union_area = area_a[:, None] + area_b[None] - inter
    return np.divide(inter, union_area, out=np.zeros_like(inter), where=union_area > 0).astype(np.float32)


@dataclass(frozen=True)
class Candidates:
    """One frame's masks as the tracker sees them: each in its box's window (the engine crops
    masks to their boxes), at the work resolution and at the frame's (views, no copies)."""

    work: list[Patch]
    full: list[Patch]
    windows: np.ndarray  # (N, 4) work-grid y1, x1, y2, x2
    areas: np.ndarray  # (N,) work-resolution pixels
    descriptors: np.ndarray  # (N, B) colour histograms

    @classmethod
    def of(cls, seg: Segmentation, stride: int, bins: np.ndarray) -> Candidates:
        h, w = seg.shape
        b = seg.boxes.astype(np.float64)
        fx1, fx2 = (np.clip(np.floor(b[:, 0]), 0, w).astype(int), np.clip(np.ceil(b[:, 2]), 0, w).astype(int))
        fy1, fy2 = (np.clip(np.floor(b[:, 1]), 0, h).astype(int), np.clip(np.ceil(b[:, 3]), 0, h).astype(int))
        # work pixel (i, j) is frame pixel (i * stride, j * stride)
        wy1, wy2, wx1, wx2 = (-(-v // stride) for v in (fy1, fy2, fx1, fx2))
        work, full = [], []
        for k, mask in enumerate(seg.masks):
            pixels = mask[wy1[k] * stride:wy2[k] * stride:stride, wx1[k] * stride:wx2[k] * stride:stride].copy()
            work.append(Patch(pixels, int(wy1[k]), int(wx1[k])))
            full.append(Patch(mask[fy1[k]:fy2[k], fx1[k]:fx2[k]], int(fy1[k]), int(fx1[k])))
        windows = np.array([p.window for p in work], int).reshape(-1, 4)
        areas = np.array([p.area for p in work], np.float32)
        descriptors = color_histograms(work, bins)
        return cls(work, full, windows, areas, descriptors)


NEAR = 2  # work pixels a piece may stick out of an object's prediction


def box_patch_iou(box: np.ndarray, cand: Candidates) -> np.ndarray:
    """(N,) FastSAM's box-to-mask IoU of one work-grid box against each candidate,
    inside / (box area + mask area - inside), counted where the windows meet."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    window = (y1, x1, y2, x2)
    inside = np.zeros(len(cand.work), np.float32)
    for k in np.flatnonzero(touching(np.array([window]), cand.windows)[0]):
        shared = meet(window, cand.work[k].window)
        if shared is not None:
            inside[k] = np.count_nonzero(part(cand.work[k], shared))
    box_area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    return inside / np.maximum(box_area + cand.areas - inside, 1)
