"""When a camera's frame goes through the model, and when the tracker carries it instead.

Two rules, per camera, decided on the inference thread before the forward pass:

    --detect-every K   the model runs on every K-th frame; the frames between are carried by
                       the tracker's propagation (`PromptTracker.update(None, ...)`)
    --skip-still       a frame in which nothing moved (a cheap difference at low resolution
                       against the last frame the model saw, above a noise floor) reuses the
                       last result; on by default for live cameras and `--realtime` files

The model runs at once, whatever the rules say, on a camera's first frame, after a new prompt
or a new frame size, and while the tracker has an object it did not match whole (lost, occluded
or predicted: it is searched for on the next frame, not K frames later) or one that moves fast
(over FAST of its size a frame); on a still scene it still runs every `refresh_s` seconds, so
slow changes (light, a parked car) reach the masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOTION_WIDTH = 128  # columns of the difference image: a small object moving a few pixels still shows
NOISE_FLOOR = 8  # grey levels: sensor noise and compression flicker, averaged over a cell, stay below it
MOVED_FRACTION = 0.001  # of the difference image's pixels above the floor: something moved
FAST = 0.2  # of an object's size per frame: propagation alone would fall behind it


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
        self._busy = True  # until the tracker has seen how its objects move
        self.frames = 0
        self.model_frames = 0

    def request(self) -> None:
        """The next frame goes through the model (called from the results thread: one flag)."""
        self._requested = True

    def observe(self, objects, shown, frame_index: int) -> None:
        """After the tracker (results thread): `objects` its ObjectStatus list, `shown` its
        Segmentation of the tracked objects. The model runs on every frame for as long as an
        object is not matched whole, is new (its speed is not known yet) or moves fast: the
        state holds, so the frames the inference thread decided before this result was in are
        covered by the next decision too."""
        busy = any(o.state.value != "tracked" for o in objects)
        centers = {}
        for object_id, (x1, y1, x2, y2) in zip(shown.object_ids.tolist(), shown.boxes.tolist()):
            centers[object_id] = ((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1, 1.0), frame_index)
            before = self._centers.get(object_id)
            step = np.inf if before is None else np.hypot(centers[object_id][0] - before[0],
                                                           centers[object_id][1] - before[1])
            busy |= before is None or step > FAST * before[2] * max(frame_index - before[3], 1)
        self._centers = centers
        self._busy = busy

    def run_model(self, image: np.ndarray, t: float) -> bool:
        self.frames += 1
        thumb = small_grey(image) if self.skip_still else None
        run = (self._requested or self._busy or self._model_t is None
               or image.shape != self._shape)  # a new size: a new tracker
        if not run:
            due = self._since_model + 1 >= self.options.detect_every
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
