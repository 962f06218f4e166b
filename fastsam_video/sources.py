"""Where frames come from: webcams, network streams, video files, image folders.

Every source has the same small surface (`FrameSource`): `read()` blocks for the next
`Frame` and returns None at the end, `close()` releases it. `CaptureThread` reads a source
on its own thread so that inference never waits on capture, and so that a live source
never builds up a backlog of stale frames.

Network cameras come through `ReconnectingSource`: every wait bounded, reconnection with
capped backoff, and the state readable as `source.connection` (a `ConnectionState`).

Failures are `SourceError`s with one line naming the problem and the fix. Passwords in
URLs never reach a message, a log line or a name: everything shown goes through
`redact_url`, and FFmpeg's own log messages are redacted too (`install_log_redaction`).
"""

from __future__ import annotations

import collections
import glob
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import av
import cv2
import numpy as np

from .queues import put_until_stopped
from .types import FastSAMVideoError, Frame, SourceError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".ppm", ".pgm"})
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "srt://")
LAVFI_PREFIX = "lavfi:"

_SECRET_QUERY_KEYS = re.compile(r"([?&](?:password|passwd|pwd|pass|token|access_token|key|secret|auth|signature|sig)=)[^&#\s'\"]*",
                                re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def check_stream_options(rtsp_transport: str, open_timeout: float, read_timeout: float) -> None:
    if rtsp_transport not in RTSP_TRANSPORTS:
        raise SourceError(f"unknown RTSP transport {rtsp_transport!r} (use one of {', '.join(RTSP_TRANSPORTS)})")
    if not (open_timeout > 0 and read_timeout > 0):
        raise SourceError(f"timeouts must be positive, got open {open_timeout} s and read {read_timeout} s "
                          "(a stream without them can hang forever)")


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


def _redact_any(value: Any) -> Any:
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, tuple):
        return tuple(_redact_any(v) for v in value)
    return value


def _scrub(err: BaseException) -> BaseException:
    """`err` with the URLs in its arguments redacted, in place, before it becomes the
    `__cause__` of a SourceError: PyAV's errors quote the URL they failed on, password
    included, and a printed traceback shows the cause too."""
    try:
        err.args = _redact_any(err.args)
        for attr in ("filename", "filename2"):  # plain OSErrors keep these apart from args
            if isinstance(err, OSError) and not isinstance(err, av.error.FFmpegError) \
                    and isinstance(getattr(err, attr, None), str):
                setattr(err, attr, _redact_text(getattr(err, attr)))
    except (AttributeError, TypeError):  # an exception type that will not be changed: leave it
        pass
    return err


_AUTH_HEADER = re.compile(r"((?:Proxy-)?Authorization:\s*)[^\r\n]*", re.IGNORECASE)
_log_redaction_installed = False


def install_log_redaction() -> None:
    """Makes FFmpeg's own log messages password-free.

    With `av.logging.set_level(...)` PyAV forwards FFmpeg's messages to the `libav.*`
    loggers; at DEBUG the RTSP client logs every request it sends, with its URLs and its
    `Authorization: Basic <base64 of user:password>` header. This wraps the log record
    factory (chaining the one in place) so that `libav` records are redacted as they are
    made, whatever handlers are attached. Idempotent; StreamSource calls it."""
    global _log_redaction_installed
    if _log_redaction_installed:
        return
    _log_redaction_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith("libav"):
            try:
                text = record.getMessage()
            except Exception:  # a malformed record: leave it to the handler to report
                return record
            record.msg, record.args = _AUTH_HEADER.sub(r"\1***", _redact_text(text)), None
        return record

    logging.setLogRecordFactory(factory)


