"""Exact frame access to a video file by frame number, for pausing, stepping and seeking.

A frame number is a position in presentation order, found from the packets' timestamps (an
index made once by demuxing, no decoding), so it holds for variable-frame-rate files too: no
frame number is ever computed from a frame rate. `frame(n)` seeks to the keyframe at or before
frame n's timestamp and decodes up to that timestamp; going forwards from the last frame it just
decodes on, and the last `cache_frames` frames decoded are kept (16 at 1080p: 100 MB), so stepping
back is mostly a lookup.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from pathlib import Path

import av
import numpy as np

from ..errors import SourceError


class SeekableVideo:
    """`frame(n) -> (image BGR, pts seconds)`; `len()` frames; `times` every frame's pts."""

    def __init__(self, path: str | Path, cache_frames: int = 16):
        self.path = Path(path)
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as err:
            raise SourceError(f"cannot open {self.path} for seeking: {err}") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._pts, keyframes = self._index()
        if not self._pts:
            self._container.close()
            raise SourceError(f"{self.path}: no video frames found")
        self._keyframes = sorted(keyframes)
        self.time_base = float(self._stream.time_base)
        self.times = [p * self.time_base for p in self._pts]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = cache_frames
        self._decoder = None  # the frame iterator after the last seek
        self._next = None  # the frame number the decoder gives next, when known

    def _index(self) -> tuple[list[int], list[int]]:
        pts, keyframes = [], []
        for packet in self._container.demux(self._stream):
            if packet.pts is None:  # the flushing packet at the end
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keyframes.append(packet.pts)
        self._container.seek(0, stream=self._stream)
        return sorted(pts), keyframes

    def __len__(self) -> int:
        return len(self._pts)

    def index_at(self, seconds: float) -> int:
        """The frame shown at time `seconds` (the last one starting at or before it)."""
        return max(bisect.bisect_right(self.times, seconds + 1e-9) - 1, 0)

    def frame(self, n: int) -> tuple[np.ndarray, float]:
        if not 0 <= n < len(self._pts):
            raise SourceError(f"frame {n}: {self.path.name} has {len(self._pts)} frames (0-{len(self._pts) - 1})")
        if n in self._cache:
            self._cache.move_to_end(n)
            return self._cache[n], self.times[n]
        target = self._pts[n]
        if self._next is None or not (self._next <= n and self._same_stretch(self._next, n)):
            keyframe = self._keyframes[max(bisect.bisect_right(self._keyframes, target) - 1, 0)]
            self._container.seek(keyframe, stream=self._stream, backward=True, any_frame=False)
            self._decoder = self._container.decode(self._stream)
            self._next = None
        for decoded in self._decoder:
            if decoded.pts is None:
                continue
            k = bisect.bisect_left(self._pts, decoded.pts)
            if k >= len(self._pts) or self._pts[k] != decoded.pts:
                continue
            self._next = k + 1
            if k < n - self._cache_frames + 1:
                continue  # decoded only to reach frame n: not converted (BGR conversion costs as much as decoding)
            image = decoded.to_ndarray(format="bgr24")
            self._remember(k, image)
            if decoded.pts >= target:
                return self._cache.get(n, image), self.times[n]
        self._next = None
        raise SourceError(f"frame {n} of {self.path.name} could not be decoded (the file may be truncated)")

    def _same_stretch(self, current: int, n: int) -> bool:
        """No keyframe between the decoder's position and frame n: decoding on is cheapest."""
        a, b = self._pts[current], self._pts[n]
        return bisect.bisect_right(self._keyframes, b) == bisect.bisect_right(self._keyframes, a) or n - current < 8

    def _remember(self, k: int, image: np.ndarray) -> None:
        self._cache[k] = image
        self._cache.move_to_end(k)
        while len(self._cache) > self._cache_frames:
            self._cache.popitem(last=False)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> SeekableVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
