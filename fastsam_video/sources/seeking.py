"""Exact frame access to a video file by frame number, for pausing, stepping and seeking.

A frame number is a position in presentation order, found from the packets' timestamps (an
index made once by demuxing, no decoding), so it holds for variable-frame-rate files too: no
frame number is ever computed from a frame rate. `frame(n)` decodes from the keyframe at or
before frame n (or on from where the decoder is, when that is nearer) up to frame n; every frame
is the decoder's own output, never an approximation.

What makes it fast (docs/benchmarks.md, "Seeking"):
- threaded decoding (FFmpeg's frame and slice threads);
- frames decoded only to reach frame n are not converted (a 1080p BGR conversion costs about as
  much as decoding), and non-reference frames well before n are not decoded at all (`skip_frame`
  NONREF: nothing refers to them, so the frames after them decode the same);
- decoded frames are kept as the decoder's YUV frames (1.5 bytes a pixel, converted when asked
  for) up to `cache_bytes`, the ones farthest from the current frame dropped first;
- stepping backwards, the frames before the kept ones are decoded ahead on a second decoder (a
  worker thread), so that crossing into the previous keyframe interval is a lookup too.
The one cost left is physical: a seek to the frame just before a keyframe decodes the whole
keyframe interval (decode fps x interval length).
"""

from __future__ import annotations

import bisect
import queue
import threading
from pathlib import Path

import av
import numpy as np

from ..errors import SourceError
from ..workers import Worker

NONREF_MARGIN = 2  # frames before the first kept one that are decoded in full all the same
STEPPING = 8  # a move of at most this many frames is stepping (decoded ahead), a longer one a jump


