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
Memory per object is fixed: one mask, one descriptor, the filter state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torchvision.ops import box_iou

from .prompts import (BoxPrompt, ImageTextEncoder, PointPrompt, TextPrompt, box_mask_iou, masks_at_points,
                      masks_to_boxes, select_by_boxes, select_by_points, select_by_text)
from .render import LostObject
from .events import Event, EventKind, ObjectState
from .types import FastSAMVideoError, PromptError, Segmentation, union

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


def shifted(mask: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The (H, W) mask moved by (dy, dx) pixels; what leaves the frame is gone (no wrap-around)."""
    h, w = mask.shape
    out = torch.zeros_like(mask)
    if abs(dy) < h and abs(dx) < w:
        out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def dilated(masks: torch.Tensor, radius: int) -> torch.Tensor:
    """(O, h, w) bool masks grown by `radius` pixels (a square), with shifted ORs: far cheaper
    than max-pooling on the CPU."""
    rows = masks.clone()
    for d in range(1, radius + 1):
        rows[:, :, d:] |= masks[:, :, :-d]
        rows[:, :, :-d] |= masks[:, :, d:]
    out = rows.clone()
    for d in range(1, radius + 1):
        out[:, d:] |= rows[:, :-d]
        out[:, :-d] |= rows[:, d:]
    return out


# ---------------------------------------------------------------- appearance

COLOR_LEVELS = 6  # per channel: 216-bin BGR histograms


def color_bins(image: torch.Tensor) -> torch.Tensor:
    """(H, W) int64 histogram bin of each pixel of a BGR uint8 image."""
    q = (image.long() * COLOR_LEVELS) >> 8
    return (q[..., 0] * COLOR_LEVELS + q[..., 1]) * COLOR_LEVELS + q[..., 2]


def color_histograms(masks: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(N, B) normalised colour histograms of the pixels under each mask; cost ~ mask pixels."""
    n = masks.shape[0]
    size = COLOR_LEVELS ** 3
    if n == 0:
        return torch.zeros((0, size), device=masks.device)
    owner, pixel = masks.flatten(1).nonzero(as_tuple=True)
    counts = torch.bincount(owner * size + bins.flatten()[pixel], minlength=n * size).view(n, size).float()
    return counts / counts.sum(1, keepdim=True).clamp(min=1)


def histogram_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(A, B) histogram intersection in [0, 1]."""
    return torch.minimum(a[:, None], b[None]).sum(-1)


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
    mask: torch.Tensor  # (h, w) bool at work resolution: the shape when last seen whole
    descriptor: torch.Tensor  # (B,)
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
    full_mask: torch.Tensor | None = None  # (H, W) current mask at frame resolution
    full_shift: tuple[int, int] = (0, 0)  # this frame's predicted motion in frame pixels (dy, dx)
    mask_center: np.ndarray | None = None  # (cx, cy) frame pixels where `mask` was seen
    mask_area: float = 0.0  # work-resolution pixels of `mask`
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

    def _sync(self, seg: Segmentation, image: torch.Tensor, frame_index: int, t: float,
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

    def _select(self, prompt: ObjectPrompt, seg: Segmentation, image: torch.Tensor) -> Segmentation:
        if prompt.points:
            return select_by_points(seg, prompt.points, prompt.labels)
        if prompt.box is not None:
            return select_by_boxes(seg, [prompt.box])
        if self._text_encoder is None:
            if self._text_encoder_factory is None:
                raise PromptError("text prompts need CLIP: the tracker was built without a text encoder")
            self._text_encoder = self._text_encoder_factory()
        return select_by_text(seg, image, prompt.text, self._text_encoder)

    def _create(self, prompt: ObjectPrompt, seg: Segmentation, image: torch.Tensor,
                frame_index: int) -> TrackedObject | None:
        chosen = self._select(prompt, seg, image)
        if len(chosen) == 0:
            return None
        full = chosen.masks[0]
        box = chosen.boxes[0].cpu().numpy().astype(float)
        work = self._work(full[None])
        bins = color_bins(image[::self._stride(full.shape), ::self._stride(full.shape)])
        area = float(work.sum())
        obj = TrackedObject(prompt, BoxKalman(box), work[0], color_histograms(work, bins)[0],
                            area, area, box, last_index=frame_index, full_mask=full,
                            mask_center=_cxcywh(box)[:2], mask_area=area)
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

    def _work(self, masks: torch.Tensor) -> torch.Tensor:
        s = self._stride(tuple(masks.shape[1:]))
        return masks[:, ::s, ::s]

    def update(self, seg: Segmentation, image: torch.Tensor, frame_index: int, t: float) -> TrackResult:
        """Assign this frame's masks to the objects. `image`: the frame, (H, W, 3) uint8 BGR on
        seg's device; `t`: the frame's time in seconds (pts or capture time)."""
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

    def _match(self, active: list[TrackedObject], seg: Segmentation, image: torch.Tensor,
               frame_index: int, t: float, events: list[Event]) -> None:
        cfg = self.config
        device = seg.device
        h, w = seg.shape
        stride = self._stride((h, w))
        cand = self._work(seg.masks).contiguous()  # (N, h', w'): one strided read of the masks, then small
        n = cand.shape[0]
        cand_flat = cand.flatten(1).float()
        cand_area = cand_flat.sum(1)
        bins = color_bins(image[::stride, ::stride])
        cand_desc = color_histograms(cand, bins)

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
            # the whole shape, placed where the motion model puts the object (no rounding drift); a lost
            # object coasts on for a while (passing behind something), then slows down; one that
            # left the frame is expected back where it left
            center = np.clip(_cxcywh(box)[:2], 0, (w - 1, h - 1))
            shift = (center - obj.mask_center) / stride
            predicted.append(shifted(obj.mask, int(round(shift[1])), int(round(shift[0]))))
        if n == 0:
            for obj, guess in zip(active, predicted):
                self._miss(obj, guess, None, t, events, bins)
            return
        stacked = torch.stack(predicted)  # (O, h', w')
        pred = stacked.flatten(1).float()
        inter = pred @ cand_flat.T  # (O, N)
        pred_area = pred.sum(1, keepdim=True)
        iou = inter / (pred_area + cand_area[None] - inter).clamp(min=1)
        # share of each candidate near the prediction (pieces may stick out of it by a pixel or
        # two), at half the work resolution: a quarter of the cost, precise enough for a share
        half = cand[:, ::2, ::2].flatten(1).float()
        near = dilated(stacked[:, ::2, ::2], 1).flatten(1).float()
        inside = (near @ half.T) / half.sum(1)[None].clamp(min=1)
        appearance = histogram_similarity(torch.stack([o.descriptor for o in active]), cand_desc)

        pred_boxes = torch.as_tensor(np.stack([o.kalman.box for o in active]), dtype=torch.float32, device=device)
        prompt_term = torch.zeros_like(iou)
        excluded = torch.zeros_like(iou, dtype=torch.bool)
        for i, obj in enumerate(active):
            box = obj.kalman.box
            if len(obj.rel_points):
                pts = torch.as_tensor(obj.prompt_points(box), dtype=torch.float32, device=device)
                labels = torch.as_tensor(obj.prompt.labels, device=device)
                hits = masks_at_points(seg.masks, pts)  # (P, N)
                fg, bg = hits[labels == 1], hits[labels == 0]
                prompt_term[i] = fg.float().mean(0)
                if len(bg):
                    excluded[i] = bg.any(0)  # background points keep excluding what they excluded
            pbox = obj.prompt_box(box)
            if pbox is not None:
                work_box = torch.as_tensor(pbox[None] / stride, dtype=torch.float32, device=device)
                prompt_term[i] = box_mask_iou(cand, work_box, cand_area)[0]  # at work resolution, like the rest
        box_iou = _box_iou(pred_boxes, seg.boxes)

        tracked = [i for i, o in enumerate(active) if o.state is not ObjectState.LOST]
        lost = [i for i, o in enumerate(active) if o.state is ObjectState.LOST]
        taken = torch.zeros(n, dtype=torch.bool, device=device)
        assigned: dict[int, int] = {}

        if tracked:
            idx = torch.as_tensor(tracked, device=device)
            score = 0.5 * iou[idx] + 0.25 * appearance[idx] + 0.15 * prompt_term[idx] + 0.1 * box_iou[idx]
            ok = ((iou[idx] > 0.1) | (box_iou[idx] > 0.2)) & (appearance[idx] > cfg.min_appearance) & ~excluded[idx]
            assigned.update(self._assign(tracked, score, ok, cfg.min_match, taken))
        def search(rows: list[int]) -> dict[int, int]:
            """Objects not where the motion model puts them: found anywhere by appearance and size."""
            idx = torch.as_tensor(rows, device=device)
            # what should be seen of it: its usual area, less what the frame border cuts off
            in_frame = (pred_area[idx, 0] / torch.as_tensor([max(active[i].mask_area, 1.0) for i in rows],
                                                            device=device)).clamp(0.25, 1)
            typical = (torch.as_tensor([active[i].typical_area for i in rows], device=device) * in_frame)[:, None]
            size = torch.minimum(cand_area[None], typical) / torch.maximum(cand_area[None], typical).clamp(min=1)
            score = 0.6 * appearance[idx] + 0.2 * size + 0.2 * iou[idx].clamp(max=1) + 0.1 * box_iou[idx]
            ok = (appearance[idx] > cfg.reacquire_appearance) & (size > 0.25) & ~excluded[idx]
            return self._assign(rows, score, ok, cfg.reacquire_appearance, taken)

        if lost:
            assigned.update(search(lost))

        for i in assigned:  # every matched mask is spoken for before anyone collects pieces
            taken[assigned[i]] = True
        missed = []
        for i, obj in enumerate(active):
            parts = (~taken) & (inside[i] > cfg.part_inside) & (appearance[i] > cfg.min_appearance) & ~excluded[i]
            if obj.state is ObjectState.LOST:
                parts[:] = False  # a re-found object starts from the mask that matched
            pieces = torch.nonzero(parts).flatten()
            if i in assigned:
                chosen = torch.cat([torch.as_tensor([assigned[i]], device=device), pieces])
                confident = bool(appearance[i, assigned[i]] > cfg.reacquire_appearance)
            elif len(pieces) and float(cand_area[pieces].sum()) >= min(cfg.min_visible * obj.typical_area,
                                                                        0.3 * obj.area):
                chosen, confident = pieces, False  # partly hidden (maybe less and less): its visible pieces
            else:
                missed.append(i)
                continue
            taken[chosen] = True
            self._observe(obj, seg, cand, cand_desc, chosen, events, t, confident, predicted[i], stride)
        if missed:
            # e.g. a sudden turn: found elsewhere at once, as a lost object would be next frame
            jumped = search(missed)
            for i, k in jumped.items():
                self._observe(active[i], seg, cand, cand_desc, torch.as_tensor([k], device=device), events, t,
                              True, predicted[i], stride, jumped=True)
            others = cand[taken].any(0) if bool(taken.any()) else None  # what other objects hold now
            for i in missed:
                if i not in jumped:
                    self._miss(active[i], predicted[i], others, t, events, bins)

    @staticmethod
    def _assign(rows: list[int], score: torch.Tensor, ok: torch.Tensor, minimum: float,
                taken: torch.Tensor) -> dict[int, int]:
        """Joint assignment of `rows` to free candidates; returns {row: candidate}.
        Each row may also stay unmatched at the cost of the acceptance threshold, so the
        solver never trades one good match for two poor ones."""
        r, n = score.shape
        never = 1e6
        cost = torch.where(ok & ~taken[None] & (score >= minimum), 1 - score, torch.full_like(score, never))
        unmatched = np.full((r, r), never)
        np.fill_diagonal(unmatched, 1 - minimum)
        rows_idx, cols = linear_assignment(np.hstack([cost.cpu().numpy(), unmatched]))
        out = {}
        for ri, ci in zip(rows_idx, cols):
            if ci < n and cost[ri, ci] < never:
                out[rows[ri]] = int(ci)
                taken[ci] = True
        return out

    def _observe(self, obj: TrackedObject, seg: Segmentation, cand: torch.Tensor, cand_desc: torch.Tensor,
                 chosen: torch.Tensor, events: list[Event], t: float, confident: bool,
                 guess: torch.Tensor, stride: int, jumped: bool = False) -> None:
        full = union(seg.masks[chosen]) if len(chosen) > 1 else seg.masks[int(chosen[0])]  # a view, no copy
        work = cand[chosen].any(0)
        area = float(work.sum())
        obj.frames_missed = 0
        if (obj.state is not ObjectState.LOST and obj.full_mask is not None
                and area > self.config.merged_area * obj.typical_area):
            # the model merged this object with another one (they overlap): keep the object's own
            # predicted shape inside the merged mask, coast on the motion model, learn nothing
            own = full & shifted(obj.full_mask, *obj.full_shift)
            if own.any():
                obj.full_mask = own
                obj.box = masks_to_boxes(own[None])[0].cpu().numpy().astype(float)
                obj.state, obj.frames_lost = ObjectState.TRACKED, 0
                return
        boxes = seg.boxes[chosen]
        box = torch.cat([boxes[:, :2].amin(0), boxes[:, 2:].amax(0)]).cpu().numpy().astype(float)
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
            obj.mask, obj.mask_center, obj.mask_area = work, _cxcywh(box)[:2], area
        if confident and whole:  # only learn from sure matches, so an occluder cannot take over
            rate = self.config.appearance_rate
            obj.descriptor = (1 - rate) * obj.descriptor + rate * cand_desc[chosen[0]]
            obj.typical_area = (1 - rate) * obj.typical_area + rate * obj.area

    def _miss(self, obj: TrackedObject, guess: torch.Tensor, others: torch.Tensor | None, t: float,
              events: list[Event], bins: torch.Tensor) -> None:
        """No mask fits: carry the mask forward by motion while the predicted region still looks
        like the object and nothing else holds it, for up to `predict_frames`; then "lost"."""
        cfg = self.config
        obj.frames_missed += 1
        obj.frames_lost += 1
        if obj.state is ObjectState.LOST:
            return
        carry = obj.full_mask is not None and obj.frames_missed <= cfg.predict_frames and bool(guess.any())
        if carry and others is not None:
            carry = float((guess & others).sum()) < 0.5 * float(guess.sum())
        if carry:
            similarity = histogram_similarity(obj.descriptor[None], color_histograms(guess[None], bins))
            carry = float(similarity) > cfg.min_appearance
        if carry:
            obj.state = ObjectState.PREDICTED
            obj.full_mask = shifted(obj.full_mask, *obj.full_shift)
            dy, dx = obj.full_shift
            obj.box = obj.box + np.array([dx, dy, dx, dy], float)
            return
        obj.state, obj.lost_since = ObjectState.LOST, t
        events.append(Event(EventKind.OBJECT_LOST, object_id=obj.object_id, pts=t))
        obj.full_mask = None

    def _result(self, seg: Segmentation, events: list[Event]) -> TrackResult:
        shown = [o for o in self.objects.values() if o.state.shown and o.full_mask is not None]
        device = seg.device
        if shown:
            masks = torch.stack([o.full_mask for o in shown])
            boxes = torch.as_tensor(np.stack([o.box for o in shown]), dtype=torch.float32, device=device)
            out = Segmentation(masks, boxes, torch.ones(len(shown), device=device),
                               torch.as_tensor([o.object_id for o in shown], device=device), seg.timings)
        else:
            out = Segmentation.empty(*seg.shape, device=device)
        lost = tuple(LostObject(o.object_id, tuple(float(v) for v in o.kalman.box))
                     for o in self.objects.values() if o.state is ObjectState.LOST)
        status = tuple(ObjectStatus(o.object_id, o.prompt.kind, o.state, o.frames_lost)
                       for o in sorted(self.objects.values(), key=lambda o: o.object_id))
        return TrackResult(out, lost, status, tuple(events))


def _visible_sides(box: np.ndarray, predicted: np.ndarray, guess: torch.Tensor, stride: int) -> np.ndarray:
    """The box of a partly hidden object, per axis: the measured sides where the visible pieces
    span (about) as far as the remembered shape; else the measured side nearer its prediction
    (the other one is cut short by the occluder) and the shape's extent from it."""
    if not guess.any():
        return predicted
    shape_box = masks_to_boxes(guess[None])[0].cpu().numpy().astype(float) * stride
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


def _box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if len(a) == 0 or len(b) == 0:
        return torch.zeros((len(a), len(b)), device=b.device)
    return box_iou(a.float(), b.float())
