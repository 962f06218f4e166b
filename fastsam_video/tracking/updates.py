"""How one object's state follows from a frame: matched to the model's masks (`_observe`),
carried by its own mask where none fits (`_miss`, `_carry`), found again where it comes out
(`_recover`); "lost" only when the evidence says it is not in view. Part of `PromptTracker`."""

from __future__ import annotations

import numpy as np

from ..events import Event, EventKind, ObjectState
from ..types import Segmentation
from .appearance import color_histograms, histogram_similarity, ring_histogram
from .frames import FrameWork
from .motion import BoxKalman, cut_short, cxcywh, visible_sides
from .objects import TrackedObject, TrackerConfig
from .patches import Candidates, Patch, intersection, overlap, patch_union
from .propagation import FlowField, evidence, likely_colours, propagate, upsample


class ObjectUpdates:
    """The per-object updates of `PromptTracker` (which sets these fields)."""

    config: TrackerConfig
    _frame: FrameWork
    _flow: FlowField

    def _observe(self, obj: TrackedObject, seg: Segmentation, cand: Candidates, chosen: np.ndarray,
                 events: list[Event], t: float, confident: bool, guess: Patch, stride: int,
                 jumped: bool = False, alone: bool = False) -> None:
        chosen = [int(k) for k in chosen]
        full = patch_union([cand.full[k] for k in chosen])  # one mask: a view, no copy
        work = patch_union([cand.work[k] for k in chosen])
        area = float(cand.areas[chosen[0]]) if len(chosen) == 1 else float(work.area)
        obj.frames_missed = 0
        if (obj.state is not ObjectState.LOST and obj.full_mask is not None and not alone
                and area > self.config.merged_area * obj.typical_area):
            # the model merged this object with another one (they overlap, or the match does not look
            # like it): keep the object's own predicted shape inside the merged mask, learn nothing
            own = intersection(full, obj.full_mask.moved(*obj.full_shift))
            own_box = own.box()
            if own_box is not None:
                obj.full_mask = own
                obj.work_mask = own.to_work(stride).copy()
                obj.box = own_box
                obj.state, obj.frames_lost = ObjectState.TRACKED, 0
                return
        boxes = seg.boxes[chosen].astype(float)
        box = np.r_[boxes[:, :2].min(0), boxes[:, 2:].max(0)]
        obj.full_mask = full
        obj.work_mask = work
        obj.unseen = 0
        obj.area = area
        last_box, obj.box = obj.box, box
        # smaller than usual and shorter than its shape: something in front cuts it (an object that
        # turns keeps its area); a partly hidden object teaches nothing
        short = area < self.config.reshape * obj.typical_area and cut_short(box, guess, stride)
        whole = area > self.config.whole * obj.typical_area and not short
        refound = jumped or obj.state is ObjectState.LOST
        if refound:  # a stale velocity would throw the next prediction off
            obj.kalman = BoxKalman(box)
            if obj.state is ObjectState.LOST:
                events.append(Event(EventKind.OBJECT_REACQUIRED, object_id=obj.object_id, pts=t,
                                    frames=obj.last_index - obj.lost_at))
            obj.lost_since, obj.distractors = None, None
            whole = True  # what matched is what it looks like now
        elif area >= self.config.reshape * obj.typical_area:
            obj.kalman.update(box)
        else:  # partly hidden: trust the sides that moved with it, not the ones an occluder cuts short
            obj.kalman.update(visible_sides(box, obj.kalman.box, guess, stride, last_box, obj.kalman.x[4:6]))
        obj.state = ObjectState.TRACKED if whole else ObjectState.OCCLUDED
        obj.frames_lost = 0
        # the remembered shape is renewed only by a match as large as it or as the usual area, so
        # an occluder coming in from one side cannot whittle it down
        if refound or self.config.reshape <= area / obj.typical_area <= 1 / self.config.reshape:
            obj.mask, obj.mask_center = work, cxcywh(box)[:2]
        if confident and whole:  # only learn from sure matches, so an occluder cannot take over
            rate = self.config.appearance_rate
            obj.descriptor = (1 - rate) * obj.descriptor + rate * cand.descriptors[chosen[0]]
            obj.typical_area = (1 - rate) * obj.typical_area + rate * obj.area
            obj.background = (1 - rate) * obj.background + rate * ring_histogram(work, self._frame.bins)

    def _miss(self, obj: TrackedObject, guess: Patch, others: Patch, t: float, events: list[Event],
              counted: bool = True, cover: Patch | None = None) -> None:
        """No mask fits: the object's own mask is carried forward (propagation) while at least
        `min_propagated` of it is seen; `lost_after` model frames in a row without that and it is
        "lost". `counted=False`: the model did not run, so nothing is concluded from the miss.
        What this object now holds is added to `others`, so the next one cannot take it."""
        cfg, frame = self.config, self._frame
        obj.frames_missed += 1
        obj.frames_lost += 1
        if obj.state is ObjectState.LOST:
            if counted:
                self._recover(obj, guess, others, t, events)
            return
        carried = None
        if obj.work_mask is not None:
            colours = likely_colours(obj.descriptor, obj.background, cfg.likelihood_ratio)
            carried = propagate(obj.work_mask, guess, self._flow, frame.bins, colours, others.pixels)
        if carried is not None and carried.area >= cfg.min_propagated * obj.typical_area:
            looks = histogram_similarity(obj.descriptor[None], color_histograms([carried], frame.bins))
            if float(looks[0, 0]) > cfg.min_appearance:
                self._carry(obj, carried, guess, others)
                if counted:
                    obj.state, obj.unseen = ObjectState.PREDICTED, 0
                return
        if counted:
            obj.unseen += 1
        # wholly hidden where something is in front: a few frames (an object crossing behind another)
        # are bridged by the motion model; where its place shows nothing in front, it is gone now
        behind = cover is not None and guess.area > 0 and overlap(guess, cover) >= 0.5 * guess.area
        if not counted or (behind and obj.unseen <= cfg.lost_after):
            # no evidence this frame: followed by the motion model. Bridging a hidden object shows no
            # mask (nothing of it is in view); a frame the model skipped keeps the last one, moved
            dy, dx = obj.full_shift
            if obj.full_mask is not None:
                obj.full_mask = obj.full_mask.moved(dy, dx).clipped(*frame.shape).copy()
                if counted:
                    obj.full_mask = Patch(obj.full_mask.pixels[:0, :0], 0, 0)
                obj.work_mask = guess.copy() if guess.area else obj.work_mask
            obj.box = obj.box + np.array([dx, dy, dx, dy], float)
            if counted:
                obj.state = ObjectState.PREDICTED
            return
        obj.state, obj.lost_since, obj.lost_at = ObjectState.LOST, t, obj.last_index
        events.append(Event(EventKind.OBJECT_LOST, object_id=obj.object_id, pts=t))
        obj.full_mask = obj.work_mask = None

    def _recover(self, obj: TrackedObject, guess: Patch, others: Patch, t: float, events: list[Event]) -> None:
        """A lost object that comes out where its motion model expects it, into a mask the model
        gave another object (or none): found by its colours inside its remembered shape there."""
        cfg, frame = self.config, self._frame
        if obj.last_index - obj.lost_at > 2 * cfg.coast_frames or guess.area < cfg.min_visible * obj.typical_area:
            return  # its prediction is no longer to be trusted
        colours = likely_colours(obj.descriptor, obj.background, cfg.likelihood_ratio)
        seen = evidence(guess, frame.bins, colours, others.pixels)
        if seen.area < 0.3 * obj.typical_area:
            return
        looks = histogram_similarity(obj.descriptor[None], color_histograms([seen], frame.bins))
        if float(looks[0, 0]) <= cfg.reacquire_appearance:
            return
        events.append(Event(EventKind.OBJECT_REACQUIRED, object_id=obj.object_id, pts=t,
                            frames=obj.last_index - obj.lost_at))
        obj.lost_since, obj.distractors, obj.unseen = None, None, 0
        obj.state = ObjectState.PREDICTED
        obj.box = obj.kalman.box
        self._carry(obj, seen, guess, others)

    def _carry(self, obj: TrackedObject, carried: Patch, guess: Patch, others: Patch) -> None:
        """Take a propagated mask as the object's for this frame; the motion model is updated
        from the sides of it that are seen, so the velocity survives a long miss."""
        cfg, frame = self.config, self._frame
        obj.work_mask = carried
        obj.full_mask = upsample(carried, frame.stride, *frame.shape)
        last_box = obj.box
        obj.box = obj.full_mask.box() if obj.full_mask.area else obj.box
        obj.area = float(carried.area)
        # seen whole: near the usual area and as long as the remembered shape (a slow occluder takes a
        # few percent a frame: that box would teach the motion model that the object shrinks and stops)
        whole = obj.area >= cfg.reshape * obj.typical_area and not cut_short(obj.box, guess, frame.stride)
        if whole:
            obj.kalman.update(obj.box)
        else:  # partly hidden: trust the sides it reaches, not the ones an occluder cuts short
            obj.kalman.update(visible_sides(obj.box, obj.kalman.box, guess, frame.stride, last_box,
                                            obj.kalman.x[4:6]))
        if whole and obj.area <= obj.typical_area / cfg.reshape:  # its shape now
            obj.mask, obj.mask_center = carried, cxcywh(obj.box)[:2]
        held = carried.clipped(*others.pixels.shape)
        y1, x1, y2, x2 = held.window
        others.pixels[y1:y2, x1:x2] |= held.pixels
