"""The capture thread: reads a source on its own thread (a `workers.Worker`), so that inference
never waits on capture and a live source never builds up a backlog of stale frames."""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Any, Iterable

from ..queues import put_until_stopped
from ..types import Frame, SourceError
from ..workers import Worker, reraise
from .base import FrameSource
from .redaction import _reason, _scrub

log = logging.getLogger(__name__)

_END = object()  # queued after the last frame


class CaptureThread:
    """Reads a source on its own thread (a `workers.Worker` named "capture <source name>").

    Live sources keep only the newest frame: a new one replaces an unread one and counts
    in `dropped`, so what the consumer gets is always recent. Other sources go through a
    bounded queue that blocks the reader, so nothing is lost.

    `get(timeout)` returns the next frame, None at the end of the stream (or once stopped),
    and raises `queue.Empty` when nothing came within `timeout` - call it in a loop that
    checks your stop event. A failure in the reader is re-raised by `get` (the original as
    `__cause__`). The thread closes the source itself, so the source is never closed under a
    read in progress.

    Stopping is two steps, so that many cameras stop together (`close_all`): `request_stop()`
    sets the stop event and interrupts the source (a reconnecting source waiting between
    attempts returns at once; one inside a network open or read returns when that times out),
    then `join(deadline)` waits. `close()` does both for one camera."""

    def __init__(self, source: FrameSource, stop: threading.Event | None = None, queue_size: int = 8,
                 *, fps_window: float = 2.0, join_timeout: float = 5.0) -> None:
        self.source = source
        self.live = source.live
        self.captured = 0
        self.dropped = 0
        self._stop = stop if stop is not None else threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1 if self.live else max(1, queue_size))
        self._fps_window = fps_window
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._join_timeout = join_timeout
        self._finished = False
        self._worker = Worker(self._run, name=f"capture {source.name}").start()

    @property
    def name(self) -> str:
        return self._worker.name

    @property
    def error(self) -> BaseException | None:
        """What ended the reader, if it failed."""
        return self._worker.error

    @property
    def capture_fps(self) -> float:
        """Frames per second read from the source over the last `fps_window` seconds."""
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._times if t >= now - self._fps_window]  # a stalled source reads 0
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def alive(self) -> bool:
        return self._worker.alive

    def get(self, timeout: float) -> Frame | None:
        if self._finished:
            return self._end()
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            if not self._worker.alive and self._queue.empty():
                self._finished = True  # stopped from outside before the end was queued
                return self._end()
            raise
        if item is _END:
            self._finished = True
            return self._end()
        return item

    def _end(self) -> None:
        """None at the end; the reader's error (every time it is asked) if it failed."""
        if self.error is not None:
            reraise(_scrub(self.error), SourceError, f"capture from {self.source.name} failed")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self._count(frame.t_capture)
                if self.live:
                    self._put_newest(frame)
                else:
                    put_until_stopped(self._queue, frame, self._stop)
        finally:
            put_until_stopped(self._queue, _END, self._stop)
            try:
                self.source.close()
            except Exception as err:
                log.warning("closing %s failed: %s", self.source.name, _reason(err))

    def _count(self, t_capture: float) -> None:
        with self._lock:
            self.captured += 1
            self._times.append(t_capture)
            while self._times and self._times[0] < t_capture - self._fps_window:
                self._times.popleft()

    def _put_newest(self, frame: Frame) -> None:
        while True:  # only this thread puts, so the second try succeeds
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass  # the consumer took it meanwhile

    def request_stop(self) -> None:
        """Asks the thread to stop, without waiting (any thread; idempotent)."""
        self._stop.set()
        self.source.interrupt()  # a reconnecting source waiting between attempts returns at once

    @property
    def stop_within(self) -> float:
        """Seconds the thread may take to stop once asked: a read or an open in progress returns
        only when its timeout expires."""
        blocked = max(getattr(self.source, "open_timeout", 0.0), getattr(self.source, "read_timeout", 0.0))
        return max(self._join_timeout, blocked + 1.0)

    def join(self, deadline: float | None = None) -> bool:
        """Waits for the thread until the monotonic `deadline` (default: `stop_within` from now);
        True once it ended."""
        return self._worker.join(deadline=time.monotonic() + self.stop_within if deadline is None else deadline)

    def close(self) -> None:
        self.request_stop()
        self.join()

    def __enter__(self) -> CaptureThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def close_all(captures: Iterable[CaptureThread]) -> bool:
    """Stops many capture threads together: all are asked first, then all are waited for until
    one shared deadline, so N frozen cameras take about one read timeout to close, not N.
    True when every thread ended."""
    captures = list(captures)
    for capture in captures:
        capture.request_stop()
    deadline = time.monotonic() + max((c.stop_within for c in captures), default=0.0)
    return all([capture.join(deadline) for capture in captures])
