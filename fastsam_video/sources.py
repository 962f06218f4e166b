"""Where frames come from: webcams, network streams, video files, image folders.

Every source has the same small surface (`FrameSource`): `read()` blocks for the next
`Frame` and returns None at the end, `close()` releases it. `CaptureThread` reads a source
on its own thread so that inference never waits on capture, and so that a live source
never builds up a backlog of stale frames.

Failures are `SourceError`s with one line naming the problem and the fix. Passwords in
URLs never reach a message or a name: everything shown goes through `redact_url`.
"""

from __future__ import annotations

import collections
import glob
import logging
import queue
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import cv2
import numpy as np

from .types import FastSAMVideoError, Frame, SourceError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".ppm", ".pgm"})
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "srt://")
LAVFI_PREFIX = "lavfi:"

_SECRET_QUERY_KEYS = re.compile(r"([?&](?:password|passwd|pwd|pass|token|access_token|key|secret|auth|signature|sig)=)[^&#\s'\"]*",
                                re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def redact_url(url: str) -> str:
    """`url` with its password (and password-like query values) replaced by ***.

    rtsp://admin:s3cret@cam/live -> rtsp://admin:***@cam/live. Text without a URL is
    returned unchanged."""
    scheme, sep, rest = url.partition("://")
    if sep:
        # The authority ends at the first / ? or #; the password may itself hold '@' or ':'.
        end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        authority, tail = rest[:end], rest[end:]
        userinfo, at, host = authority.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            authority = f"{user}:***@{host}"
        url = f"{scheme}://{authority}{tail}"
    return _SECRET_QUERY_KEYS.sub(r"\1***", url)


def _redact_text(text: str) -> str:
    """Redacts every URL inside `text` (FFmpeg errors quote the URL they failed on)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)


def _reason(err: BaseException) -> str:
    """A short, password-free description of an exception for a one-line message."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return _redact_text(" ".join(str(text).split()))


class FrameSource:
    """Base of all sources. Subclasses implement `_read_image()` and `_release()`.

    Attributes: `name` (display-safe), `live` (frames arrive on the source's own clock and
    stale ones may be dropped), `fps` and `frame_count` when known, `skipped` (unreadable
    frames or images passed over)."""

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


class WebcamSource(FrameSource):
    """A local camera through OpenCV. `capture_factory` is injectable for tests."""

    live = True

    def __init__(self, index: int, capture_factory: Callable[[int], Any] = cv2.VideoCapture, *,
                 source_id: int = 0) -> None:
        super().__init__(source_id)
        self.index = index
        self.name = f"webcam {index}"
        try:
            self._capture = capture_factory(index)
        except Exception as err:  # some backends raise instead of returning a closed capture
            raise SourceError(f"cannot open webcam {index}: {_reason(err)} (check the index, or that "
                              "another program is not using it)") from err
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"cannot open webcam {index}: no camera at that index (check the index, "
                              "or that another program is not using it)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            raise SourceError(f"webcam {self.index} stopped delivering frames (was it unplugged, or "
                              "taken by another program? reconnect it and restart)")
        return _to_bgr(image), None

    def _release(self) -> None:
        self._capture.release()


class StreamSource(FrameSource):
    """A live network stream (RTSP, HTTP, ...) or an FFmpeg `lavfi:` test pattern, via PyAV.

    A stream that ends is a disconnect: `read()` raises SourceError, never returns None.
    `open()` makes a fresh container, so a reconnecting wrapper can call it again."""

    live = True

    def __init__(self, url: str, rtsp_transport: str = "tcp", open_timeout: float = 5.0,
                 read_timeout: float = 5.0, *, source_id: int = 0) -> None:
        super().__init__(source_id)
        self.url = url
        self.name = redact_url(url)
        self.rtsp_transport = rtsp_transport
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self.open()

    def open(self) -> None:
        """(Re)opens the stream; raises SourceError if it cannot be reached."""
        self._release()
        if self.url.startswith(LAVFI_PREFIX):
            target, kwargs = self.url[len(LAVFI_PREFIX):], {"format": "lavfi"}
        else:
            options = {"rtsp_transport": self.rtsp_transport} if self.url.lower().startswith("rtsp") else {}
            target, kwargs = self.url, {"options": options}
        try:
            # Without a timeout PyAV waits forever on a server that accepts and then says nothing.
            container = av.open(target, timeout=(self.open_timeout, self.read_timeout), **kwargs)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SourceError(f"cannot open stream {self.name}: {_reason(err)} (check the URL, that the "
                              "server is running and reachable, and the credentials)") from err
        if not container.streams.video:
            container.close()
            raise SourceError(f"stream {self.name} has no video (check the URL points at a video stream)")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else None
        self._container = container
        self._frames = container.decode(stream)
        self._closed = False

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        if self._frames is None:
            return None
        try:
            frame = next(self._frames)
        except StopIteration:
            # PyAV ends the decode loop silently when the server goes away.
            raise SourceError(f"stream ended: {self.name} (the server closed the connection; check it "
                              "is still running)") from None
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SourceError(f"stream {self.name} failed: {_reason(err)} (the server stopped sending "
                              f"for over {self.read_timeout:g} s or the network dropped)") from err
        return frame.to_ndarray(format="bgr24"), frame.time

    def _release(self) -> None:
        if self._container is not None:
            self._frames = None
            self._container.close()
            self._container = None


class FileSource(FrameSource):
    """A video file decoded with PyAV. With `realtime=True` it plays at its own frame rate
    and counts as live, like a camera (a stand-in for testing live behaviour)."""

    def __init__(self, path: str | Path, *, realtime: bool = False, source_id: int = 0) -> None:
        super().__init__(source_id)
        self.path = Path(path)
        self.name = str(self.path)
        self.live = realtime
        if not self.path.exists():
            raise SourceError(f"no such file: {self.path} (check the path)")
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a directory, not a video file (pass it as an image folder)")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SourceError(f"cannot read video {self.path}: {_reason(err)} (is it a video file? check "
                              "that it plays in a video player)") from err
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{self.path} has no video stream (is it an audio file?)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else None
        self.frame_count = self._stream.frames or None
        self._frames = self._decode()
        self._pacer = _Pacer() if realtime else None

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Frames in order; a packet that fails to decode is skipped and counted."""
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as err:
                    self.skipped += 1
                    log.warning("%s: skipped a corrupt frame after frame %d: %s", self.name,
                                self._next_index, _reason(err))
                    continue
                yield from frames
        except (av.error.FFmpegError, OSError) as err:
            raise SourceError(f"corrupt video {self.path} after frame {self._next_index}: {_reason(err)} "
                              "(re-encode or repair the file)") from err

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        frame = next(self._frames, None)
        if frame is None:
            if self._next_index == 0:
                raise SourceError(f"no decodable frames in {self.path} ({self.skipped} corrupt; re-encode "
                                  "or repair the file)")
            return None
        if self._pacer is not None:
            media_time = frame.time if frame.time is not None else self._next_index / (self.fps or 30.0)
            self._pacer.wait(media_time)
        return frame.to_ndarray(format="bgr24"), frame.time

    def _release(self) -> None:
        self._frames.close()
        self._container.close()


def _natural_key(path: Path) -> list[object]:
    """Sort key so that frame2.png comes before frame10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


class FolderSource(FrameSource):
    """Images from a directory (common image extensions, natural order), a glob pattern,
    or a single image file. Unreadable images are skipped with a warning and counted.
    `fps` gives the frames timestamps; `realtime=True` also paces them at that rate."""

    def __init__(self, pattern: str | Path, *, fps: float | None = None, realtime: bool = False,
                 source_id: int = 0) -> None:
        super().__init__(source_id)
        pattern = str(pattern)
        self.name = pattern
        if Path(pattern).is_dir():
            paths = [p for p in Path(pattern).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
            missing = f"no images in folder {pattern} (expected {', '.join(sorted(IMAGE_EXTENSIONS))} files)"
        elif Path(pattern).is_file():
            paths = [Path(pattern)]
            missing = ""
        elif any(c in pattern for c in "*?["):
            paths = [Path(p) for p in glob.glob(pattern) if Path(p).is_file()]
            missing = f"no files match {pattern} (check the pattern; quote it so the shell does not expand it)"
        else:
            raise SourceError(f"no such folder: {pattern} (check the path)")
        if not paths:
            raise SourceError(missing)
        if realtime and not fps:
            raise SourceError(f"realtime playback of {pattern} needs a frame rate (pass fps=...)")
        self._paths = sorted(paths, key=_natural_key)
        self.fps = float(fps) if fps else None
        self.frame_count = len(self._paths)
        self.live = realtime
        self._position = 0
        self._pacer = _Pacer() if realtime else None

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        while self._position < len(self._paths):
            path = self._paths[self._position]
            self._position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                log.warning("%s: skipped unreadable image %s", self.name, path)
                continue
            pts = self._next_index / self.fps if self.fps else None
            if self._pacer is not None and pts is not None:
                self._pacer.wait(pts)
            return image, pts
        if self._next_index == 0:
            raise SourceError(f"none of the {len(self._paths)} images in {self.name} could be read "
                              "(are they valid image files?)")
        return None


def open_source(spec: str, *, realtime: bool = False, fps: float | None = None, rtsp_transport: str = "tcp",
                open_timeout: float = 5.0, read_timeout: float = 5.0, source_id: int = 0) -> FrameSource:
    """Opens what `spec` names: `0` or `webcam:0`; rtsp://, http(s):// and other stream URLs;
    `lavfi:<filtergraph>`; an image folder or a glob; a video file; a single image."""
    spec = spec.strip()
    webcam = re.fullmatch(r"(?:webcam:)?(\d+)", spec, re.IGNORECASE)
    if webcam:
        return WebcamSource(int(webcam.group(1)), source_id=source_id)
    if spec.lower().startswith(STREAM_PREFIXES) or spec.startswith(LAVFI_PREFIX):
        return StreamSource(spec, rtsp_transport, open_timeout, read_timeout, source_id=source_id)
    path = Path(spec).expanduser()
    if path.is_dir() or (not path.exists() and any(c in spec for c in "*?[")):
        return FolderSource(str(path), fps=fps, realtime=realtime, source_id=source_id)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return FolderSource(str(path), fps=fps, realtime=realtime, source_id=source_id)
        return FileSource(path, realtime=realtime, source_id=source_id)
    raise SourceError(f"no such file: {redact_url(spec)} (expected a webcam index, an rtsp:// or http(s):// URL, "
                      "lavfi:..., a video file, an image folder or a glob)")


_END = object()  # queued after the last frame


class CaptureThread:
    """Reads a source on its own thread.

    Live sources keep only the newest frame: a new one replaces an unread one and counts
    in `dropped`, so what the consumer gets is always recent. Other sources go through a
    bounded queue that blocks the reader, so nothing is lost.

    `get(timeout)` returns the next frame, None at the end of the stream (or once stopped),
    and raises `queue.Empty` when nothing came within `timeout` - call it in a loop that
    checks your stop event. A failure in the reader is re-raised by `get` (the original as
    `__cause__`). `close()` stops the thread; the thread closes the source itself, so the
    source is never closed under a read in progress."""

    def __init__(self, source: FrameSource, stop: threading.Event | None = None, queue_size: int = 8,
                 *, fps_window: float = 2.0, join_timeout: float = 5.0) -> None:
        self.source = source
        self.live = source.live
        self.captured = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._stop = stop if stop is not None else threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1 if self.live else max(1, queue_size))
        self._fps_window = fps_window
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._join_timeout = join_timeout
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=f"capture {source.name}")
        self._thread.start()

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
        return self._thread.is_alive()

    def get(self, timeout: float) -> Frame | None:
        if self._finished:
            return self._end()
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            if not self._thread.is_alive() and self._queue.empty():
                self._finished = True  # stopped from outside before the end was queued
                return self._end()
            raise
        if item is _END:
            self._finished = True
            return self._end()
        return item

    def _end(self) -> None:
        err = self.error
        if err is None:
            return None
        if isinstance(err, FastSAMVideoError):
            raise type(err)(str(err)) from err
        raise SourceError(f"capture from {self.source.name} failed: {type(err).__name__}: {_reason(err)}") from err

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
                    self._put_waiting(frame)
        except BaseException as err:  # stored and re-raised in the consumer
            self.error = err
        finally:
            self._put_waiting(_END)
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

    def _put_waiting(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self._join_timeout)
        if self._thread.is_alive():
            log.warning("capture thread for %s is still blocked in a read; it ends when the source's "
                        "read timeout expires", self.source.name)

    def __enter__(self) -> CaptureThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
