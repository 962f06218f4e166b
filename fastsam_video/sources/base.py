"""The surface every source shares (`FrameSource`) and the helpers of the local sources."""

from __future__ import annotations

import time
from typing import Iterator

import cv2
import numpy as np

from ..types import Frame


class FrameSource:
    """Base of all sources. Subclasses implement `_read_image()` and `_release()`.

    Attributes: `name` (display-safe), `live` (frames arrive on the source's own clock and
    stale ones may be dropped), `fps` and `frame_count` when known, `skipped` (unreadable
    frames or images passed over), `connection` (a `ConnectionState` for sources that
    reconnect, else None), `truncated` (a file that ended before the frame count its header
    promised: one line saying so, else None)."""

    name: str = "source"
    live: bool = False
    fps: float | None = None
    frame_count: int | None = None

    def __init__(self, source_id: int = 0) -> None:
        self.source_id = source_id
        self.skipped = 0
        self._next_index = 0
        self._closed = False

    def read(self) -> Frame | None:
        """The next frame, blocking until it comes; None at the end of the stream."""
        if self._closed:
            return None
        got = self._read_image()
        if got is None:
            return None
        image, pts = got
        frame = Frame(image=image, index=self._next_index, t_capture=time.monotonic(), pts=pts,
                      source_id=self.source_id)
        self._next_index += 1
        return frame

    @property
    def connection(self) -> ConnectionState | None:
        return None

    @property
    def truncated(self) -> str | None:
        return None

    def interrupt(self) -> None:
        """Asks a `read()` blocked in another thread to give up soon and return None (any
        thread). Only sources that can wait long between frames (reconnecting ones) do
        anything; the reading thread still calls `close()` afterwards."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        raise NotImplementedError

    def _release(self) -> None:
        pass

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class _Pacer:
    """Holds frames back so that they come out at the pace of their timestamps, like a camera."""

    def __init__(self) -> None:
        self._origin: tuple[float, float] | None = None  # (wall clock, media time) of the first frame

    def wait(self, media_time: float) -> None:
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, media_time)
            return
        due = self._origin[0] + (media_time - self._origin[1])
        if due > now:
            time.sleep(due - now)


def _to_bgr(image: np.ndarray) -> np.ndarray:
    """OpenCV captures may give gray or BGRA images; frames are always (H, W, 3) BGR."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image