@dataclass(frozen=True)
class ConnectionState:
    """Where a network source stands, for the stats line, the window and the log.

    `state`: "connecting" (first attempt under way), "connected" (frames flow),
    "reconnecting" (lost or never reached; waiting for or making the next attempt),
    "closed". `attempts`: failed attempts since frames last flowed. `next_retry_in`:
    seconds until the next attempt (None while connected or while an attempt is under
    way). `last_error`: the last failure, password-free. `reconnects`: times frames flowed
    again after a loss (or after a source that was down at start came up). `down_for`:
    seconds since frames last flowed (or since the start), None while connected."""

    state: str
    attempts: int = 0
    next_retry_in: float | None = None
    last_error: str | None = None
    reconnects: int = 0
    down_for: float | None = None

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    def describe(self) -> str:
        """One short line: "connected", "reconnecting in 4 s (3 failed attempts): ..."."""
        if self.state == "connected":
            return "connected" + (f" ({self.reconnects} reconnects)" if self.reconnects else "")
        if self.state != "reconnecting":
            return self.state
        text = "reconnecting"
        if self.next_retry_in is not None:
            text += f" in {self.next_retry_in:.0f} s"
        if self.attempts:
            text += f" ({self.attempts} failed attempt{'s' if self.attempts != 1 else ''})"
        if self.down_for is not None:
            text += f", no frames for {self.down_for:.0f} s"
        return text + (f": {self.last_error}" if self.last_error else "")


class FrameSource:
    """Base of all sources. Subclasses implement `_read_image()` and `_release()`.

    Attributes: `name` (display-safe), `live` (frames arrive on the source's own clock and
    stale ones may be dropped), `fps` and `frame_count` when known, `skipped` (unreadable
    frames or images passed over), `connection` (a `ConnectionState` for sources that
    reconnect, else None)."""

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


RTSP_TRANSPORTS = ("tcp", "udp", "udp_multicast", "http", "https")


class StreamSource(FrameSource):
    """A live network stream (RTSP, HTTP, ...) or an FFmpeg `lavfi:` test pattern, via PyAV.

    Every wait is bounded: opening by `open_timeout`, each network read by `read_timeout`,
    and a watchdog fails the stream when no frame has been decoded for `read_timeout`
    (a server that keeps the connection up but sends nothing decodable). A stream that
    ends is a disconnect: `read()` raises SourceError, never returns None. `open()` makes
    a fresh container, so a reconnecting wrapper can call it again (see
    `ReconnectingSource`, which `open_source` returns for network URLs).
    `rtsp_transport`: "tcp" (default: no loss, passes NAT) or "udp" (lower latency on a
    clean network; lost packets show as smeared frames)."""

    live = True

    def __init__(self, url: str, rtsp_transport: str = "tcp", open_timeout: float = 5.0,
                 read_timeout: float = 5.0, *, source_id: int = 0) -> None:
        super().__init__(source_id)
        self.url = url
        self.name = redact_url(url)
        check_stream_options(rtsp_transport, open_timeout, read_timeout)
        self.rtsp_transport = rtsp_transport
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._read_started = 0.0
        install_log_redaction()
        self.open()

    def open(self) -> None:
        """(Re)opens the stream; raises SourceError if it cannot be reached."""
        self._release()
        if self.url.startswith(LAVFI_PREFIX):
            target, kwargs = self.url[len(LAVFI_PREFIX):], {"format": "lavfi"}
        else:
            options = {}
            if self.url.lower().startswith(("rtsp://", "rtsps://")):
                # The SDP already describes the stream: probing 0.5 s instead of 5 halves the
                # time to the first frame (1.2 s -> 0.6 s), which every reconnect pays.
                options = {"rtsp_transport": self.rtsp_transport, "analyzeduration": "500000"}
            target, kwargs = self.url, {"options": options}
        started = time.monotonic()
        try:
            # Without a timeout PyAV waits forever on a server that accepts and then says nothing.
            container = av.open(target, timeout=(self.open_timeout, self.read_timeout), **kwargs)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            # An interrupted open reports whatever FFmpeg was doing ("Invalid data found ...").
            timed_out = time.monotonic() - started >= self.open_timeout and isinstance(err, av.error.FFmpegError)
            reason = f"no answer within {self.open_timeout:g} s" if timed_out else _reason(err)
            raise SourceError(f"cannot open stream {self.name}: {reason} (check the URL, that the "
                              "server is running and reachable, and the credentials)") from _scrub(err)
        if not container.streams.video:
            container.close()
            raise SourceError(f"stream {self.name} has no video (check the URL points at a video stream)")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else None
        self._container = container
        self._frames = self._decode(container, stream)
        self._closed = False

    def _decode(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
                ) -> Iterator[av.VideoFrame]:
        """Frames from demuxed packets, with two watchdogs: one network read that took the
        whole `read_timeout` (PyAV interrupted it, and what it still returns is the tail of
        a stalled stream), and no frame for `read_timeout` within one `read()` (a server
        that sends but nothing decodable). A slow consumer's pauses between reads do not
        count."""
        packets = container.demux(stream)
        while True:
            asked = time.monotonic()
            packet = next(packets, None)
            if packet is None:
                return
            now = time.monotonic()
            if now - asked >= self.read_timeout:
                raise SourceError(f"stream {self.name} stalled: no data for {self.read_timeout:g} s (the camera "
                                  "froze or the network dropped)")
            try:
                frames = packet.decode()
            except av.error.InvalidDataError as err:  # a damaged packet (lost UDP data): skip it
                self.skipped += 1
                log.debug("%s: skipped an undecodable packet: %s", self.name, _reason(err))
                frames = []
            yield from frames
            if time.monotonic() - self._read_started > self.read_timeout:
                raise SourceError(f"stream {self.name} sends no decodable video: no frame for over "
                                  f"{self.read_timeout:g} s (check the camera's stream settings)")

    def _read_image(self) -> tuple[np.ndarray, float | None] | None:
        if self._frames is None:
            return None
        self._read_started = time.monotonic()
        try:
            frame = next(self._frames)
        except StopIteration:
            # PyAV ends the decode loop silently when the server goes away.
            raise SourceError(f"stream ended: {self.name} (the server closed the connection; check it "
                              "is still running)") from None
        except av.error.ExitError as err:  # PyAV's read timeout
            raise SourceError(f"stream {self.name} stalled: no data for {self.read_timeout:g} s (the camera "
                              "froze or the network dropped)") from _scrub(err)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise SourceError(f"stream {self.name} failed: {_reason(err)} (the server stopped sending "
                              "or the network dropped)") from _scrub(err)
        return frame.to_ndarray(format="bgr24"), frame.time

    def _release(self) -> None:
        if self._container is not None:
            if self._frames is not None:
                self._frames.close()
            self._frames = None
            self._container.close()
            self._container = None


