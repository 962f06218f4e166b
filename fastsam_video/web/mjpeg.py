"""MJPEG for the browser: one encoder per camera, encoding only while someone watches, at most
at the display rate, once whatever the number of viewers.

The pipeline hands over each annotated frame with `publish` (a reference assignment: it never
waits). The encoder thread takes the newest frame, encodes it, and wakes the viewers, which
live on the event loop. A slow viewer simply gets the newest JPEG when it is ready for one:
frames in between are skipped, nothing queues up, and the pipeline never waits for anyone.
"""

from __future__ import annotations

import asyncio
import threading
import time

import cv2
import numpy as np

from ..workers import Worker

BOUNDARY = "frame"
MEDIA_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
# A browser shows a part only once the next one begins: when no new frame came within this many
# seconds (a paused file camera, a slow one), the last part is sent once more, so it shows.
REPEAT_AFTER = 0.15


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buf.tobytes()


def part(jpeg: bytes, pts: float | None = None) -> bytes:
    """One multipart part; `pts` (the frame's time, seconds) as its X-Frame-Pts header."""
    stamp = "" if pts is None else f"X-Frame-Pts: {pts:.6f}\r\n"
    return (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n{stamp}\r\n".encode()
            + jpeg + b"\r\n")


class JpegStream:
    """The newest annotated frame of one camera and its JPEG for the viewers."""

    def __init__(self, name: str, stop: threading.Event, max_fps: float = 15.0, quality: int = 80):
        self.max_fps = max_fps
        self.quality = quality
        self.encoded = 0  # JPEGs made (for the tests and the benchmark)
        self._stop = stop
        self._frame: np.ndarray | None = None
        self._frame_pts: float | None = None
        self._frame_seq = 0
        self._jpeg: bytes | None = None
        self._jpeg_seq = 0
        self._viewers = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._worker = Worker(self._run, name=f"mjpeg {name}").start()

    # -------------------------------------------------------------- pipeline side (results thread)
    def publish(self, image: np.ndarray, pts: float | None = None) -> None:
        self._frame, self._frame_pts, self._frame_seq = image, pts, self._frame_seq + 1
        if self._viewers:
            self._wake.set()

    @property
    def latest(self) -> np.ndarray | None:
        return self._frame

    @property
    def viewers(self) -> int:
        return self._viewers

    # -------------------------------------------------------------- encoder thread
    def _run(self) -> None:
        done_seq, last = 0, 0.0
        while not self._stop.is_set():
            if not self._wake.wait(0.2):
                continue
            self._wake.clear()
            frame, seq, pts = self._frame, self._frame_seq, self._frame_pts
            if frame is None or (seq == done_seq and self._jpeg is not None) or not self._viewers:
                continue  # (a new first viewer of a paused file camera gets its frame encoded again)
            pause = last + 1.0 / self.max_fps - time.monotonic()
            if pause > 0:  # at most max_fps: the newest frame after the pause is the one encoded
                self._stop.wait(pause)
                frame, seq, pts = self._frame, self._frame_seq, self._frame_pts
            jpeg = part(encode_jpeg(frame, self.quality), pts)  # the whole multipart part
            last, done_seq = time.monotonic(), seq
            with self._lock:
                self._jpeg, self._jpeg_seq = jpeg, self._jpeg_seq + 1
                waiters, self._waiters = self._waiters, []
            self.encoded += 1
            for loop, future in waiters:
                loop.call_soon_threadsafe(_resolve, future)

    def close(self, deadline: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        self._worker.join(deadline=deadline if deadline is not None else time.monotonic() + 2)

    # -------------------------------------------------------------- viewers (event loop)
    async def next_jpeg(self, after: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        """The first part (JPEG with its headers) newer than sequence number `after` (waits up to
        `timeout`)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._jpeg_seq > after and self._jpeg is not None:
                return self._jpeg_seq, self._jpeg
            future = loop.create_future()
            self._waiters.append((loop, future))
        self._wake.set()  # a frame may already be waiting to be encoded
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not future]
        with self._lock:
            return (self._jpeg_seq, self._jpeg) if self._jpeg_seq > after and self._jpeg else (after, None)

    async def frames(self):
        """The multipart body for one viewer, until it disconnects (Starlette then cancels this
        generator) or the camera goes away."""
        with self._lock:
            self._viewers += 1
        self._wake.set()
        try:
            seq, last = 0, None
            while not self._stop.is_set():
                seq, jpeg = await self.next_jpeg(seq, 1.0 if last is None else REPEAT_AFTER)
                if jpeg is not None:
                    yield jpeg
                    last = jpeg
                elif last is not None:  # no new frame: the same part again, so the browser shows the last one
                    yield last
                    last = None
        finally:
            with self._lock:
                self._viewers -= 1
                if not self._viewers:
                    self._jpeg = None  # the next viewer waits for a fresh frame, not this stale one


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
