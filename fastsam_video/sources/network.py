"""Network streams (PyAV) and reconnection: `StreamSource` is one connection, `Reconnecting`
wraps any live source (a network stream, a webcam) and reopens it with capped backoff, its
state readable as `source.connection` (a `ConnectionState`)."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import av
import numpy as np

from ..events import ConnectionStatus
from ..types import Frame, SourceError
from .base import FrameSource
from .redaction import _reason, _scrub, install_log_redaction, redact_url

log = logging.getLogger(__name__)

STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "srt://")
LAVFI_PREFIX = "lavfi:"
RTSP_TRANSPORTS = ("tcp", "udp", "udp_multicast", "http", "https")


def check_stream_options(rtsp_transport: str, open_timeout: float, read_timeout: float) -> None:
    if rtsp_transport not in RTSP_TRANSPORTS:
        raise SourceError(f"unknown RTSP transport {rtsp_transport!r} (use one of {', '.join(RTSP_TRANSPORTS)})")
    if not (open_timeout > 0 and read_timeout > 0):
        raise SourceError(f"timeouts must be positive, got open {open_timeout} s and read {read_timeout} s "
                          "(a stream without them can hang forever)")


@dataclass(frozen=True)
class ConnectionState:
    """Where a live source (network camera, webcam) stands, for the stats line, the window and the log.

    `state`: a `ConnectionStatus` (equal to its string: "connecting", "connected",
    "reconnecting", "closed"). `attempts`: failed attempts since frames last flowed.
    `next_retry_in`: seconds until the next attempt (None while connected or while an attempt
    is under way). `last_error`: the last failure, password-free. `reconnects`: times frames
    flowed again after a loss (or after a source that was down at start came up). `down_for`:
    seconds since frames last flowed (or since the start), None while connected."""

    state: ConnectionStatus
    attempts: int = 0
    next_retry_in: float | None = None
    last_error: str | None = None
    reconnects: int = 0
    down_for: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ConnectionStatus(self.state))  # a plain string is accepted, and checked

    @property
    def connected(self) -> bool:
        return self.state is ConnectionStatus.CONNECTED

    def describe(self) -> str:
        """One short line: "connected", "reconnecting in 4 s (3 failed attempts): ..."."""
        if self.state is ConnectionStatus.CONNECTED:
            return "connected" + (f" ({self.reconnects} reconnects)" if self.reconnects else "")
        if self.state is not ConnectionStatus.RECONNECTING:
            return self.state.value
        text = "reconnecting"
        if self.next_retry_in is not None:
            text += f" in {self.next_retry_in:.0f} s"
        if self.attempts:
            text += f" ({self.attempts} failed attempt{'s' if self.attempts != 1 else ''})"
        if self.down_for is not None:
            text += f", no frames for {self.down_for:.0f} s"
        return text + (f": {self.last_error}" if self.last_error else "")


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
        try:
            return frame.to_ndarray(format="bgr24"), frame.time
        except (av.error.FFmpegError, ValueError, MemoryError) as err:
            raise SourceError(f"stream {self.name}: cannot convert a {frame.width}x{frame.height} "
                              f"{frame.format.name} frame to BGR: {_reason(err)} (check the camera's stream "
                              "settings)") from _scrub(err)

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
    if "no answer within" in str(err):  # a camera that is frozen or still booting: wait for it
        return False
    return isinstance(err.__cause__, _PERMANENT_CAUSES) or "has no video" in str(err)


def _short(err: BaseException, name: str) -> str:
    """The gist of a source failure for a log line that already names the source:
    "Connection refused", "stream stalled: no data for 5 s", "stream ended"; an error that is
    not a SourceError (a fault inside a decoder or a converter) keeps its type's name."""
    if not isinstance(err, SourceError):
        return f"{type(err).__name__}: {_reason(err)}"
    text = re.sub(r" \([^()]*\)$", "", _reason(err))  # the advice
    text = text.replace(f"stream {name}", "stream").replace(f": {name}", "")
    text = text.removeprefix(f"{name} ").replace(name, "the stream")
    return text.removeprefix("cannot open stream: ")