DEFAULT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)

# Failures that no amount of retrying fixes: at start they are raised at once (fail_fast).
_PERMANENT_CAUSES = (av.error.HTTPBadRequestError, av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError,
                     av.error.ProtocolNotFoundError, ValueError)


def _is_permanent(err: SourceError) -> bool:
    return isinstance(err.__cause__, _PERMANENT_CAUSES) or "has no video" in str(err)


def _short(err: BaseException, name: str) -> str:
    """The gist of a source failure for a log line that already names the source:
    "Connection refused", "stream stalled: no data for 5 s", "stream ended"."""
    text = re.sub(r" \([^()]*\)$", "", _reason(err))  # the advice
    text = text.replace(f"stream {name}", "stream").replace(f": {name}", "").replace(name, "the stream")
    return text.removeprefix("cannot open stream: ")


class ReconnectingSource(FrameSource):
    """A network stream that survives its camera: lost, frozen, rebooted or down at start.

    A drop (the server closed the connection, or sent nothing for `read_timeout`) is
    followed by an immediate reconnect, then attempts spaced by `backoff` (1, 2, 5, 10,
    then every 30 s), counting from the first failure; once frames flow again the count
    starts over. A source that is down at start is waited for the same way (the
    constructor raises only what retrying cannot fix: a refused password, a malformed URL,
    a stream without video; `fail_fast=False` waits for those too). Every step is logged
    (password-free) and readable as `connection` (a `ConnectionState`) from any thread.

    `read()` blocks until a frame comes, reconnecting as long as it takes; `interrupt()`
    or `close()` from another thread make it return None within a moment when it waits
    between attempts, and within `open_timeout` / `read_timeout` when it is inside one.
    Frame indices keep increasing across reconnects and `t_capture` never goes back. `pts`
    is on one timeline across reconnects, in seconds from the first frame: the stream's own
    timestamps, shifted at each (re)connection so that the gap is about the time the stream
    was away (a restarted camera's clock starts over, and the first frame of an RTSP
    session has none: it gets its capture time).

    `stream_factory` (for tests) replaces `StreamSource(url, ...)` as the way to connect."""

    live = True

    def __init__(self, url: str, rtsp_transport: str = "tcp", open_timeout: float = 5.0,
                 read_timeout: float = 5.0, *, backoff: Sequence[float] = DEFAULT_BACKOFF, fail_fast: bool = True,
                 source_id: int = 0, stream_factory: Callable[[], FrameSource] | None = None) -> None:
        super().__init__(source_id)
        self.name = redact_url(url)
        check_stream_options(rtsp_transport, open_timeout, read_timeout)
        self.backoff = tuple(float(b) for b in backoff)
        if not self.backoff or min(self.backoff) < 0:
            raise SourceError(f"backoff must be one or more delays >= 0 s, got {backoff!r}")
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.fail_fast = fail_fast
        self._factory = stream_factory or (lambda: StreamSource(url, rtsp_transport, open_timeout, read_timeout,
                                                                source_id=source_id))
        self._stream: FrameSource | None = None
        self._stop = threading.Event()  # set by interrupt() / close(): wakes a waiting read at once
        self._read_lock = threading.Lock()  # held by the reading thread for the whole read()
        self._lock = threading.Lock()  # guards the connection fields below
        self._state = "connecting"
        self._attempts = 0
        self._retry_at: float | None = None
        self._last_error: str | None = None
        self._reconnects = 0
        self._down_since: float | None = time.monotonic()
        self._flowing = False  # frames came on the current connection
        self._ever_flowed = False
        self._t0: float | None = None  # t_capture of the first frame: the origin of pts
        self._last_t = float("-inf")
        self._last_pts: float | None = None
        self._pts_offset: float | None = None  # per connection
        self._connect(first=True)

    # ------------------------------------------------------------------ state
    @property
    def connection(self) -> ConnectionState:
        with self._lock:
            now = time.monotonic()
            retry = None
            if self._state == "reconnecting" and self._retry_at is not None:
                retry = max(0.0, self._retry_at - now)
            if self._stop.is_set():  # closed (or closing: the reader may still be inside an attempt)
                return ConnectionState("closed", self._attempts, None, self._last_error, self._reconnects)
            return ConnectionState(self._state, self._attempts, retry, self._last_error, self._reconnects,
                                   None if self._down_since is None else now - self._down_since)

    def _connect(self, first: bool = False) -> None:
        with self._lock:
            self._retry_at = None  # an attempt is under way
        try:
            stream = self._factory()
        except SourceError as err:
            if first and self.fail_fast and _is_permanent(err):
                with self._lock:
                    self._state, self._last_error = "closed", _short(err, self.name)
                raise
            if not self._stop.is_set():
                self._failed(err, first)
            return
        self._stream = stream
        self._flowing = False
        self._pts_offset = None
        if stream.fps:
            self.fps = stream.fps
        with self._lock:
            self._state = "connected"
        log.debug("%s: connected, waiting for the first frame", self.name)

    def _failed(self, err: SourceError, first: bool) -> None:
        with self._lock:
            self._attempts += 1
            delay = self.backoff[min(self._attempts, len(self.backoff)) - 1]
            self._retry_at = time.monotonic() + delay
            self._state = "reconnecting"
            self._last_error = _short(err, self.name)
            attempts = self._attempts
        hint = "; it may not be up yet" if first and not self._ever_flowed else ""
        log.warning("%s: cannot connect: %s%s; retrying in %g s (%d failed attempt%s)", self.name, self._last_error,
                    hint, delay, attempts, "s" if attempts != 1 else "")

    def _dropped(self, err: SourceError) -> None:
        self._release_stream()
        if self._stop.is_set():
            return
        if not self._flowing:  # connected but no frame came: a failed attempt, with its backoff
            self._failed(err, first=False)
            return
        now = time.monotonic()
        with self._lock:
            self._state = "reconnecting"
            self._retry_at = now  # the first retry is immediate: most drops are brief
            self._last_error = _short(err, self.name)
            self._down_since = self._last_t  # frames stopped with the last one, not at the detection
        log.warning("%s: connection lost: %s; reconnecting", self.name, self._last_error)

    def _release_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception as err:  # a dead connection may fail to close; it is gone either way
                log.debug("%s: closing the old connection failed: %s", self.name, _reason(err))

    # ------------------------------------------------------------------ reading
    def read(self) -> Frame | None:
        with self._read_lock:
            try:
                while not self._stop.is_set():
                    if self._stream is None:
                        with self._lock:
                            wait = 0.0 if self._retry_at is None else self._retry_at - time.monotonic()
                        if wait > 0 and self._stop.wait(wait):
                            break
                        self._connect()
                        continue
                    try:
                        frame = self._stream.read()
                    except SourceError as err:
                        self._dropped(err)
                        continue
                    if frame is None:  # a StreamSource never ends quietly; another source might
                        self._dropped(SourceError(f"stream ended: {self.name}"))
                        continue
                    if self._stop.is_set():
                        break
                    return self._emit(frame)
                return None
            finally:
                if self._stop.is_set():
                    self._release_stream()

    def _emit(self, frame: Frame) -> Frame:
        t = max(frame.t_capture, self._last_t)
        if self._t0 is None:
            self._t0 = t
        if not self._flowing:
            self._flowing = True
            with self._lock:
                down_for = None if self._down_since is None else t - self._down_since
                again = self._ever_flowed or self._attempts > 0
                if again:
                    self._reconnects += 1
                attempts, self._attempts = self._attempts, 0
                self._state, self._down_since, self._retry_at = "connected", None, None
            if again:
                log.info("%s: reconnected; frames flow again after %.1f s (%d failed attempt%s)", self.name,
                         down_for or 0.0, attempts, "s" if attempts != 1 else "")
            else:
                log.info("%s: connected", self.name)
            self._ever_flowed = True
        wall = t - self._t0
        if frame.pts is None:
            pts = wall
        else:
            if self._pts_offset is None:
                self._pts_offset = wall - frame.pts
            pts = frame.pts + self._pts_offset
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1e-3
        self._last_t, self._last_pts = t, pts
        out = Frame(image=frame.image, index=self._next_index, t_capture=t, pts=pts, source_id=self.source_id)
        self._next_index += 1
        return out

    # ------------------------------------------------------------------ stopping
    def interrupt(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Stops reconnecting and releases the stream (any thread; idempotent). A read in
        progress in another thread returns None; if it is inside an open or a read, that
        thread releases the stream when the call returns (within its timeout)."""
        self._stop.set()
        with self._lock:
            self._state, self._retry_at = "closed", None
        if self._read_lock.acquire(timeout=0.5):
            try:
                self._release_stream()
            finally:
                self._read_lock.release()
        self._closed = True


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
                open_timeout: float = 5.0, read_timeout: float = 5.0, reconnect: bool | None = None,
                backoff: Sequence[float] = DEFAULT_BACKOFF, source_id: int = 0) -> FrameSource:
    """Opens what `spec` names: `0` or `webcam:0`; rtsp://, http(s):// and other stream URLs;
    `lavfi:<filtergraph>`; an image folder or a glob; a video file; a single image.

    Network URLs reconnect by default (`reconnect=None`): they give a `ReconnectingSource`,
    which waits for a camera that is down at start rather than raising. `reconnect=False`
    gives a plain `StreamSource`, whose first failure is a SourceError; `lavfi:` specs
    reconnect only when asked."""
    spec = spec.strip()
    webcam = re.fullmatch(r"(?:webcam:)?(\d+)", spec, re.IGNORECASE)
    if webcam:
        return WebcamSource(int(webcam.group(1)), source_id=source_id)
    network = spec.lower().startswith(STREAM_PREFIXES)
    if network or spec.startswith(LAVFI_PREFIX):
        if network if reconnect is None else reconnect:
            return ReconnectingSource(spec, rtsp_transport, open_timeout, read_timeout, backoff=backoff,
                                      source_id=source_id)
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
    source is never closed under a read in progress. `close()` interrupts a reconnecting
    source's wait between attempts at once; one inside a network open or read returns when
    that times out, and `close()` waits that long."""

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
                    put_until_stopped(self._queue, frame, self._stop)
        except BaseException as err:  # stored and re-raised in the consumer
            self.error = err
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

    def close(self) -> None:
        self._stop.set()
        self.source.interrupt()  # a reconnecting source waiting between attempts returns at once
        # ... but one inside an open or a read returns only when that times out
        blocked = max(getattr(self.source, "open_timeout", 0.0), getattr(self.source, "read_timeout", 0.0))
        self._thread.join(max(self._join_timeout, blocked + 1.0))
        if self._thread.is_alive():
            log.warning("capture thread for %s is still blocked in a read; it ends when the source's "
                        "read timeout expires", self.source.name)

    def __enter__(self) -> CaptureThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
