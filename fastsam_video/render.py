"""annotate(scene, segmentation) -> scene: mask overlay, contours, ids, prompt markers, HUD.

The overlay is computed with OpenCV from one layer map (no loop over masks), inside the
masks' bounding region only; text and markers are drawn with OpenCV too.
Colours are a fixed function of the object id, so an object keeps its colour forever.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Mapping, Sequence

import cv2
import numpy as np

from .events import ObjectState
from .prompts import masks_to_boxes
from .types import Segmentation

_PALETTE_SIZE = 4096
# golden-ratio hue steps: neighbouring ids get far-apart hues
_PALETTE = np.array([[0, 0, 0]] + [
    [round(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618033988749895 + 0.05) % 1.0, 0.85, 0.95)][::-1]
    for i in range(1, _PALETTE_SIZE)], np.uint8)  # BGR


def _colorize(layers: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """(H, W, 3) colours of a layer map: OpenCV's table lookup for 8-bit maps, numpy indexing beyond."""
    if layers.dtype != np.uint8:
        return lut[layers]
    table = np.zeros((256, 1, 3), np.uint8)
    table[:len(lut), 0] = lut
    return cv2.applyColorMap(layers, table)


def color_of(object_id: int) -> tuple[int, int, int]:
    """The BGR colour of an object id (stable across frames and runs)."""
    if object_id <= 0:
        return (0, 0, 0)
    return tuple(int(v) for v in _PALETTE[(object_id - 1) % (_PALETTE_SIZE - 1) + 1])


def refine_masks(masks: np.ndarray, kernel: int = 7) -> np.ndarray:
    """FastSAM's "better quality": morphological close then open, per mask, with OpenCV on the
    mask's box window (padded so that the window's edge never changes the result)."""
    out = np.zeros_like(masks, dtype=bool)
    h, w = masks.shape[1:]
    square = np.ones((kernel, kernel), np.uint8)
    pad = 2 * kernel  # beyond what close + open can reach from the mask
    for k, (x1, y1, x2, y2) in enumerate(masks_to_boxes(masks).astype(int).tolist()):
        if x2 == 0:  # empty stays empty
            continue
        x1, y1, x2, y2 = max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, w), min(y2 + pad, h)
        window = np.ascontiguousarray(masks[k, y1:y2, x1:x2]).view(np.uint8)
        closed = cv2.morphologyEx(window, cv2.MORPH_CLOSE, square)
        out[k, y1:y2, x1:x2] = cv2.morphologyEx(closed, cv2.MORPH_OPEN, square).view(bool)
    return out


@dataclass(frozen=True)
class Markers:
    """Prompt markers in frame pixels: points (x, y, label) and boxes xyxy."""

    points: Sequence[tuple[float, float, int]] = ()
    boxes: Sequence[tuple[float, float, float, float]] = ()


@dataclass(frozen=True)
class LostObject:
    """An object the tracker is searching for: drawn as a dashed box, not as a mask."""

    object_id: int
    box: tuple[float, float, float, float]


@dataclass
class Annotator:
    alpha: float = 0.5
    contours: bool = True
    contour_thickness: int = 2
    labels: bool = True
    better_quality: bool = False
    font_scale: float = 0.5

    def overlay(self, scene: np.ndarray, seg: Segmentation) -> np.ndarray:
        """The (H, W, 3) uint8 BGR scene with the masks blended in and outlined, as a new array."""
        return self._overlay_into(scene.copy(), seg)

    def _overlay_into(self, out: np.ndarray, seg: Segmentation) -> np.ndarray:
        """`overlay`, drawn on `out` in place."""
        if len(seg) == 0:
            return out
        if self.better_quality:
            seg = Segmentation(refine_masks(seg.masks), seg.boxes, seg.scores, seg.object_ids, seg.timings)
        order, top = seg.layers()
        # colour of each layer: row 0 (no mask) is never used
        lut = np.concatenate([np.zeros((1, 3), np.uint8),
                              _PALETTE[(seg.object_ids[order] - 1) % (_PALETTE_SIZE - 1) + 1]])
        return self._overlay_cv2(out, top, lut)

    def _kernel(self) -> int:
        return 2 * max(1, self.contour_thickness // 2) + 1  # a morphological gradient: edges on both sides

    def _overlay_cv2(self, out: np.ndarray, top: np.ndarray, lut: np.ndarray) -> np.ndarray:
        """Draws on `out` in place. `top`: the (H, W) layer map, uint8 (up to 255 layers) or uint16;
        `lut`: each layer's colour."""
        covered = top if top.dtype == np.uint8 else cv2.compare(top, 0, cv2.CMP_GT)  # an 8-bit mask for OpenCV
        x, y, w, h = cv2.boundingRect(covered)  # the masks' region: all the work below stays inside it
        if w == 0:
            return out
        pad = self._kernel() // 2 + 1 if self.contours else 0
        x0, y0 = max(x - pad, 0), max(y - pad, 0)
        x1, y1 = min(x + w + pad, top.shape[1]), min(y + h + pad, top.shape[0])
        top, covered, view = top[y0:y1, x0:x1], covered[y0:y1, x0:x1], out[y0:y1, x0:x1]
        blended = cv2.addWeighted(view, 1 - self.alpha, _colorize(top, lut), self.alpha, 0)
        cv2.copyTo(blended, covered, view)  # where any mask is
        if self.contours:
            kernel = np.ones((self._kernel(),) * 2, np.uint8)
            upper = cv2.dilate(top, kernel)  # the topmost layer next to each pixel gives the edge its colour
            edge = cv2.compare(upper, cv2.erode(top, kernel), cv2.CMP_NE)
            edge &= cv2.compare(upper, 0, cv2.CMP_GT)
            cv2.copyTo(_colorize(upper, lut), edge, view)
        return out

    def annotate(self, scene: np.ndarray, seg: Segmentation, markers: Markers | None = None,
                 lost: Sequence[LostObject] = (), states: Mapping[int, ObjectState] | None = None) -> np.ndarray:
        """The annotated BGR frame (a new array; `scene` is not modified). `states`: the
        tracker's object states; a predicted object (carried forward by motion) gets a dashed box
        and a "predicted" tag, an occluded one an "occluded" tag."""
        return self.annotate_in_place(scene.copy(), seg, markers, lost, states)

    def annotate_in_place(self, out: np.ndarray, seg: Segmentation, markers: Markers | None = None,
                          lost: Sequence[LostObject] = (),
                          states: Mapping[int, ObjectState] | None = None) -> np.ndarray:
        """`annotate`, drawn on `out` (returned): for a frame the caller made and owns already."""
        self._overlay_into(out, seg)
        states = states or {}
        if self.labels and len(seg):
            boxes = np.round(seg.boxes).astype(int).tolist()
            for object_id, (x1, y1, x2, y2) in zip(seg.object_ids.tolist(), boxes):
                state = states.get(object_id, ObjectState.TRACKED)
                if state is ObjectState.PREDICTED:
                    draw_dashed_rect(out, (x1, y1), (x2, y2), color_of(object_id), dash=4)
                text = str(object_id) if state is ObjectState.TRACKED else f"{object_id} {state.value}"
                draw_tag(out, text, (x1, y1), color_of(object_id), self.font_scale)
        for obj in lost:
            x1, y1, x2, y2 = (int(round(v)) for v in obj.box)
            draw_dashed_rect(out, (x1, y1), (x2, y2), color_of(obj.object_id))
            draw_tag(out, f"{obj.object_id} lost", (x1, y1), color_of(obj.object_id), self.font_scale)
        if markers is not None:
            draw_markers(out, markers)
        return out


def draw_tag(image: np.ndarray, text: str, origin: tuple[int, int], color, font_scale: float = 0.5) -> None:
    """A filled label box with the text, placed just inside the frame at `origin`."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    h, w = image.shape[:2]
    x = min(max(origin[0], 0), max(w - tw - 4, 0))
    y = min(max(origin[1], th + base + 2), h - 1)
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 4, y), color, -1)
    luminance = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    cv2.putText(image, text, (x + 2, y - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                (0, 0, 0) if luminance > 140 else (255, 255, 255), 1, cv2.LINE_AA)


def draw_dashed_rect(image: np.ndarray, p1, p2, color, dash: int = 8) -> None:
    (x1, y1), (x2, y2) = p1, p2
    for a, b, fixed, horizontal in ((x1, x2, y1, True), (x1, x2, y2, True), (y1, y2, x1, False), (y1, y2, x2, False)):
        for start in range(a, b, 2 * dash):
            end = min(start + dash, b)
            pts = ((start, fixed), (end, fixed)) if horizontal else ((fixed, start), (fixed, end))
            cv2.line(image, *pts, color, 2, cv2.LINE_AA)


def draw_markers(image: np.ndarray, markers: Markers) -> None:
    for x, y, label in markers.points:
        center = (int(round(x)), int(round(y)))
        color = (60, 220, 60) if label == 1 else (60, 60, 230)
        cv2.circle(image, center, 6, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(image, center, 4, color, -1, cv2.LINE_AA)
    for x1, y1, x2, y2 in markers.boxes:
        cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), (255, 255, 255), 2, cv2.LINE_AA)


def draw_hud(image: np.ndarray, lines: Sequence[str], font_scale: float = 0.5) -> None:
    """Status lines at the top-left on a translucent band."""
    if not lines:
        return
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)[0] for line in lines]
    line_h = max(h for _, h in sizes) + 6
    width = min(max(w for w, _ in sizes) + 12, image.shape[1])
    height = min(line_h * len(lines) + 6, image.shape[0])
    band = image[:height, :width]
    band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(image, line, (6, (i + 1) * line_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), 1, cv2.LINE_AA)


# ---------------------------------------------------------------- zones and lines

ZONE_COLOR = (0, 215, 255)  # BGR amber: an empty zone
ZONE_BUSY_COLOR = (40, 40, 240)  # red: something inside
LINE_COLOR = (255, 200, 0)
FLASH_COLOR = (255, 255, 255)


def draw_zones(image: np.ndarray, zones, counts: Sequence = (), flashing: Sequence = ()) -> None:
    """Zones (outline, name, objects inside and coverage) and lines (direction arrow pointing to
    their "in" side, in / out totals) on `image` in place; a line just crossed, and the boxes in
    `flashing` (xyxy of the objects crossing it), drawn highlighted. `zones`: an analytics
    ZoneSet (normalised coordinates); `counts`: its ZoneCounts."""
    h, w = image.shape[:2]
    # 8-connected outlines: anti-aliased ones cost 5x (130 vs 23 us per zone at 1080p) and thick
    # straight lines hardly show the difference
    by_name = {c.name: c for c in counts}
    scale = np.array([w, h], np.float64)
    thickness = max(2, round(min(h, w) / 300))
    for region in zones:
        count = by_name.get(region.name)
        if region.kind == "zone":
            pts = np.round(np.asarray(region.polygon) * scale).astype(np.int32)
            color = ZONE_BUSY_COLOR if count is not None and count.objects else ZONE_COLOR
            cv2.polylines(image, [pts], True, color, thickness, cv2.LINE_8)
            origin = tuple(int(v) for v in pts.min(0))
        else:
            flash = count is not None and count.flash
            a, b = (np.asarray(p) * scale for p in (region.start, region.end))
            color = FLASH_COLOR if flash else LINE_COLOR
            cv2.line(image, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), color,
                     thickness * (2 if flash else 1), cv2.LINE_8)
            mid, along = (a + b) / 2, (b - a) / max(np.hypot(*(b - a)), 1e-9)
            right = np.array([-along[1], along[0]])  # screen coordinates (y down): the "in" side
            tip = mid + right * max(18.0, min(h, w) / 12)
            cv2.arrowedLine(image, tuple(np.round(mid).astype(int)), tuple(np.round(tip).astype(int)), color,
                            thickness, cv2.LINE_8, tipLength=0.35)
            origin = tuple(int(v) for v in np.round(a))
        text = count.label() if count is not None else region.name
        draw_tag(image, text, (origin[0], origin[1] + 18), color)
    for x1, y1, x2, y2 in flashing:
        cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), FLASH_COLOR, thickness + 1, cv2.LINE_8)