class Reconnecting(FrameSource):
    """A live source that survives its device: a network camera lost, frozen, rebooted or down
    at start, a webcam unplugged or failing a grab. `connect()` opens the device (a FrameSource)
    and is called again after each failure.

    ANY error from `connect()` or from a read (the network, the demuxer, the decoder, the colour
    conversion) is a drop: it is followed by an immediate reconnect, then attempts spaced by
    `backoff` (1, 2, 5, 10, then every 30 s), counting from the first failure; once frames flow
    again the count starts over. A source that is down at start is waited for the same way;
    the constructor raises only what retrying cannot fix (`permanent(err)`, for the network a
    refused password, a malformed URL, a stream without video; `fail_fast=False` waits for
    those too). Every step is logged (password-free) and readable as `connection` (a
    `ConnectionState`) from any thread.

    `read()` blocks until a frame comes, reconnecting as long as it takes; `interrupt()`
    or `close()` from another thread make it return None within a moment when it waits
    between attempts, and within `open_timeout` / `read_timeout` when it is inside one.
    Frame indices keep increasing across reconnects and `t_capture` never goes back. `pts`
    is on one timeline across reconnects, in seconds from the first frame: the device's own
    timestamps, shifted at each (re)connection so that the gap is about the time it was away
    (a restarted camera's clock starts over, and the first frame of an RTSP session has
    none: it gets its capture time)."""

    live = True

    def __init__(self, name: str, connect: Callable[[], FrameSource], *, backoff: Sequence[float] = DEFAULT_BACKOFF,
                 fail_fast: bool = True, permanent: Callable[[SourceError], bool] = _is_permanent,
                 open_timeout: float = 0.0, read_timeout: float = 0.0, source_id: int = 0) -> None:
        super().__init__(source_id)
        self.name = name
        self.backoff = tuple(float(b) for b in backoff)
        if not self.backoff or min(self.backoff) < 0:
            raise SourceError(f"backoff must be one or more delays >= 0 s, got {backoff!r}")
        self.open_timeout = open_timeout  # how long a blocked connect() or read() may take to return
        self.read_timeout = read_timeout
        self.fail_fast = fail_fast
        self._permanent = permanent
        self._factory = connect
        self._stream: FrameSource | None = None
        self._stop = threading.Event()  # set by interrupt() / close(): wakes a waiting read at once
        self._read_lock = threading.Lock()  # held by the reading thread for the whole read()
        self._lock = threading.Lock()  # guards the connection fields below
        self._state = ConnectionStatus.CONNECTING
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
            if self._state is ConnectionStatus.RECONNECTING and self._retry_at is not None:
                retry = max(0.0, self._retry_at - now)
            if self._stop.is_set():  # closed (or closing: the reader may still be inside an attempt)
                return ConnectionState(ConnectionStatus.CLOSED, self._attempts, None, self._last_error,
                                       self._reconnects)
            return ConnectionState(self._state, self._attempts, retry, self._last_error, self._reconnects,
                                   None if self._down_since is None else now - self._down_since)

    def _connect(self, first: bool = False) -> None:
        with self._lock:
            self._retry_at = None  # an attempt is under way
        try:
            stream = self._factory()
        except Exception as err:  # a fault anywhere in opening is a failed attempt
            if first and self.fail_fast and isinstance(err, SourceError) and self._permanent(err):
                with self._lock:
                    self._state, self._last_error = ConnectionStatus.CLOSED, _short(err, self.name)
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
            self._state = ConnectionStatus.CONNECTED
        log.debug("%s: connected, waiting for the first frame", self.name)

    def _failed(self, err: Exception, first: bool) -> None:
        with self._lock:
            self._attempts += 1
            delay = self.backoff[min(self._attempts, len(self.backoff)) - 1]
            self._retry_at = time.monotonic() + delay
            self._state = ConnectionStatus.RECONNECTING
            self._last_error = _short(err, self.name)
            attempts = self._attempts
        hint = "; it may not be up yet" if first and not self._ever_flowed else ""
        log.warning("%s: cannot connect: %s%s; retrying in %g s (%d failed attempt%s)", self.name, self._last_error,
                    hint, delay, attempts, "s" if attempts != 1 else "")

    def _dropped(self, err: Exception) -> None:
        self._release_stream()
        if self._stop.is_set():
            return
        if not self._flowing:  # connected but no frame came: a failed attempt, with its backoff
            self._failed(err, first=False)
            return
        now = time.monotonic()
        with self._lock:
            self._state = ConnectionStatus.RECONNECTING
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
                    except Exception as err:  # the network, the demuxer, the decoder, the conversion
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
                self._state, self._down_since, self._retry_at = ConnectionStatus.CONNECTED, None, None
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
        """Stops reconnecting and releases the device (any thread; idempotent). A read in
        progress in another thread returns None; if it is inside an open or a read, that
        thread releases the stream when the call returns (within its timeout)."""
        self._stop.set()
        with self._lock:
            self._state, self._retry_at = ConnectionStatus.CLOSED, None
        if self._read_lock.acquire(timeout=0.5):
            try:
                self._release_stream()
            finally:
                self._read_lock.release()
        self._closed = True




class ReconnectingSource(Reconnecting):
    """A network stream (a `StreamSource` per connection) that survives its camera; see
    `Reconnecting`. `stream_factory` (for tests) replaces `StreamSource(url, ...)` as the way
    to connect."""

    def __init__(self, url: str, rtsp_transport: str = "tcp", open_timeout: float = 5.0,
                 read_timeout: float = 5.0, *, backoff: Sequence[float] = DEFAULT_BACKOFF, fail_fast: bool = True,
                 source_id: int = 0, stream_factory: Callable[[], FrameSource] | None = None) -> None:
        check_stream_options(rtsp_transport, open_timeout, read_timeout)
        connect = stream_factory or (lambda: StreamSource(url, rtsp_transport, open_timeout, read_timeout,
                                                          source_id=source_id))
        super().__init__(redact_url(url), connect, backoff=backoff, fail_fast=fail_fast, open_timeout=open_timeout,
                         read_timeout=read_timeout, source_id=source_id)
