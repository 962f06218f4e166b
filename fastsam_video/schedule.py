"""When a camera's frame goes through the model, and when the tracker carries it instead.

Two rules, per camera, decided on the inference thread before the forward pass:

    --detect-every K   the model runs on every K-th frame; the frames between are carried by
                       the tracker's propagation (`PromptTracker.update(None, ...)`)
    --skip-still       a frame in which nothing moved (a cheap difference at low resolution
                       against the last frame the model saw, above a noise floor) reuses the
                       last result; on by default for live cameras and `--realtime` files

The model runs at once, whatever the rules say, on a camera's first frame, after a new prompt
or a new frame size, and when the tracker has lost an object (so it is searched for on the next
frame, not K frames later); on a still scene it still runs every `refresh_s` seconds, so slow
changes (light, a parked car) reach the masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOTION_WIDTH = 128  # columns of the difference image: a small object moving a few pixels still shows
NOISE_FLOOR = 8  # grey levels: sensor noise and compression flicker, averaged over a cell, stay below it
MOVED_FRACTION = 0.001  # of the difference image's pixels above the floor: something moved


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
        self._requested = True
        self.frames = 0
        self.model_frames = 0

    def request(self) -> None:
        """The next frame goes through the model (called from the results thread: one flag)."""
        self._requested = True

    def run_model(self, image: np.ndarray, t: float) -> bool:
        self.frames += 1
        thumb = small_grey(image) if self.skip_still else None
        run = self._requested or self._model_t is None or image.shape != self._shape  # new size: a new tracker
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
