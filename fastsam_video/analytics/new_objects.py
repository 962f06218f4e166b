"""New objects in a zone with no prompt: masks that were not in the zone's background.

The background is what the segmenter finds in the zone on the zone's first frame (and any
mask later at the place of one of those: box IoU >= 0.5). A mask mostly inside the zone, at
least `min_area` of the frame, not covered by an already tracked object, and found at about
the same place (box IoU >= 0.3) `min_frames` frames in a row, is handed back as a box: the
pipeline turns it into a box-prompted tracked object, which the zones then count like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Segmentation
from .geometry import Zone
from ..tracker import box_iou
from .masks import ZoneRaster, mask_windows

BACKGROUND_IOU = 0.5
SAME_PLACE_IOU = 0.3
TRACKED_SHARE = 0.3  # a mask this much covered by tracked objects is one of them (or a part)


@dataclass(frozen=True)
class NewObject:
    """A mask that became an object: its box (xyxy frame pixels) now, and the frame where the
    zone first saw it (its entry: the zone backdates the object's `zone_entered` to it)."""

    zone: str
    box: tuple[float, float, float, float]
    frame: int
    t: float


@dataclass
class _Candidate:
    box: np.ndarray
    frame: int
    t: float
    frames: int = 1
    handed: bool = False  # already handed back: followed, never handed twice


class NewObjectFinder:
    def __init__(self, zone: Zone):
        self.zone = zone
        self.options = zone.detect_new
        self.background: np.ndarray | None = None  # (B, 4) boxes
        self.candidates: list[_Candidate] = []

    def update(self, everything: Segmentation, tracked: np.ndarray | None, raster: ZoneRaster,
               stride: int, frame_index: int, t: float) -> list[NewObject]:
        """The masks that just became new objects. `tracked`: the grid's cells covered by tracked
        objects."""
        h, w = everything.shape
        windows = mask_windows(everything, stride)
        inside = []
        for k, win in enumerate(windows):
            if win.area and raster.inside_cells(win) >= self.zone.min_fraction * win.area:
                inside.append(k)
        boxes = everything.boxes[inside].astype(float) if inside else np.zeros((0, 4))
        if self.background is None:
            self.background = boxes
            return []
        min_cells = self.options.min_area * h * w / stride ** 2
        fresh = []
        for k, box in zip(inside, boxes):
            win = windows[k]
            if win.area < min_cells:
                continue
            if len(self.background) and box_iou(box[None], self.background).max() >= BACKGROUND_IOU:
                continue
            if tracked is not None:
                covered = np.count_nonzero(tracked[win.r0:win.r1, win.c0:win.c1] & win.cells)
                if covered >= TRACKED_SHARE * win.area:
                    continue
            fresh.append(box)
        survivors, found = [], []
        for box in fresh:
            match = None
            if self.candidates:
                ious = box_iou(box[None], np.stack([c.box for c in self.candidates]))[0]
                best = int(ious.argmax())
                if ious[best] >= SAME_PLACE_IOU:
                    match = self.candidates.pop(best)
            candidate = (_Candidate(box, frame_index, t) if match is None else
                         _Candidate(box, match.frame, match.t, match.frames + 1, match.handed))
            if candidate.frames >= self.options.min_frames and not candidate.handed:
                found.append(NewObject(self.zone.name, tuple(float(v) for v in box), candidate.frame, candidate.t))
                candidate.handed = True
            survivors.append(candidate)
        self.candidates = survivors  # one that was not seen this frame starts again (a tracked one is not seen)
        return found
