"""When a camera's frame goes through the model, and when the tracker carries it instead.

Two rules, per camera, decided on the inference thread before the forward pass:

    --detect-every K   the model runs on every K-th frame; the frames between are carried by
                       the tracker's propagation (`PromptTracker.update(None, ...)`)
    --skip-still       a frame in which nothing moved (a cheap difference at low resolution
                       against the last frame the model saw, above a noise floor) reuses the
                       last result; on by default for live cameras and `--realtime` files

The model runs at once, whatever the rules say, on a camera's first frame, after a new prompt
or a new frame size, on the frame after an object is lost (it is searched for then, not K frames
later), while an object is new (its speed is not known yet: one frame carried that early leaves
real clips' masks at 0.72 of every frame's instead of 0.87) and after a zone entry. Between
runs, K is only the longest gap: the tracker's report on each frame shortens it where a carried
mask stops being reliable:
    - an object's speed: no further than REACH of its size between model runs (a fast object
      gets the model every frame or every 2nd, a slow one every K-th);
    - a lost object: every LOST_EVERY-th frame; one partly hidden or carried by propagation
      alone: every HIDDEN_EVERY-th.
A frame that the tracker may carry is decided once the tracker has reported on the frame before
it (a few milliseconds: the carried frames cost no model), so the rules act on the next frame.
On a still scene the model still runs every `refresh_s` seconds, so slow changes (light, a
parked car) reach the masks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .events import ObjectState

MOTION_WIDTH = 128  # columns of the difference image: a small object moving a few pixels still shows
NOISE_FLOOR = 8  # grey levels: sensor noise and compression flicker, averaged over a cell, stay below it
MOVED_FRACTION = 0.001  # of the difference image's pixels above the floor: something moved
REACH = 0.6  # of an object's size: the furthest it may move between model runs (its speed sets the gap)
LOST_EVERY = 2  # the model on every 2nd frame while an object is lost (at once when it is lost)
HIDDEN_EVERY = 3  # and every 3rd while one is partly hidden or carried by propagation alone
WAIT_S = 0.2  # the longest a carried frame's decision waits for the tracker's report on the last frame


@dataclass(frozen=True)
class ScheduleOptions:
    detect_every: int = 1  # the model on every K-th frame
    skip_still: bool | None = None  # None: on for live sources (cameras, --realtime files), off for files
    refresh_s: float = 10.0  # a still scene still goes through the model this often

    def __post_init__(self) -> None:
        if not (isinstance(self.detect_every, int) and self.detect_every >= 1):
            raise ValueError(f"detect_every: expected a positive integer, got {self.detect_every!r}")
        if not self.refresh_s > 0:
            raise ValueError(f"refresh_s: expected a positive number of seconds, got {self.refresh_s!r}")

    @property
    def every_frame(self) -> bool:
        return self.detect_every == 1 and self.skip_still is False


def small_grey(image: np.ndarray) -> np.ndarray:
    """The frame as a (MOTION_WIDTH-wide) grey thumbnail: averaging over each cell damps pixel noise."""
    h, w = image.shape[:2]
    width = min(MOTION_WIDTH, w)
    height = max(1, round(h * width / w))
    return cv2.cvtColor(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)


class CameraSchedule:
    """One camera's decisions. `run_model(image, t)` is asked once per frame, in order;
    `request()` (a new prompt, a lost object) makes the next frame go through the model."""

    def __init__(self, options: ScheduleOptions, live: bool):
        self.options = options
        self.skip_still = live if options.skip_still is None else options.skip_still
        self._reference: np.ndarray | None = None  # thumbnail of the last frame the model saw
        self._since_model = 0  # frames since the model last ran
        self._model_t: float | None = None
        self._shape: tuple[int, ...] | None = None
        self._centers: dict[int, tuple[float, float, float, int]] = {}  # results thread: (cx, cy, size, frame)
        self._requested = True
        self._gap = 1  # until the tracker has seen how its objects move
        self._states: dict[int, ObjectState] = {}
        self.frames = 0
        self.model_frames = 0
        self._observed = 0  # frames the results thread has reported on (`observe`)
        self._caught_up = threading.Condition()

    def request(self) -> None:
        """The next frame goes through the model (called from the results thread: one flag)."""
        self._requested = True

    def observe(self, objects, shown, frame_index: int) -> None:
        """After the tracker (results thread): `objects` its ObjectStatus list, `shown` its
        Segmentation of the tracked objects. Sets how many frames may go by before the model runs
        again (see the module's notes); a newly lost object runs it on the next frame."""
        gap = self.options.detect_every
        states = {}
        for status in objects:
            states[status.object_id] = status.state
            if status.state is ObjectState.LOST:
                if self._states.get(status.object_id) is not ObjectState.LOST:
                    self._requested = True  # searched for on the next frame
                gap = min(gap, LOST_EVERY)
            elif status.state is not ObjectState.TRACKED:
                gap = min(gap, HIDDEN_EVERY)
        self._states = states
        centers = {}
        boxes = shown.boxes.astype(np.float64)
        for object_id, (x1, y1, x2, y2) in zip(shown.object_ids.tolist(), boxes.tolist()):
            centers[object_id] = ((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1, 1.0), frame_index)
            before = self._centers.get(object_id)
            if before is None:  # new, or back: its speed is not known yet
                gap = 1
                continue
            speed = np.hypot(centers[object_id][0] - before[0], centers[object_id][1] - before[1]) / max(
                frame_index - before[3], 1)
            if speed > 0:  # no further than REACH of its size between model runs
                gap = min(gap, max(1, int(REACH * before[2] / speed)))
        self._centers = centers
        with self._caught_up:
            self._gap = gap
            self._observed += 1
            self._caught_up.notify_all()

    def run_model(self, image: np.ndarray, t: float) -> bool:
        self.frames += 1
        thumb = small_grey(image) if self.skip_still else None
        run = (self._requested or self._model_t is None
               or image.shape != self._shape)  # a new size: a new tracker
        if not run and self._since_model + 1 < self.options.detect_every:
            # a frame the tracker may carry: what it made of the frames before decides (a loss, a
            # fast or a touching object); the wait is one frame's tracking, never a hang
            with self._caught_up:
                if not self._caught_up.wait_for(lambda: self._observed >= self.frames - 1, WAIT_S):
                    self._observed = self.frames - 1  # a result that never comes (a removed camera)
            run = self._requested
        if not run:
            due = self._since_model + 1 >= min(self.options.detect_every, self._gap)
            if self.skip_still:
                stale = t - self._model_t >= self.options.refresh_s
                run = stale or (due and self.moved(thumb))
            else:
                run = due
        if run:
            self._requested = False
            self._reference = thumb
            self._shape = image.shape
            self._since_model = 0
            self._model_t = t
            self.model_frames += 1
        else:
            self._since_model += 1
        return run

    def moved(self, thumb: np.ndarray) -> bool:
        diff = cv2.absdiff(thumb, self._reference)
        return np.count_nonzero(diff > NOISE_FLOOR) > MOVED_FRACTION * diff.size