def _open(path: Path):
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise SourceError(f"cannot open {path} for seeking: {err}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{path} has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


class _Decoder:
    """One container and decoder: `decode(lo, hi, keep)` calls `keep(k, frame)` for frames lo..hi
    (frame numbers), decoding from the keyframe before lo or on from its position."""

    def __init__(self, path: Path, pts: list[int], keyframes: list[int], container=None, stream=None):
        self.container, self.stream = (container, stream) if container is not None else _open(path)
        self.pts, self.keyframes = pts, keyframes
        self.codec = self.stream.codec_context
        self.packets = None  # the demuxer after the last seek
        self.next: int | None = None  # the frame number the decoder has reached, when known
        self.floor = 0  # frames before the keyframe sought to may be broken (open GOPs): never kept

    def keyframe_before(self, n: int) -> int:
        """The pts of the keyframe at or before frame n."""
        return self.keyframes[max(bisect.bisect_right(self.keyframes, self.pts[n]) - 1, 0)]

    def seeks(self, lo: int) -> bool:
        """Whether decoding frame lo starts at a keyframe (else it goes on from where it is)."""
        start = bisect.bisect_left(self.pts, self.keyframe_before(lo))
        return self.next is None or self.next > lo or lo - self.next > lo - start

    def decode(self, lo: int, hi: int, keep, stop: threading.Event | None = None) -> None:
        keyframe = self.keyframe_before(lo)
        start = bisect.bisect_left(self.pts, keyframe)
        if self.seeks(lo):
            self.container.seek(keyframe, stream=self.stream, backward=True, any_frame=False)
            self.packets = self.container.demux(self.stream)
            self.next, self.floor = start, keyframe
        keep_from = self.pts[max(lo - NONREF_MARGIN, 0)]
        for packet in self.packets:
            if stop is not None and stop.is_set():
                self.next = None
                return
            if packet.pts is not None:
                self.codec.skip_frame = "NONREF" if packet.pts < keep_from else "DEFAULT"
            else:
                self.codec.skip_frame = "DEFAULT"
            for decoded in self.codec.decode(packet):
                if decoded.pts is None or decoded.pts < self.floor:
                    continue
                k = bisect.bisect_left(self.pts, decoded.pts)
                if k >= len(self.pts) or self.pts[k] != decoded.pts:
                    continue
                self.next = max(self.next or 0, k + 1)
                if k >= lo:  # frames past hi that came out too are kept: the decoder is past them
                    keep(k, decoded)
            if packet.pts is None:
                self.next = None  # the decoder is flushed: the next call seeks
                return
            if self.next > hi:  # frames come out in presentation order: all up to hi are out
                return
        self.next = None

    def close(self) -> None:
        self.container.close()


class SeekableVideo:
    """`frame(n) -> (image BGR, pts seconds)`; `len()` frames; `times` every frame's pts.

    `cache_bytes` bounds the decoded frames kept (YUV: 3.1 MB a 1080p frame, 256 MB = 82
    frames); `cache_frames` bounds their number too; `prefetch=False` decodes nothing ahead."""

    def __init__(self, path: str | Path, cache_bytes: int = 256 * 2**20, cache_frames: int | None = None,
                 prefetch: bool = True):
        self.path = Path(path)
        container, stream = _open(self.path)
        try:
            self._pts, keyframes = self._index(container, stream)
        except av.FFmpegError as err:
            container.close()
            raise SourceError(f"{self.path}: cannot read its packets ({err})") from None
        if not self._pts:
            container.close()
            raise SourceError(f"{self.path}: no video frames found")
        self._keyframes = sorted(keyframes) or [self._pts[0]]
        self.time_base = float(stream.time_base)
        self.times = [p * self.time_base for p in self._pts]
        self._decoder = _Decoder(self.path, self._pts, self._keyframes, container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        self._frame_bytes = max(width * height * 3 // 2, 1)
        budget = max(cache_bytes // self._frame_bytes, 2)
        self.cache_limit = min(budget, cache_frames) if cache_frames else budget  # frames kept
        self._cache: dict[int, av.VideoFrame] = {}
        self._position = 0
        self._direction = 1
        self._prefetch = prefetch
        self._ahead: _Prefetcher | None = None

    @staticmethod
    def _index(container, stream) -> tuple[list[int], list[int]]:
        pts, keyframes = [], []
        for packet in container.demux(stream):
            if packet.pts is None:  # the flushing packet at the end
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keyframes.append(packet.pts)
        container.seek(0, stream=stream)
        return sorted(pts), keyframes

    def __len__(self) -> int:
        return len(self._pts)

    @property
    def keyframe_numbers(self) -> list[int]:
        """The frame numbers of the keyframes (where decoding can start)."""
        return [bisect.bisect_left(self._pts, p) for p in self._keyframes]

    def index_at(self, seconds: float) -> int:
        """The frame shown at time `seconds` (the last one starting at or before it)."""
        return max(bisect.bisect_right(self.times, seconds + 1e-9) - 1, 0)

    def frame(self, n: int) -> tuple[np.ndarray, float]:
        if not 0 <= n < len(self._pts):
            raise SourceError(f"frame {n}: {self.path.name} has {len(self._pts)} frames (0-{len(self._pts) - 1})")
        step = n - self._position
        self._direction = -1 if step < 0 else 1 if step > 0 else self._direction
        self._position = n
        if abs(step) > STEPPING and self._ahead is not None:
            self._ahead.cancel()  # a jump: what the worker decodes for the old place is not needed
        self._take_ahead(wait_for=n)
        if n not in self._cache:
            lo = n
            if self._decoder.seeks(n):  # keep the frames before n too (up to half the cache), for stepping back
                start = bisect.bisect_left(self._pts, self._decoder.keyframe_before(n))
                lo = max(start, n - self.cache_limit // 2 + 1)
            try:
                self._decoder.decode(lo, n, self._keep)
            except av.FFmpegError as err:
                self._decoder.next = None
                raise SourceError(f"frame {n} of {self.path.name} could not be decoded ({err})") from None
        if n not in self._cache:
            raise SourceError(f"frame {n} of {self.path.name} could not be decoded (the file may be truncated)")
        image = self._cache[n].to_ndarray(format="bgr24")
        if -STEPPING <= step < 0 and self._prefetch:
            self._read_ahead_backwards(n)
        return image, self.times[n]

    def _keep(self, k: int, decoded: av.VideoFrame) -> None:
        self._cache[k] = decoded
        while len(self._cache) > self.cache_limit:  # the farthest frame goes, those passed first
            del self._cache[max(self._cache, key=self._distance)]

    def _distance(self, k: int) -> int:
        """How far frame k is from the current one, frames already passed (behind the direction
        of stepping) counting three times."""
        ahead = (k - self._position) * self._direction >= 0
        return abs(k - self._position) * (1 if ahead else 3)

    def _read_ahead_backwards(self, n: int) -> None:
        """When fewer than half the cache's frames are kept before frame n, the ones before them
        (half the cache) are decoded on the worker: it has that many steps' time to do it."""
        low = n
        while low - 1 in self._cache:
            low -= 1
        if low == 0 or n - low >= self.cache_limit // 2 or (self._ahead is not None and self._ahead.busy):
            return
        if self._ahead is None:
            self._ahead = _Prefetcher(self.path, self._pts, self._keyframes)
        self._ahead.request(max(low - self.cache_limit // 2, 0), low - 1)

    def _take_ahead(self, wait_for: int) -> None:
        """Frames the worker decoded go into the cache; when it is decoding frame `wait_for`,
        this waits for it (cheaper than decoding it a second time)."""
        if self._ahead is None:
            return
        wait = self._ahead.busy and self._ahead.covers(wait_for) and wait_for not in self._cache
        for k, decoded in self._ahead.take(until=wait_for if wait else None):
            self._keep(k, decoded)

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
        self._cache.clear()
        self._decoder.close()

    def __enter__(self) -> SeekableVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Prefetcher:
    """A second decoder on a worker thread: `request(lo, hi)` decodes frames lo..hi; `take()`
    returns what it has decoded so far (the frames cross threads through a queue only)."""

    def __init__(self, path: Path, pts: list[int], keyframes: list[int]):
        self._decoder = _Decoder(path, pts, keyframes)
        self._frames: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._worker: Worker | None = None
        self._range = (0, -1)

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.alive

    def covers(self, n: int) -> bool:
        return self._range[0] <= n <= self._range[1]

    def request(self, lo: int, hi: int) -> None:
        self._range = (lo, hi)
        frames, stop = self._frames, self._stop  # this run's: `cancel` makes new ones
        self._worker = Worker(lambda: self._run(lo, hi, frames, stop), name="seek-ahead").start()

    def _run(self, lo: int, hi: int, frames: queue.Queue, stop: threading.Event) -> None:
        self._decoder.decode(lo, hi, lambda k, frame: frames.put((k, frame)), stop)
        frames.put(None)  # done

    def take(self, until: int | None = None) -> list[tuple[int, av.VideoFrame]]:
        """The decoded frames so far; with `until`, waits (while the worker runs) for that frame."""
        taken = []
        while True:
            try:
                item = self._frames.get(timeout=0.05) if until is not None else self._frames.get_nowait()
            except queue.Empty:
                if until is None or not self.busy:
                    break
                continue
            if item is None:
                if until is None:
                    continue
                break
            taken.append(item)
            if item[0] == until:
                until = None
        if self._worker is not None and not self.busy and self._worker.error is not None:
            self._worker.raise_error(SourceError, f"decoding ahead in {self._decoder.container.name}")
        return taken

    def cancel(self) -> None:
        """Stops the work under way and forgets what it decoded."""
        if not self.busy:
            self.take()
            return
        self._stop.set()
        self._worker.join(5.0)
        self._stop = threading.Event()
        self._frames = queue.Queue()
        self._range = (0, -1)

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(5.0)
        self._decoder.close()
