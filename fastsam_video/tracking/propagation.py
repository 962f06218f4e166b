"""Propagation: an object's own mask carried to the next frame from its own evidence, where the
model has no mask for it (DEVA-style: proposals where the model has them, propagation between).

On the work grid, in a window around the object:
1. dense optical flow (OpenCV DIS, ultrafast preset, at half the work grid's resolution) from
   this frame back to the last one warps the object's last mask forward (`cv2.remap`);
2. the remembered shape (the object as last seen whole), placed where the motion model puts
   it, is expected too: parts coming out from behind an occluder, and motion that the flow
   of a textureless object cannot see;
3. inside (a little around) the warped mask and the placed shape, a pixel is kept when its
   colour is likelier on the object than around it (a histogram likelihood ratio);
4. pixels another tracked object holds this frame are not this object's.
What is left is the visible part: its size tells whether the object is still in view.
"""

from __future__ import annotations

import cv2
import numpy as np

from .appearance import COLOR_LEVELS
from .patches import Patch

MIN_WINDOW = 16  # DIS needs a few of its 8-pixel patches per side
# The flow at half the work grid's resolution. OpenCV's DIS drops its finest scale to 0 (full
# resolution) for good after one window too small for its preset's scale 2, and an object's window
# usually is (60x60 work pixels): set on each call, scale 1 runs 5x faster than 0 (0.07 vs 0.41 ms
# at 60x62) with the same J on the tracker scenarios (0.937 vs 0.936 with --detect-every 3)
FLOW_SCALE = 1
_KERNEL3 = np.ones((3, 3), np.uint8)


class FlowField:
    """One DIS instance and the last two work-grid grey frames; flow is computed per window."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.previous: np.ndarray | None = None
        self.current: np.ndarray | None = None

    def next_frame(self, gray: np.ndarray) -> None:
        self.previous, self.current = self.current, gray

    def backward(self, window: tuple[int, int, int, int]) -> np.ndarray | None:
        """(h, w, 2) flow from this frame to the last one inside `window` (y1, x1, y2, x2):
        this frame's pixel (x, y) came from the last frame's (x + fx, y + fy)."""
        if self.previous is None or self.previous.shape != self.current.shape:
            return None
        y1, x1, y2, x2 = window
        self._dis.setFinestScale(FLOW_SCALE)
        return self._dis.calc(np.ascontiguousarray(self.current[y1:y2, x1:x2]),
                              np.ascontiguousarray(self.previous[y1:y2, x1:x2]), None)


_GRID = np.zeros((0, 0, 2), np.float32)


def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 (x, y) of each pixel: one array, grown as needed, sliced per window."""
    global _GRID
    grid = _GRID  # one read: another thread's tracker may grow it meanwhile
    if grid.shape[0] < h or grid.shape[1] < w:
        size = (max(h, grid.shape[0]), max(w, grid.shape[1]))
        grid = np.dstack(np.meshgrid(np.arange(size[1], dtype=np.float32), np.arange(size[0], dtype=np.float32)))
        _GRID = grid
    return grid[:h, :w]


