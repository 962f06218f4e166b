"""A video file played under control, like a video player: pause, play, step and seek, with each
frame delivered exactly (its file frame number and content, `SeekableVideo`), also for
variable-frame-rate files. No Qt, no web: the live page and the window drive the same object.

    source = PlaybackSource("clip.mp4")          # a FrameSource: give it to a Pipeline
    source.apply(PlaybackCommand.seek(120))      # any thread; or pause(), play(), step(-1), seek(n)
    source.position()                            # PlaybackPosition: frame, time, frames, paused

The capture thread reads it like any source. Frames carry the command `epoch` they were read in
(`PlaybackFrame`): a command makes the frames read ahead of it stale, and the pipeline drops them
(`is_current`), so a pause stays on the frame shown and a step shows exactly the frame asked for.
While paused nothing is read; `refresh()` delivers the paused frame again (the pipeline calls it
when the prompts change, so a prompt on the paused frame shows its mask at once). At the end of
the file it pauses on the last frame; play there starts again from the first.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..types import FastSAMVideoError, Frame, SourceError
from .base import FrameSource, _Pacer
from .seeking import SeekableVideo

log = logging.getLogger(__name__)


class PlaybackError(FastSAMVideoError):
    """A playback command that does not fit the file (a frame past its end, a zero step)."""


class NotPlayable(FastSAMVideoError):
    """A playback command for a camera that is not a video file under playback control."""


class PlaybackAction(enum.Enum):
    PAUSE = "pause"
    PLAY = "play"
    STEP = "step"  # `delta` frames (-1: one back); pauses first
    SEEK = "seek"  # to `frame`; keeps playing or paused as it was


@dataclass(frozen=True)
class PlaybackCommand:
    action: PlaybackAction
    delta: int = 1  # STEP
    frame: int | None = None  # SEEK

    @classmethod
    def pause(cls) -> PlaybackCommand:
        return cls(PlaybackAction.PAUSE)

    @classmethod
    def play(cls) -> PlaybackCommand:
        return cls(PlaybackAction.PLAY)

    @classmethod
    def step(cls, delta: int = 1) -> PlaybackCommand:
        return cls(PlaybackAction.STEP, delta=delta)

    @classmethod
    def seek(cls, frame: int) -> PlaybackCommand:
        return cls(PlaybackAction.SEEK, frame=frame)


@dataclass(frozen=True)
class PlaybackPosition:
    """Where a file camera stands: `frame` (the frame shown, else the one asked for before any is
    shown), its `time` (pts, seconds), the file's `frames` and `duration`, `paused`."""

    frame: int
    time: float
    frames: int
    duration: float
    paused: bool

    def to_dict(self) -> dict:
        return {"frame": self.frame, "time": round(self.time, 6), "frames": self.frames,
                "duration": round(self.duration, 6), "paused": self.paused}


@dataclass(frozen=True, slots=True)
class PlaybackFrame(Frame):
    epoch: int = 0  # the command epoch it was read in (older ones are stale)
    commanded: bool = False  # delivered by a step, seek or refresh (not by playing on): the model looks at it


