"""PromptTracker: objects created by point / box / text prompts keep their id and colour while
they move, while something passes in front of them, and when they come back.

Per frame, on the inference thread (no locks: the tracker lives on one thread):
1. every object's box is predicted by a constant-velocity Kalman filter, and its last mask
   shifted with it;
2. each candidate mask of the frame is scored against each object: overlap with the
   predicted mask, colour-histogram appearance, and the prompt moved with the object
   (foreground points inside, background points outside, box overlap);
3. a joint assignment (Hungarian) gives each mask to at most one object, tracked objects
   first, then lost objects, which are searched for by appearance anywhere in the frame;
4. leftover masks lying inside an object's predicted mask are merged into it (FastSAM
   often splits an object into parts, and an occluder splits it into pieces). A tracked object
   that got no mask but whose visible pieces add up to `min_visible` of its usual area is
   "occluded": its mask is the union of those pieces, and its predicted shape stays the whole
   object's (the shape it had when last seen whole, moved with the motion model);
5. a tracked object with no fitting mask at all, whose predicted region still looks like it, is
   "predicted" for up to `predict_frames` frames: its mask is carried forward by the motion
   model (the model missed it; no event, no flicker);
6. otherwise it becomes "lost" (drawn as a dashed box), keeps being predicted, and comes back
   with the same id, or is dropped after `max_lost_seconds`.
Memory per object is fixed: one mask, one descriptor, the filter state. Numpy / OpenCV only: masks
are kept and compared as windows around them (`Patch`), at a work resolution, so a frame costs about
the objects' and candidates' areas, not objects x candidates whole frames.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Callable

import cv2
import numpy as np

from .prompts import (BoxPrompt, ImageTextEncoder, PointPrompt, TextPrompt, masks_at_points, select_by_boxes,
                      select_by_points, select_by_text)
from .render import LostObject
from .events import Event, EventKind, ObjectState
from .types import FastSAMVideoError, PromptError, Segmentation

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- prompts, as an immutable snapshot

@dataclass(frozen=True, slots=True)
class ObjectPrompt:
    """How the user picked one object: a point set (fg 1 / bg 0), a box, or a text."""

    object_id: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        kinds = sum((bool(self.points), self.box is not None, bool(self.text)))
        if kinds != 1:
            raise PromptError(f"object {self.object_id}: expected exactly one of points, box or text, got {kinds}")
        if self.object_id < 1:
            raise PromptError(f"object ids start at 1, got {self.object_id}")
        try:  # the same rules as a one-off prompt
            if self.points:
                PointPrompt(self.points, self.labels)
            elif self.box is not None:
                BoxPrompt(self.box)
            else:
                TextPrompt(self.text)
        except PromptError as err:
            raise PromptError(f"object {self.object_id}: {err}") from None

    @property
    def kind(self) -> str:
        return "points" if self.points else "box" if self.box is not None else "text"


@dataclass(frozen=True, slots=True)
class PromptSet:
    """The whole prompt state; the UI replaces it whole, the tracker applies it from the next frame."""

    objects: tuple[ObjectPrompt, ...] = ()
    everything: bool = False

    def next_id(self) -> int:
        return max((o.object_id for o in self.objects), default=0) + 1

    def add(self, prompt: ObjectPrompt) -> PromptSet:
        return replace(self, objects=tuple(o for o in self.objects if o.object_id != prompt.object_id) + (prompt,))

    def remove(self, object_id: int) -> PromptSet:
        return replace(self, objects=tuple(o for o in self.objects if o.object_id != object_id))


# ---------------------------------------------------------------- assignment

def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching of rows to columns (Hungarian, shortest augmenting paths, O(n^2 m)
    with numpy over the columns). Returns (rows, cols) like scipy's linear_sum_assignment."""
    cost = np.asarray(cost, dtype=float)
    if cost.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    if cost.shape[0] > cost.shape[1]:
        cols, rows = linear_assignment(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    match = np.zeros(m + 1, int)  # match[j]: 1-based row of column j (column 0 is the root)
    way = np.zeros(m + 1, int)
    for i in range(1, n + 1):
        match[0], j0 = i, 0
        min_slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = match[j0]
            free = ~used[1:]
            slack = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (slack < min_slack[1:])
            min_slack[1:][better] = slack[better]
            way[1:][better] = j0
            candidates = np.where(free, min_slack[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            used_cols = np.nonzero(used)[0]
            u[match[used_cols]] += delta
            v[used_cols] -= delta
            min_slack[1:][free] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:  # flip the augmenting path
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    cols = np.nonzero(match[1:])[0]
    rows = match[1:][cols] - 1
    order = np.argsort(rows)
    return rows[order], cols[order]


# ---------------------------------------------------------------- motion model

class BoxKalman:
    """Constant-velocity Kalman filter on (cx, cy, w, h); time in frames."""

    def __init__(self, box: np.ndarray):
        self.x = np.r_[_cxcywh(box), np.zeros(4)]
        scale = max(box[2] - box[0], box[3] - box[1], 1.0)
        self.P = np.diag([scale, scale, scale, scale, 4 * scale, 4 * scale, scale, scale]) ** 2 * 0.01

    @staticmethod
    def _transition(dt: float) -> np.ndarray:
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * dt
        return F

    def predict(self, dt: float = 1.0, damping: float = 1.0) -> np.ndarray:
        F = self._transition(dt)
        self.x = F @ self.x
        self.x[4:] *= damping  # lost objects slow down instead of flying off
        size = max(self.x[2], self.x[3], 1.0)
        q = np.r_[np.full(4, 0.05 * size), np.full(4, 0.02 * size)] ** 2
        self.P = F @ self.P @ F.T + np.diag(q) * dt
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        return self.box

    def update(self, box: np.ndarray) -> None:
        z = _cxcywh(box)
        H = np.hstack([np.eye(4), np.zeros((4, 4))])
        size = max(z[2], z[3], 1.0)
        R = np.diag(np.full(4, 0.05 * size) ** 2)
        S = H @ self.P @ H.T + R
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (np.eye(8) - K @ H) @ self.P

    @property
    def box(self) -> np.ndarray:
        cx, cy, w, h = self.x[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], float)


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


def _meet(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    y1, x1, y2, x2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (y1, x1, y2, x2) if y2 > y1 and x2 > x1 else None


def _part(patch: Patch, window: tuple[int, int, int, int]) -> np.ndarray:
    y1, x1, y2, x2 = window
    return patch.pixels[y1 - patch.y:y2 - patch.y, x1 - patch.x:x2 - patch.x]


def overlap(a: Patch, b: Patch) -> int:
    """Pixels in both, counted where the windows meet."""
    window = _meet(a.window, b.window)
    return 0 if window is None else int(np.count_nonzero(_part(a, window) & _part(b, window)))


def intersection(a: Patch, b: Patch) -> Patch:
    window = _meet(a.window, b.window)
    if window is None:
        return Patch(a.pixels[:0, :0], 0, 0)
    return Patch(_part(a, window) & _part(b, window), window[0], window[1])


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


def _touching(a: np.ndarray, b: np.ndarray, margin: int = 0) -> np.ndarray:
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


# ---------------------------------------------------------------- appearance

COLOR_LEVELS = 6  # per channel: 216-bin BGR histograms
_LEVEL = ((np.arange(256) * COLOR_LEVELS) >> 8).astype(np.uint8)


def color_bins(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 histogram bin of each pixel of a BGR uint8 image (215 at most)."""
    q = cv2.LUT(np.ascontiguousarray(image), _LEVEL)
    return (q[..., 0] * COLOR_LEVELS + q[..., 1]) * COLOR_LEVELS + q[..., 2]


def color_histograms(patches: list[Patch], bins: np.ndarray) -> np.ndarray:
    """(N, B) normalised colour histograms of the pixels under each work-grid patch; cost ~ windows."""
    size = COLOR_LEVELS ** 3
    out = np.zeros((len(patches), size), np.float32)
    h, w = bins.shape
    for row, patch in zip(out, patches):
        patch = patch.clipped(h, w)
        y1, x1, y2, x2 = patch.window
        counts = np.bincount(bins[y1:y2, x1:x2][patch.pixels], minlength=size)
        row[:] = counts / max(int(counts.sum()), 1)
    return out


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) histogram intersection in [0, 1]."""
    return np.minimum(a[:, None], b[None]).sum(-1)


# ---------------------------------------------------------------- tracked objects

@dataclass
class TrackerConfig:
    max_lost_seconds: float = 10.0  # a lost object is searched for this long, then dropped
    min_match: float = 0.3  # lowest score that keeps a tracked object
    min_appearance: float = 0.35  # colour similarity below this never matches
    reacquire_appearance: float = 0.55  # a lost object needs this much to come back
    part_inside: float = 0.7  # a leftover mask this much inside the prediction is a part
    appearance_rate: float = 0.1  # how fast the descriptor follows the object
    merged_area: float = 1.4  # a match this much larger than the object holds something else too
    coast_frames: int = 10  # a lost object keeps its velocity this many frames
    work_size: int = 256  # masks are compared at about this many pixels on the long side
    whole: float = 0.85  # a match this share of the usual area is the whole object, less is "occluded"
    reshape: float = 0.95  # a whole match this share of the usual area renews the remembered shape
    min_visible: float = 0.2  # an occluded object's visible pieces add up to at least this share
    predict_frames: int = 5  # a missed object's mask is carried forward this many frames, then "lost"


@dataclass
class TrackedObject:
    prompt: ObjectPrompt
    kalman: BoxKalman
    mask: Patch  # work grid: the shape when last seen whole
    descriptor: np.ndarray  # (B,) float32 colour histogram
    area: float  # work-resolution pixels of the current mask
    typical_area: float  # followed only on sure matches: what a re-found object should measure
    box: np.ndarray  # last measured xyxy (frame pixels)
    # the prompt relative to the object's box: (u, v) in box units, so it moves and scales with it
    rel_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    rel_box: np.ndarray | None = None
    state: ObjectState = ObjectState.TRACKED
    lost_since: float | None = None
    last_index: int = 0
    frames_lost: int = 0
    full_mask: Patch | None = None  # the current mask at frame resolution
    full_shift: tuple[int, int] = (0, 0)  # this frame's predicted motion in frame pixels (dy, dx)
    mask_center: np.ndarray | None = None  # (cx, cy) frame pixels where `mask` was seen
    frames_missed: int = 0  # frames in a row without a fitting mask (predicted, then lost)

    @property
    def object_id(self) -> int:
        return self.prompt.object_id

    def prompt_points(self, box: np.ndarray) -> np.ndarray:
        return box[:2] + self.rel_points * np.maximum(box[2:] - box[:2], 1.0)

    def prompt_box(self, box: np.ndarray) -> np.ndarray | None:
        if self.rel_box is None:
            return None
        wh = np.maximum(box[2:] - box[:2], 1.0)
        return np.r_[box[:2] + self.rel_box[:2] * wh, box[:2] + self.rel_box[2:] * wh]


@dataclass(frozen=True)
class ObjectStatus:
    """What the UI's object list shows."""

    object_id: int
    kind: str
    state: ObjectState
    frames_lost: int


@dataclass(frozen=True)
class TrackResult:
    segmentation: Segmentation  # tracked objects only, object_ids = their ids
    lost: tuple[LostObject, ...]
    objects: tuple[ObjectStatus, ...]
    events: tuple[Event, ...]


class PromptTracker:
    """Keeps prompted objects selected across frames. Call `update` once per frame, in order."""

    def __init__(self, config: TrackerConfig | None = None,
                 text_encoder: Callable[[], ImageTextEncoder] | None = None):
        self.config = config or TrackerConfig()
        self._text_encoder_factory = text_encoder
        self._text_encoder: ImageTextEncoder | None = None
        self.objects: dict[int, TrackedObject] = {}
        self.prompts = PromptSet()
        self._applied: dict[int, ObjectPrompt] = {}
        self._rejected: set[ObjectPrompt] = set()

    # -------------------------------------------------------------- prompts
    def set_prompts(self, prompts: PromptSet) -> None:
        """Replace the prompt snapshot; applied on the next `update`."""
        self.prompts = prompts

    def _sync(self, seg: Segmentation, image: np.ndarray, frame_index: int, t: float,
              events: list[Event]) -> None:
        wanted = {p.object_id: p for p in self.prompts.objects}
        for object_id in list(self.objects):
            if object_id not in wanted:
                del self.objects[object_id]
                self._applied.pop(object_id, None)
                events.append(Event(EventKind.OBJECT_REMOVED, object_id=object_id, pts=t))
        for object_id, prompt in wanted.items():
            if self._applied.get(object_id) == prompt or prompt in self._rejected:
                continue
            try:
                created = self._create(prompt, seg, image, frame_index)
            except FastSAMVideoError as err:  # e.g. no CLIP weights: reject this prompt, keep the stream going
                self._rejected.add(prompt)
                events.append(Event(EventKind.OBJECT_REJECTED, object_id=object_id, pts=t, detail=str(err)))
                continue
            if created is None:
                self._rejected.add(prompt)
                self.objects.pop(object_id, None)
                events.append(Event(EventKind.OBJECT_NOT_FOUND, object_id=object_id, pts=t,
                                   detail=f"nothing found under the {prompt.kind} prompt"))
                continue
            was_there = object_id in self.objects
            self.objects[object_id] = created
            self._applied[object_id] = prompt
            events.append(Event(EventKind.OBJECT_UPDATED if was_there else EventKind.OBJECT_ADDED, object_id=object_id,
                                pts=t, detail=prompt.kind))

    def _select(self, prompt: ObjectPrompt, seg: Segmentation, image: np.ndarray) -> Segmentation:
        if prompt.points:
            return select_by_points(seg, prompt.points, prompt.labels)
        if prompt.box is not None:
            return select_by_boxes(seg, [prompt.box])
        if self._text_encoder is None:
            if self._text_encoder_factory is None:
                raise PromptError("text prompts need CLIP: the tracker was built without a text encoder")
            self._text_encoder = self._text_encoder_factory()
        return select_by_text(seg, image, prompt.text, self._text_encoder)

    def _create(self, prompt: ObjectPrompt, seg: Segmentation, image: np.ndarray,
                frame_index: int) -> TrackedObject | None:
        chosen = self._select(prompt, seg, image)
        if len(chosen) == 0:
            return None
        full = chosen.masks[0]
        box = chosen.boxes[0].astype(float)
        stride = self._stride(full.shape)
        work = Patch.of_mask(full[::stride, ::stride]).copy()
        area = float(work.area)
        descriptor = color_histograms([work], color_bins(image[::stride, ::stride]))[0]
        obj = TrackedObject(prompt, BoxKalman(box), work, descriptor, area, area, box, last_index=frame_index,
                            full_mask=Patch.of_mask(full), mask_center=_cxcywh(box)[:2])
        wh = np.maximum(box[2:] - box[:2], 1.0)
        if prompt.points:
            obj.rel_points = (np.asarray(prompt.points, float) - box[:2]) / wh
        if prompt.box is not None:
            b = np.asarray(prompt.box, float)
            obj.rel_box = np.r_[(b[:2] - box[:2]) / wh, (b[2:] - box[:2]) / wh]
        return obj

    # -------------------------------------------------------------- per frame
    def _stride(self, shape: tuple[int, int]) -> int:
        return max(1, math.ceil(max(shape) / self.config.work_size))

    def update(self, seg: Segmentation | None, image: np.ndarray, frame_index: int, t: float) -> TrackResult:
        """Assign this frame's masks to the objects. `image`: the frame, (H, W, 3) uint8 BGR;
        `t`: the frame's time in seconds (pts or capture time). `seg` None: the model did not run
        on this frame; every object is carried (here: held where it was), not a miss, no events."""
        if seg is None:  # minimal stand-in until the propagating tracker (issue 21) replaces this module
            return self._result(Segmentation.empty(*image.shape[:2]), [])
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (*seg.shape, 3)):
            raise ValueError(f"tracker image: expected a ({seg.shape[0]}, {seg.shape[1]}, 3) uint8 numpy array "
                             f"(the frame of the segmentation), got {type(image).__name__} "
                             f"{getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}")
        events: list[Event] = []
        self._sync(seg, image, frame_index, t, events)
        created_now = {i for i, o in self.objects.items() if o.last_index == frame_index}
        active = [o for i, o in self.objects.items() if i not in created_now]
        if active:
            self._match(active, seg, image, frame_index, t, events)
        for obj in list(self.objects.values()):
            if obj.state is ObjectState.LOST and t - obj.lost_since > self.config.max_lost_seconds:
                del self.objects[obj.object_id]
                events.append(Event(EventKind.OBJECT_DROPPED, object_id=obj.object_id, pts=t,
                                    detail=f"lost for over {self.config.max_lost_seconds:g} s"))
        for event in events:
            log.info("%s", event)
        return self._result(seg, events)

    def _match(self, active: list[TrackedObject], seg: Segmentation, image: np.ndarray,
               frame_index: int, t: float, events: list[Event]) -> None:
        cfg = self.config
        h, w = seg.shape
        stride = self._stride((h, w))
        grid = (-(-h // stride), -(-w // stride))  # the work grid's (rows, columns)
        bins = color_bins(image[::stride, ::stride])
        cand = Candidates.of(seg, stride, bins)  # each mask in its box's window: the work is the boxes' area
        n = len(cand.work)

        predicted = []
        for obj in active:
            dt = max(frame_index - obj.last_index, 1)
            obj.last_index = frame_index
            # a lost object keeps its velocity for a few frames (passing behind something), then slows down
            damping = 0.8 if obj.state is ObjectState.LOST and obj.frames_lost > cfg.coast_frames else 1.0
            before = _cxcywh(obj.kalman.box)
            box = obj.kalman.predict(dt, damping)
            motion = _cxcywh(box)[:2] - before[:2]
            obj.full_shift = (int(round(motion[1])), int(round(motion[0])))
            # the whole shape, placed where the motion model puts the object (no rounding drift); one
            # that left the frame is expected back where it left
            center = np.clip(_cxcywh(box)[:2], 0, (w - 1, h - 1))
            shift = (center - obj.mask_center) / stride
            predicted.append(obj.mask.moved(int(round(shift[1])), int(round(shift[0]))).clipped(*grid))
        pred_area = np.array([p.area for p in predicted], np.float32)
        if n == 0:
            for obj, guess, area in zip(active, predicted, pred_area):
                self._miss(obj, guess, area, None, t, events, bins, (h, w))
            return
        o = len(active)
        # overlaps, counted only for the pairs whose windows meet: a handful, not O x N whole frames
        inter = np.zeros((o, n), np.float32)
        near = np.zeros((o, n), np.float32)  # candidate pixels within 2 work pixels of the prediction
        touching = _touching(np.array([p.window for p in predicted], int).reshape(-1, 4), cand.windows, NEAR)
        for i, guess in enumerate(predicted):
            ks = np.flatnonzero(touching[i])
            if len(ks) == 0 or pred_area[i] == 0:
                continue
            grown = guess.grown(NEAR)  # pieces may stick out of the prediction by a pixel or two
            for k in ks:
                inter[i, k] = overlap(guess, cand.work[k])
                near[i, k] = overlap(grown, cand.work[k])
        iou = inter / np.maximum(pred_area[:, None] + cand.areas[None] - inter, 1)
        inside = near / np.maximum(cand.areas[None], 1)
        appearance = histogram_similarity(np.stack([obj.descriptor for obj in active]), cand.descriptors)

        pred_boxes = np.stack([obj.kalman.box for obj in active])
        prompt_term = np.zeros((o, n), np.float32)
        excluded = np.zeros((o, n), bool)
        for i, obj in enumerate(active):
            box = pred_boxes[i]
            if len(obj.rel_points):
                hits = masks_at_points(seg.masks, obj.prompt_points(box))  # (P, N)
                labels = np.asarray(obj.prompt.labels)
                fg, bg = hits[labels == 1], hits[labels == 0]
                prompt_term[i] = fg.mean(0)
                if len(bg):
                    excluded[i] = bg.any(0)  # background points keep excluding what they excluded
            pbox = obj.prompt_box(box)
            if pbox is not None:
                prompt_term[i] = _box_patch_iou(pbox / stride, cand)  # at work resolution, like the rest
        boxes_iou = box_iou(pred_boxes, seg.boxes.astype(np.float64))

        tracked = [i for i, obj in enumerate(active) if obj.state is not ObjectState.LOST]
        lost = [i for i, obj in enumerate(active) if obj.state is ObjectState.LOST]
        taken = np.zeros(n, bool)
        assigned: dict[int, int] = {}

        if tracked:
            score = (0.5 * iou[tracked] + 0.25 * appearance[tracked] + 0.15 * prompt_term[tracked]
                     + 0.1 * boxes_iou[tracked])
            ok = (((iou[tracked] > 0.1) | (boxes_iou[tracked] > 0.2)) & (appearance[tracked] > cfg.min_appearance)
                  & ~excluded[tracked])
            assigned.update(self._assign(tracked, score, ok, cfg.min_match, taken))

        def search(rows: list[int]) -> dict[int, int]:
            """Objects not where the motion model puts them: found anywhere by appearance and size."""
            # what should be seen of it: its usual area, less what the frame border cuts off
            in_frame = np.clip(pred_area[rows] / np.array([max(active[i].mask.area, 1) for i in rows]), 0.25, 1)
            typical = (np.array([active[i].typical_area for i in rows]) * in_frame)[:, None]
            size = np.minimum(cand.areas[None], typical) / np.maximum(np.maximum(cand.areas[None], typical), 1)
            score = 0.6 * appearance[rows] + 0.2 * size + 0.2 * np.minimum(iou[rows], 1) + 0.1 * boxes_iou[rows]
            ok = (appearance[rows] > cfg.reacquire_appearance) & (size > 0.25) & ~excluded[rows]
            return self._assign(rows, score, ok, cfg.reacquire_appearance, taken)

        if lost:
            assigned.update(search(lost))

        for i in assigned:  # every matched mask is spoken for before anyone collects pieces
            taken[assigned[i]] = True
        missed = []
        for i, obj in enumerate(active):
            if obj.state is ObjectState.LOST:
                pieces = np.zeros(0, int)  # a re-found object starts from the mask that matched
            else:
                pieces = np.flatnonzero(~taken & (inside[i] > cfg.part_inside)
                                        & (appearance[i] > cfg.min_appearance) & ~excluded[i])
            if i in assigned:
                chosen = np.r_[assigned[i], pieces]
                confident = bool(appearance[i, assigned[i]] > cfg.reacquire_appearance)
            elif len(pieces) and float(cand.areas[pieces].sum()) >= min(cfg.min_visible * obj.typical_area,
                                                                         0.3 * obj.area):
                chosen, confident = pieces, False  # partly hidden (maybe less and less): its visible pieces
            else:
                missed.append(i)
                continue
            taken[chosen] = True
            self._observe(obj, seg, cand, chosen, events, t, confident, predicted[i], stride)
        if missed:
            # e.g. a sudden turn: found elsewhere at once, as a lost object would be next frame
            jumped = search(missed)
            for i, k in jumped.items():
                self._observe(active[i], seg, cand, np.array([k]), events, t, True, predicted[i], stride,
                              jumped=True)
            others = None  # what other objects hold now, on the work grid
            if taken.any():
                others = Patch(np.zeros(grid, bool), 0, 0)
                for k in np.flatnonzero(taken):
                    y1, x1, y2, x2 = cand.work[k].window
                    others.pixels[y1:y2, x1:x2] |= cand.work[k].pixels
            for i in missed:
                if i not in jumped:
                    self._miss(active[i], predicted[i], pred_area[i], others, t, events, bins, (h, w))

    @staticmethod
    def _assign(rows: list[int], score: np.ndarray, ok: np.ndarray, minimum: float,
                taken: np.ndarray) -> dict[int, int]:
        """Joint assignment of `rows` to free candidates; returns {row: candidate}.
        Each row may also stay unmatched at the cost of the acceptance threshold, so the
        solver never trades one good match for two poor ones."""
        r, n = score.shape
        never = 1e6
        cost = np.where(ok & ~taken[None] & (score >= minimum), 1 - score, never)
        unmatched = np.full((r, r), never)
        np.fill_diagonal(unmatched, 1 - minimum)
        rows_idx, cols = linear_assignment(np.hstack([cost, unmatched]))
        out = {}
        for ri, ci in zip(rows_idx, cols):
            if ci < n and cost[ri, ci] < never:
                out[rows[ri]] = int(ci)
                taken[ci] = True
        return out

    def _observe(self, obj: TrackedObject, seg: Segmentation, cand: Candidates, chosen: np.ndarray,
                 events: list[Event], t: float, confident: bool, guess: Patch, stride: int,
                 jumped: bool = False) -> None:
        chosen = [int(k) for k in chosen]
        full = patch_union([cand.full[k] for k in chosen])  # one mask: a view, no copy
        work = patch_union([cand.work[k] for k in chosen])
        area = float(cand.areas[chosen[0]]) if len(chosen) == 1 else float(work.area)
        obj.frames_missed = 0
        if (obj.state is not ObjectState.LOST and obj.full_mask is not None
                and area > self.config.merged_area * obj.typical_area):
            # the model merged this object with another one (they overlap): keep the object's own
            # predicted shape inside the merged mask, coast on the motion model, learn nothing
            own = intersection(full, obj.full_mask.moved(*obj.full_shift))
            own_box = own.box()
            if own_box is not None:
                obj.full_mask = own
                obj.box = own_box
                obj.state, obj.frames_lost = ObjectState.TRACKED, 0
                return
        boxes = seg.boxes[chosen].astype(float)
        box = np.r_[boxes[:, :2].min(0), boxes[:, 2:].max(0)]
        obj.full_mask = full
        obj.area = area
        obj.box = box
        whole = area > self.config.whole * obj.typical_area  # a partly hidden object teaches nothing
        refound = jumped or obj.state is ObjectState.LOST
        if refound:  # a stale velocity would throw the next prediction off
            obj.kalman = BoxKalman(box)
            if obj.state is ObjectState.LOST:
                events.append(Event(EventKind.OBJECT_REACQUIRED, object_id=obj.object_id, pts=t,
                                    frames=obj.frames_lost))
            obj.lost_since = None
            whole = True  # what matched is what it looks like now
        elif area >= self.config.reshape * obj.typical_area:
            obj.kalman.update(box)
        else:  # partly hidden: trust the sides the pieces reach, not the ones an occluder cuts short
            obj.kalman.update(_visible_sides(box, obj.kalman.box, guess, stride))
        obj.state = ObjectState.TRACKED if whole else ObjectState.OCCLUDED
        obj.frames_lost = 0
        # the remembered shape is renewed only by a match as large as it or as the usual area, so
        # an occluder coming in from one side cannot whittle it down
        if refound or self.config.reshape <= area / obj.typical_area <= 1 / self.config.reshape:
            obj.mask, obj.mask_center = work, _cxcywh(box)[:2]
        if confident and whole:  # only learn from sure matches, so an occluder cannot take over
            rate = self.config.appearance_rate
            obj.descriptor = (1 - rate) * obj.descriptor + rate * cand.descriptors[chosen[0]]
            obj.typical_area = (1 - rate) * obj.typical_area + rate * obj.area

    def _miss(self, obj: TrackedObject, guess: Patch, guess_area: float, others: Patch | None, t: float,
              events: list[Event], bins: np.ndarray, shape: tuple[int, int]) -> None:
        """No mask fits: carry the mask forward by motion while the predicted region still looks
        like the object and nothing else holds it, for up to `predict_frames`; then "lost"."""
        cfg = self.config
        obj.frames_missed += 1
        obj.frames_lost += 1
        if obj.state is ObjectState.LOST:
            return
        carry = obj.full_mask is not None and obj.frames_missed <= cfg.predict_frames and guess_area > 0
        if carry and others is not None:
            carry = overlap(guess, others) < 0.5 * guess_area
        if carry:
            similarity = histogram_similarity(obj.descriptor[None], color_histograms([guess], bins))
            carry = float(similarity[0, 0]) > cfg.min_appearance
        if carry:
            obj.state = ObjectState.PREDICTED
            obj.full_mask = obj.full_mask.moved(*obj.full_shift).clipped(*shape).copy()  # not the old frame's
            dy, dx = obj.full_shift
            obj.box = obj.box + np.array([dx, dy, dx, dy], float)
            return
        obj.state, obj.lost_since = ObjectState.LOST, t
        events.append(Event(EventKind.OBJECT_LOST, object_id=obj.object_id, pts=t))
        obj.full_mask = None

    def _result(self, seg: Segmentation, events: list[Event]) -> TrackResult:
        shown = [o for o in self.objects.values() if o.state.shown and o.full_mask is not None]
        if shown:
            out = Segmentation(paste([o.full_mask for o in shown], *seg.shape),
                               np.stack([o.box for o in shown]).astype(np.float32), np.ones(len(shown), np.float32),
                               np.array([o.object_id for o in shown], np.int64), seg.timings)
        else:
            out = Segmentation.empty(*seg.shape)
        lost = tuple(LostObject(o.object_id, tuple(float(v) for v in o.kalman.box))
                     for o in self.objects.values() if o.state is ObjectState.LOST)
        status = tuple(ObjectStatus(o.object_id, o.prompt.kind, o.state, o.frames_lost)
                       for o in sorted(self.objects.values(), key=lambda o: o.object_id))
        return TrackResult(out, lost, status, tuple(events))


NEAR = 2  # work pixels a piece may stick out of an object's prediction


def _box_patch_iou(box: np.ndarray, cand: Candidates) -> np.ndarray:
    """(N,) FastSAM's box-to-mask IoU of one work-grid box against each candidate,
    inside / (box area + mask area - inside), counted where the windows meet."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    window = (y1, x1, y2, x2)
    inside = np.zeros(len(cand.work), np.float32)
    for k in np.flatnonzero(_touching(np.array([window]), cand.windows)[0]):
        part = _meet(window, cand.work[k].window)
        if part is not None:
            inside[k] = np.count_nonzero(_part(cand.work[k], part))
    box_area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    return inside / np.maximum(box_area + cand.areas - inside, 1)


def _visible_sides(box: np.ndarray, predicted: np.ndarray, guess: Patch, stride: int) -> np.ndarray:
    """The box of a partly hidden object, per axis: the measured sides where the visible pieces
    span (about) as far as the remembered shape; else the measured side nearer its prediction
    (the other one is cut short by the occluder) and the shape's extent from it."""
    guess_box = guess.box()
    if guess_box is None:
        return predicted
    shape_box = guess_box * stride
    shape_span = shape_box[2:] - shape_box[:2] + stride
    out = box.copy()
    for a in (0, 1):
        lo, hi = box[a], box[a + 2]
        if hi - lo >= 0.9 * shape_span[a]:
            continue
        if abs(lo - predicted[a]) <= abs(hi - predicted[a + 2]):
            out[a + 2] = lo + shape_span[a]
        else:
            out[a] = hi - shape_span[a]
    return out