def flow_window(masks: list[Patch], grid: tuple[int, int], margin: int) -> tuple[int, int, int, int] | None:
    """The masks' common window grown by `margin` (at least MIN_WINDOW a side), inside the grid."""
    windows = np.array([m.window for m in masks if m.area])
    y1, x1 = windows[:, :2].min(0)
    y2, x2 = windows[:, 2:].max(0)
    cy, cx = (y1 + y2) // 2, (x1 + x2) // 2
    half_h, half_w = max((y2 - y1) // 2 + margin, MIN_WINDOW // 2), max((x2 - x1) // 2 + margin, MIN_WINDOW // 2)
    wy1, wx1 = max(cy - half_h, 0), max(cx - half_w, 0)
    wy2, wx2 = min(cy + half_h, grid[0]), min(cx + half_w, grid[1])
    if wy2 - wy1 < MIN_WINDOW or wx2 - wx1 < MIN_WINDOW:
        return None
    return int(wy1), int(wx1), int(wy2), int(wx2)


def likely_colours(foreground: np.ndarray, background: np.ndarray, ratio: float = 1.0) -> np.ndarray:
    """(B,) bool: colour bins likelier on the object than around it."""
    return (foreground > ratio * background) & (foreground > 0.5 / COLOR_LEVELS ** 3)


def window_of(patch: Patch, window: tuple[int, int, int, int]) -> np.ndarray:
    """The patch's pixels laid into `window` (zeros where it does not reach)."""
    y1, x1, y2, x2 = window
    out = np.zeros((y2 - y1, x2 - x1), bool)
    py1, px1, py2, px2 = patch.window
    cy1, cx1, cy2, cx2 = max(py1, y1), max(px1, x1), min(py2, y2), min(px2, x2)
    if cy2 > cy1 and cx2 > cx1:
        out[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1] = patch.pixels[cy1 - py1:cy2 - py1, cx1 - px1:cx2 - px1]
    return out


def propagate(last_mask: Patch, expected: Patch, flow: FlowField, bins: np.ndarray, colours: np.ndarray,
              others: np.ndarray | None) -> Patch | None:
    """Carry `last_mask` (work grid) to this frame. `expected`: the remembered shape where the
    motion model puts the object now; `colours`: `likely_colours`; `others`: (grid) bool, pixels
    other objects hold this frame. None when there is no flow (first frame, window off the grid)."""
    grid = bins.shape
    if last_mask.area == 0:
        return None
    size = max(last_mask.pixels.shape)
    window = flow_window([last_mask, expected], grid, max(8, size // 2))
    if window is None:
        return None
    back = flow.backward(window)
    if back is None:
        return None
    y1, x1, y2, x2 = window
    last = window_of(last_mask, window)
    came_from = back + pixel_grid(*last.shape)
    warped = cv2.remap(last.view(np.uint8), came_from, None, cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    shape = window_of(expected, window)
    region = cv2.dilate((warped | shape).view(np.uint8), _KERNEL3).view(bool)
    keep = region & colours[bins[y1:y2, x1:x2]]
    if np.count_nonzero(keep) > 1.15 * max(last_mask.area, expected.area):
        # growing into something of its colour (a look-alike it touches): the flow of a plain
        # object is poor, so what is kept stays by the expected shape
        keep &= cv2.dilate(shape.view(np.uint8), _KERNEL3).view(bool)
    if others is not None:
        keep &= ~others[y1:y2, x1:x2]
    keep = cv2.morphologyEx(keep.view(np.uint8), cv2.MORPH_OPEN, _KERNEL3).view(bool)
    return Patch.of_mask(keep).moved(y1, x1).copy()


def evidence(expected: Patch, bins: np.ndarray, colours: np.ndarray, others: np.ndarray | None) -> Patch:
    """The pixels of `expected` (work grid) with the object's colours that no other object holds."""
    expected = expected.clipped(*bins.shape)
    y1, x1, y2, x2 = expected.window
    keep = expected.pixels & colours[bins[y1:y2, x1:x2]]
    if others is not None:
        keep &= ~others[y1:y2, x1:x2]
    keep = cv2.morphologyEx(keep.view(np.uint8), cv2.MORPH_OPEN, _KERNEL3).view(bool)
    return Patch.of_mask_at(keep, y1, x1).copy()


def upsample(work: Patch, stride: int, height: int, width: int) -> Patch:
    """A work-grid mask at frame resolution (smooth edges: linear, thresholded at a half)."""
    if work.area == 0 or stride == 1:
        return work.clipped(height, width)
    h, w = work.pixels.shape
    big = cv2.resize(np.pad(work.pixels, 1).astype(np.float32), ((w + 2) * stride, (h + 2) * stride),
                     interpolation=cv2.INTER_LINEAR) > 0.5
    # work pixel (i, j) is frame pixel (i * stride, j * stride): a resize puts it at the cell's centre
    y, x = (work.y - 1) * stride - (stride - 1) // 2, (work.x - 1) * stride - (stride - 1) // 2
    return Patch.of_mask_at(big, y, x).clipped(height, width).copy()
