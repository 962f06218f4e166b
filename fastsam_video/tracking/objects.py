"""What the tracker keeps and hands out: the prompt snapshot, the configuration, one tracked object, the per-frame result."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..events import Event, ObjectState
from ..prompts import BoxPrompt, PointPrompt, TextPrompt
from ..render import LostObject
from ..types import PromptError, Segmentation
from .motion import BoxKalman
from .patches import Patch


@dataclass(frozen=True, slots=True)
class ObjectPrompt:
    """How the user picked one object: a point set (fg 1 / bg 0), a box, or a text."""

    object_id: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    text: str | None = None
    # the time of the frame the user gave it on (a live view lags): resolved on that frame, then
    # carried forward to the present; None: on the next frame
    pts: float | None = None

    def __post_init__(self) -> None:
        if self.pts is not None and not (isinstance(self.pts, (int, float)) and np.isfinite(self.pts)):
            raise PromptError(f"object {self.object_id}: pts: expected a frame time in seconds, got {self.pts!r:.40}")
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
    history_seconds: float = 2.0  # frames kept for prompts given on a past frame (their pts)
    predict_frames: int = 5  # unused since propagation (kept so old configurations still load)
    # propagation: where the model has no mask, the object's own mask is carried forward while at
    # least `min_propagated` of its usual area is still seen; without that it is "lost" at once, or
    # after `lost_after` model frames where something the model saw covers its place (behind it)
    min_propagated: float = 0.05
    lost_after: int = 6
    likelihood_ratio: float = 1.0  # a pixel is the object's when its colour is this much likelier on it


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
    work_mask: Patch | None = None  # the current mask on the work grid (what propagation carries)
    background: np.ndarray | None = None  # (B,) colour histogram of the ring around the object
    distractors: np.ndarray | None = None  # (K, 4) boxes of look-alikes in view since it was lost
    lost_at: int = 0  # the frame index it was lost at
    unseen: int = 0  # model frames in a row in which no evidence showed the object

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
    pts: float | None = None  # the time of the frame this result is for (the `t` given to `update`)
    frame_index: int | None = None