class PlaybackSource(FrameSource):
    """A video file under playback control (see the module). `realtime`: played at its own rate
    (counts as live: the capture keeps only the newest frame); else as fast as it is taken.
    `paused`: start paused on the first frame."""

    def __init__(self, path: str | Path, *, realtime: bool = False, paused: bool = False, source_id: int = 0,
                 cache_frames: int = 16) -> None:
        super().__init__(source_id)
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"no such file: {self.path} (check the path)")
        self.video = SeekableVideo(self.path, cache_frames=cache_frames)  # SourceError: one line
        self.name = str(self.path)
        self.live = realtime
        self.frame_count = len(self.video)
        times = self.video.times
        self._step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 1 / 30
        self.fps = 1.0 / self._step if self._step > 0 else None
        self._cond = threading.Condition()
        self._paused = paused
        self._epoch = 0
        self._pending: int | None = 0 if paused else None  # a frame to deliver once (step, seek, refresh)
        self._next = 0  # what playing delivers next
        self._target = 0  # the frame asked for last: where a step counts from
        self._shown: int | None = None  # the last frame the pipeline finished (its results thread)
        self._interrupted = False
        self._pacer = _Pacer() if realtime else None

    # -------------------------------------------------------------- control (any thread)
    def apply(self, command: PlaybackCommand) -> PlaybackPosition:
        """Runs one command; the position it asks for (shown within a frame's processing)."""
        action = command.action
        if action is PlaybackAction.PAUSE:
            return self.pause()
        if action is PlaybackAction.PLAY:
            return self.play()
        if action is PlaybackAction.STEP:
            return self.step(command.delta)
        if action is PlaybackAction.SEEK:
            if command.frame is None:
                raise PlaybackError("seek: expected a frame number, got none")
            return self.seek(command.frame)
        raise PlaybackError(f"action: expected one of {[a.value for a in PlaybackAction]}, got {action!r}")

    def pause(self) -> PlaybackPosition:
        with self._cond:
            if not self._paused:
                self._paused = True
                self._epoch += 1  # frames read ahead are dropped: the frame shown stays
                self._target = self._shown if self._shown is not None else self._target
            return self._asked()

    def play(self) -> PlaybackPosition:
        with self._cond:
            if self._paused:
                self._paused = False
                self._epoch += 1
                if self._pending is not None:  # a frame asked for and not delivered yet: play from it
                    self._next, self._pending = self._pending, None
                else:
                    self._next = self._target + 1 if self._target + 1 < self.frame_count else 0  # at the end: again
                self._target = self._next
                self._restart_pacer()
                self._cond.notify_all()
            return self._asked()

    def step(self, delta: int = 1) -> PlaybackPosition:
        """`delta` frames on (negative: back) from the frame asked for last, pausing first;
        at either end it stays there."""
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise PlaybackError(f"step: expected a non-zero number of frames (-1 back, 1 forward), got {delta!r}")
        with self._cond:
            self.pause()
            return self._deliver(min(max(self._target + delta, 0), self.frame_count - 1))

    def seek(self, frame: int) -> PlaybackPosition:
        """Frame `frame` (0-based) next; paused, it is shown and playback stays paused."""
        if not isinstance(frame, int) or isinstance(frame, bool) or not 0 <= frame < self.frame_count:
            raise PlaybackError(f"seek: frame {frame!r} is outside {self.path.name}, which has {self.frame_count} "
                                f"frames (0-{self.frame_count - 1})")
        with self._cond:
            if self._paused:
                return self._deliver(frame)
            self._epoch += 1
            self._next = self._target = frame
            self._restart_pacer()
            self._cond.notify_all()
            return self._asked()

    def refresh(self) -> bool:
        """Paused: the paused frame once more (prompts or zones changed); True if it will come."""
        with self._cond:
            if not self._paused:
                return False
            self._deliver(self._target)
            return True

    @property
    def paused(self) -> bool:
        return self._paused

    def position(self) -> PlaybackPosition:
        """The frame shown (the one asked for, before any is shown)."""
        with self._cond:
            return self._position(self._shown if self._shown is not None else self._target)

    def _asked(self) -> PlaybackPosition:
        return self._position(self._target)

    def _position(self, frame: int) -> PlaybackPosition:
        times = self.video.times
        return PlaybackPosition(frame, times[frame], self.frame_count, times[-1] - times[0] + self._step, self._paused)

    def _deliver(self, frame: int) -> PlaybackPosition:
        self._epoch += 1
        self._target = self._pending = frame
        self._cond.notify_all()
        return self._asked()

    def _restart_pacer(self) -> None:
        if self._pacer is not None:
            self._pacer = _Pacer()  # the clock starts again at the next frame

    # -------------------------------------------------------------- the pipeline
    def is_current(self, frame: Frame) -> bool:
        """False for a frame read before the last command (drop it)."""
        return not isinstance(frame, PlaybackFrame) or frame.epoch == self._epoch

    def shown(self, frame: Frame) -> None:
        """The pipeline finished this frame (results thread): the position is there now."""
        with self._cond:
            self._shown = frame.index

    # -------------------------------------------------------------- the capture thread
    def read(self) -> PlaybackFrame | None:
        while True:
            request = self._next_request()
            if request is None:
                return None
            n, epoch, commanded = request
            try:
                image, pts = self.video.frame(n)
            except SourceError as err:  # a frame that does not decode (a cut-short file): pause before it
                log.warning("%s", err)
                with self._cond:
                    self._paused, self._target = True, max(min(n - 1, self.frame_count - 1), 0)
                continue
            if not commanded and self._pacer is not None:
                self._pacer.wait(pts)
            return PlaybackFrame(image=image, index=n, t_capture=time.monotonic(), pts=pts,
                                 source_id=self.source_id, epoch=epoch, commanded=commanded)

    def _next_request(self) -> tuple[int, int, bool] | None:
        with self._cond:
            while not (self._closed or self._interrupted):
                if self._pending is not None:
                    n, self._pending = self._pending, None
                    return n, self._epoch, True
                if not self._paused:
                    n = self._next
                    if n >= self.frame_count:  # the end: paused on the last frame
                        self._paused, self._target = True, self.frame_count - 1
                        continue
                    self._next, self._target = n + 1, n
                    return n, self._epoch, False
                self._cond.wait(0.2)
            return None

    def interrupt(self) -> None:
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()

    def _release(self) -> None:
        self.video.close()


def is_video_file(spec: str) -> bool:
    """A path to a video file (not an image, a folder, a webcam index or a URL)."""
    from .local import IMAGE_EXTENSIONS

    path = Path(spec).expanduser()
    return path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS
