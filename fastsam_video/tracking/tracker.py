"""PromptTracker: objects created by point / box / text prompts keep their id and colour while
they move, while something passes in front of them, while the model misses them, and when they
come back.

Per frame, on the inference thread (no locks: the tracker lives on one thread):
1. every object's box is predicted by a constant-velocity Kalman filter, and its remembered
   shape placed there;
2. each candidate mask of the frame is scored against each object: overlap with the
   predicted mask, colour-histogram appearance, and the prompt moved with the object
   (foreground points inside, background points outside, box overlap); a mask over a good part
   of two objects (the model merged them) is neither's;
3. a joint assignment (Hungarian) gives each mask to at most one object, tracked objects
   first, then lost objects, searched for by appearance within reach of where they were and
   never on a look-alike that stayed in view since they were lost (`motion.within_reach`);
4. leftover masks lying inside an object's predicted mask are merged into it (FastSAM
   often splits an object into parts, and an occluder splits it into pieces): "occluded";
5. an object no mask fits is carried by its own mask (`propagation.py`: optical flow, its
   colours, its remembered shape, minus what other objects hold): "predicted", with no cap on
   the frames, while some of it is seen; a lost one that comes out where it is expected is
   found again the same way (`updates.py`);
6. "lost" (drawn as a dashed box) only when nothing of it is seen: at once where its place shows
   nothing in front, after `lost_after` frames where something covers it; it comes back with the
   same id, or is dropped after `max_lost_seconds`.
A prompt with a `pts` is resolved on that frame from the last `history_seconds` (`frames.py`)
and carried to the present. `update(None, ...)`: the model skipped this frame; objects are carried.
Memory per object is fixed: masks, two colour histograms, the filter state. Numpy / OpenCV only:
masks are kept and compared as windows around them (`Patch`), at a work resolution, so a frame
costs about the objects' and candidates' areas, not objects x candidates whole frames.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import numpy as np

from ..errors import PromptPending
from ..events import Event, EventKind, ObjectState
from ..prompts import ImageTextEncoder, masks_at_points, select_by_boxes, select_by_points, select_by_text
from ..render import LostObject
from ..types import FastSAMVideoError, PromptError, Segmentation
from .appearance import color_histograms, histogram_similarity, ring_histogram
from .assignment import linear_assignment
from .motion import BoxKalman, cxcywh, within_reach
from .objects import ObjectPrompt, ObjectStatus, PromptSet, TrackedObject, TrackerConfig, TrackResult
from .frames import FrameHistory, FrameWork, PastFrame
from .updates import ObjectUpdates
from .propagation import FlowField
from .patches import NEAR, Candidates, Patch, box_iou, box_patch_iou, overlap, paste, touching

log = logging.getLogger(__name__)


class PromptTracker(ObjectUpdates):
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
        self._flow = FlowField()
        self._frame: FrameWork | None = None
        self._history = FrameHistory(self.config.history_seconds)

    # -------------------------------------------------------------- prompts
    def set_prompts(self, prompts: PromptSet) -> None:
        """Replace the prompt snapshot; applied on the next `update`."""
        self.prompts = prompts

    def _sync(self, seg: Segmentation | None, image: np.ndarray, frame_index: int, t: float,
              events: list[Event]) -> None:
        wanted = {p.object_id: p for p in self.prompts.objects}
        for object_id in list(self.objects):
            if object_id not in wanted:
                del self.objects[object_id]
                self._applied.pop(object_id, None)
                events.append(Event(EventKind.OBJECT_REMOVED, object_id=object_id, pts=t))
        for object_id, prompt in wanted.items():
            if self._applied.get(object_id) == prompt or prompt in self._rejected or seg is None:
                continue
            try:
                created = (self._create_in_past(prompt) if prompt.pts is not None and prompt.text is None else None)
                if created is None:  # no past frame kept for it (or it is now): on this frame
                    created = self._create(prompt, seg, image, frame_index)
            except PromptPending:  # CLIP still loading off this thread: tried again at the next frame
                continue
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
            if was_there and created.last_index == frame_index:
                # a refinement (a point added on a leak or a missed part): from this frame on the object is
                # what the corrected prompt selects, and its motion goes on
                created.kalman.x[4:6] = self.objects[object_id].kalman.x[4:6]
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
        frame = self._frame
        work = Patch.of_mask(full[::frame.stride, ::frame.stride]).copy()
        area = float(work.area)
        descriptor = color_histograms([work], frame.bins)[0]
        obj = TrackedObject(prompt, BoxKalman(box), work, descriptor, area, area, box, last_index=frame_index,
                            full_mask=Patch.of_mask(full).copy(), mask_center=cxcywh(box)[:2], work_mask=work,
                            background=ring_histogram(work, frame.bins))
        wh = np.maximum(box[2:] - box[:2], 1.0)
        if prompt.points:
            obj.rel_points = (np.asarray(prompt.points, float) - box[:2]) / wh
        if prompt.box is not None:
            b = np.asarray(prompt.box, float)
            obj.rel_box = np.r_[(b[:2] - box[:2]) / wh, (b[2:] - box[:2]) / wh]
        return obj

    def _create_in_past(self, prompt: ObjectPrompt) -> TrackedObject | None:
        """The object of a prompt given on a past frame (at `prompt.pts`): selected on that frame as
        kept, then followed through the kept frames since, so it comes to this frame like any other
        object. None when no earlier frame is kept, or nothing is found there."""
        past = self._history.since(prompt.pts)
        if not past:
            return None
        saved = self._flow, self._frame
        self._flow = FlowField()  # its own flow through the past frames
        try:
            obj = None
            for frame in past:
                self._frame = FrameWork.of_small(frame.small, frame.stride, frame.shape)
                self._flow.next_frame(self._frame.gray)
                if obj is None:
                    obj = self._create(prompt, frame.segmentation(), None, frame.index)
                    if obj is None:
                        return None
                else:
                    self._match([obj], frame.segmentation(), None, frame.index, frame.t, [])
            return obj
        finally:
            self._flow, self._frame = saved

    # -------------------------------------------------------------- per frame
    def _stride(self, shape: tuple[int, int]) -> int:
        return max(1, math.ceil(max(shape) / self.config.work_size))

    def update(self, seg: Segmentation | None, image: np.ndarray, frame_index: int, t: float) -> TrackResult:
        """Assign this frame's masks to the objects, and carry each object's own mask forward
        (propagation) where no mask fits it. `image`: the frame, (H, W, 3) uint8 BGR; `t`: the
        frame's time in seconds (pts or capture time).

        `seg=None` means the model did not run on this frame (detection every k frames): every
        object is carried by propagation alone; this is not a miss (no object turns lost or is
        re-acquired because of it, no state-change event comes of it), and new prompts wait for
        the next frame the model ran on (removals apply at once)."""
        shape = image.shape[:2] if seg is None and isinstance(image, np.ndarray) else getattr(seg, "shape", None)
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and shape is not None
                and image.shape == (*shape, 3)):
            expected = f"({shape[0]}, {shape[1]}, 3)" if seg is not None else "(H, W, 3)"
            raise ValueError(f"tracker image: expected a {expected} uint8 numpy array "
                             f"(the frame of the segmentation), got {type(image).__name__} "
                             f"{getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}")
        events: list[Event] = []
        self._frame = FrameWork.of(image, self._stride(shape))
        self._flow.next_frame(self._frame.gray)
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
        if seg is not None:
            self._history.add(PastFrame.of(seg, self._frame.small, frame_index, t, self._frame.stride))
        for event in events:
            log.info("%s", event)
        return self._result(shape, seg.timings if seg is not None else {}, events, t, frame_index)

    def _match(self, active: list[TrackedObject], seg: Segmentation, image: np.ndarray,
               frame_index: int, t: float, events: list[Event]) -> None:
        cfg = self.config
        frame = self._frame
        h, w = frame.shape
        stride, grid, bins = frame.stride, frame.grid, frame.bins
        model_ran = seg is not None
        if model_ran:
            cand = Candidates.of(seg, stride, bins)  # each mask in its box's window: the work is the boxes' area
        n = len(cand.work) if model_ran else 0

        predicted = []
        for obj in active:
            dt = max(frame_index - obj.last_index, 1)
            obj.last_index = frame_index
            # a lost object keeps its velocity for a few frames (passing behind something), then slows down
            damping = 0.8 if obj.state is ObjectState.LOST and obj.frames_lost > cfg.coast_frames else 1.0
            before = cxcywh(obj.kalman.box)
            box = obj.kalman.predict(dt, damping)
            motion = cxcywh(box)[:2] - before[:2]
            obj.full_shift = (int(round(motion[1])), int(round(motion[0])))
            # the whole shape, placed where the motion model puts the object (no rounding drift); one
            # that left the frame is expected back where it left
            center = np.clip(cxcywh(box)[:2], 0, (w - 1, h - 1))
            shift = (center - obj.mask_center) / stride
            predicted.append(obj.mask.moved(int(round(shift[1])), int(round(shift[0]))).clipped(*grid))
        pred_area = np.array([p.area for p in predicted], np.float32)
        if n == 0:
            others = Patch(np.zeros(grid, bool), 0, 0)
            for obj, guess in zip(active, predicted):
                self._miss(obj, guess, others, t, events, counted=model_ran)
            return
        o = len(active)
        # overlaps, counted only for the pairs whose windows meet: a handful, not O x N whole frames
        inter = np.zeros((o, n), np.float32)
        near = np.zeros((o, n), np.float32)  # candidate pixels within 2 work pixels of the prediction
        close = touching(np.array([p.window for p in predicted], int).reshape(-1, 4), cand.windows, NEAR)
        for i, guess in enumerate(predicted):
            ks = np.flatnonzero(close[i])
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
                prompt_term[i] = box_patch_iou(pbox / stride, cand)  # at work resolution, like the rest
        boxes_iou = box_iou(pred_boxes, seg.boxes.astype(np.float64))
        # one mask over a good part of two objects (the model merged them where they overlap): it is
        # neither's; each is carried by its own mask, the one in front (the most of it seen) first
        recent = np.array([obj.state is not ObjectState.LOST or frame_index - obj.lost_at <= cfg.coast_frames
                           for obj in active])
        covers = (inter / np.maximum(pred_area[:, None], 1) > 0.25) & recent[:, None]
        covers &= np.arange(n)[None] == iou.argmax(1)[:, None]  # and is the best fit of each
        excluded[:, covers.sum(0) >= 2] = True

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

        seg_boxes = seg.boxes.astype(np.float64)
        looks_alike = appearance > cfg.reacquire_appearance
        for i in lost:  # look-alikes in view since the object was lost never become it
            obj = active[i]
            if obj.distractors is None:  # lost last frame: what looks like it now is something else
                near = within_reach(pred_boxes[i:i + 1], seg_boxes, np.zeros(1), (h, w))[0]
                obj.distractors = seg_boxes[looks_alike[i] & ~near]
            elif len(obj.distractors):
                followed = box_iou(obj.distractors, seg_boxes).max(0) > 0.3
                obj.distractors = seg_boxes[followed & looks_alike[i]]

        def search(rows: list[int]) -> dict[int, int]:
            """Objects not where the motion model puts them: found by appearance and size within
            reach of where they were, and never on a look-alike that was in view all along."""
            # what should be seen of it: its usual area, less what the frame border cuts off
            in_frame = np.clip(pred_area[rows] / np.array([max(active[i].mask.area, 1) for i in rows]), 0.25, 1)
            typical = (np.array([active[i].typical_area for i in rows]) * in_frame)[:, None]
            size = np.minimum(cand.areas[None], typical) / np.maximum(np.maximum(cand.areas[None], typical), 1)
            score = 0.6 * appearance[rows] + 0.2 * size + 0.2 * np.minimum(iou[rows], 1) + 0.1 * boxes_iou[rows]
            unseen = np.array([active[i].frames_lost for i in rows], float)
            ok = ((appearance[rows] > cfg.reacquire_appearance) & (size > 0.25) & ~excluded[rows]
                  & within_reach(pred_boxes[rows], seg_boxes, unseen, (h, w)))
            for r, i in enumerate(rows):
                if active[i].distractors is not None and len(active[i].distractors):
                    ok[r] &= box_iou(active[i].distractors, seg_boxes).max(0) <= 0.3
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
            alone = False  # the match holds no other object: if it is larger, the object grew
            if i in assigned:
                chosen = np.r_[assigned[i], pieces]
                confident = bool(appearance[i, assigned[i]] > cfg.reacquire_appearance)
                k = assigned[i]
                alone = confident and not any(inter[j, k] > 0.25 * pred_area[j] for j in range(o)
                                              if j != i and recent[j])
            elif len(pieces) and float(cand.areas[pieces].sum()) >= min(cfg.min_visible * obj.typical_area,
                                                                         0.3 * obj.area):
                chosen, confident = pieces, False  # partly hidden (maybe less and less): its visible pieces
            else:
                missed.append(i)
                continue
            taken[chosen] = True
            self._observe(obj, seg, cand, chosen, events, t, confident, predicted[i], stride, alone=alone)
        if missed:
            # e.g. a sudden turn: found elsewhere at once, as a lost object would be next frame
            jumped = search(missed)
            for i, k in jumped.items():
                self._observe(active[i], seg, cand, np.array([k]), events, t, True, predicted[i], stride,
                              jumped=True)
            # what the other objects hold now, on the work grid: their own masks (of a mask the model
            # merged, only the part that is theirs), and the masks they left unmatched parts of
            others = Patch(np.zeros(grid, bool), 0, 0)
            for i, obj in enumerate(active):
                if i not in missed or i in jumped:
                    held = obj.work_mask.clipped(*grid) if obj.work_mask is not None else None
                    if held is not None and held.area:
                        y1, x1, y2, x2 = held.window
                        others.pixels[y1:y2, x1:x2] |= held.pixels
            cover = Patch(others.pixels.copy(), 0, 0)  # anything the model saw: what may be in front
            for part in cand.work:
                part = part.clipped(*grid)
                y1, x1, y2, x2 = part.window
                cover.pixels[y1:y2, x1:x2] |= part.pixels
            for i in sorted(missed, key=lambda i: -active[i].area / max(active[i].typical_area, 1)):
                if i not in jumped:
                    self._miss(active[i], predicted[i], others, t, events, cover=cover)

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

    def _result(self, shape: tuple[int, int], timings, events: list[Event], t: float,
                frame_index: int) -> TrackResult:
        shown = [o for o in self.objects.values() if o.state.shown and o.full_mask is not None]
        if shown:
            out = Segmentation(paste([o.full_mask for o in shown], *shape),
                               np.stack([o.box for o in shown]).astype(np.float32), np.ones(len(shown), np.float32),
                               np.array([o.object_id for o in shown], np.int64), timings)
        else:
            out = Segmentation.empty(*shape)
        lost = tuple(LostObject(o.object_id, tuple(float(v) for v in o.kalman.box))
                     for o in self.objects.values() if o.state is ObjectState.LOST)
        status = tuple(ObjectStatus(o.object_id, o.prompt.kind, o.state, o.frames_lost)
                       for o in sorted(self.objects.values(), key=lambda o: o.object_id))
        return TrackResult(out, lost, status, tuple(events), t, frame_index)
