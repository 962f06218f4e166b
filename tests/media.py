"""Real media files for tests, made with PyAV: no fixtures on disk.

`write_video` writes an n-frame H.264 MP4 (flat gray levels or seeded noise);
`write_two_size_video` an MP4 whose frame size changes midway (a camera reconfigured
mid-recording: the second half carries its own SPS in-band, as such files do), which FFmpeg
and `FileSource` decode as frames of the first size, then of the second; `cut_short` keeps the
first part of a file whose header (moved to the front) still promises every frame.
`FaultyPyAV` wraps `av.open` to fail once at one stage of a live stream's read path.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

W, H = 64, 48


def gray_level(i: int) -> int:
    return 20 + 10 * i


def frame_image(i: int, width: int = W, height: int = H, noise: bool = False) -> np.ndarray:
    """Frame i: flat gray_level(i) (mod 256), or seeded noise."""
    if noise:
        return np.random.default_rng(i).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return np.full((height, width, 3), gray_level(i) % 256, np.uint8)


def write_video(path: Path, n: int = 20, fps: int = 30, noise: bool = False, *, size: tuple[int, int] = (W, H),
                faststart: bool = False) -> Path:
    """An n-frame H.264 MP4 of `size` (width, height); frame i is `frame_image(i)`. `faststart`
    puts the header (with the frame count) before the frames, as streaming-friendly files do."""
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "10", "g": "5"}
        for i in range(n):
            image = frame_image(i, size[0], size[1], noise)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _annexb_packets(sizes: Sequence[tuple[int, int]], frames_each: int, fps: int) -> list[tuple[bytes, bool]]:
    """H.264 packets (Annex B, parameter sets in-band on each keyframe) for `frames_each` frames of
    each size in turn; frame i (counted over all sizes) is `frame_image(i)`."""
    out: list[tuple[bytes, bool]] = []
    i = 0
    for width, height in sizes:
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.time_base, codec.framerate = Fraction(1, fps), Fraction(fps)
        codec.options = {"crf": "10", "g": "5", "bf": "0", "x264-params": "repeat-headers=1"}
        frames = []
        for _ in range(frames_each):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="bgr24")
            frame.pts, frame.time_base = len(frames), Fraction(1, fps)
            frames.append(frame)
            i += 1
        for frame in frames + [None]:
            out += [(bytes(p), p.is_keyframe) for p in codec.encode(frame)]
    return out


def write_two_size_video(path: Path, sizes: Sequence[tuple[int, int]] = ((W, H), (96, 64)), frames_each: int = 10,
                         fps: int = 30) -> Path:
    """An MP4 (H.264) whose frames are `frames_each` of sizes[0] (width, height), then
    `frames_each` of sizes[1], and so on; frame i is `frame_image(i)` at its size. The header
    states the first size, like a recording whose camera was reconfigured midway."""
    packets = _annexb_packets(sizes, frames_each, fps)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height = sizes[0]
        stream.time_base = Fraction(1, fps)
        for n, (data, key) in enumerate(packets):
            packet = av.Packet(data)
            packet.pts = packet.dts = n
            packet.time_base = Fraction(1, fps)
            packet.is_keyframe = key
            packet.stream = stream
            container.mux(packet)
    return path


def cut_short(path: Path, keep: float) -> Path:
    """Keeps the first `keep` (0..1) of the file's bytes: a copy or a download that stopped."""
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


class FaultyPyAV:
    """Wraps `av.open` so that the first connection fails once at `stage`: "open" (av.open
    itself), "demux" (reading a packet), "decode" (decoding one) or "convert" (the frame to
    BGR), after `after` frames; the error is not one PyAV's network errors are made of, as
    a decoder, a converter or a driver may raise. Later connections are the real thing."""

    def __init__(self, stage: str, after: int = 5, error: Exception | None = None) -> None:
        self.stage, self.after = stage, after
        self.error = error or RuntimeError(f"injected {stage} fault")
        self.opens = 0
        self.frames = 0
        self.failed_at: float | None = None

    def fail(self, stage: str) -> None:
        if stage == self.stage and self.failed_at is None and (stage == "open" or self.frames >= self.after):
            self.failed_at = time.monotonic()
            raise self.error

    def open(self, real_open):
        def opener(*args, **kwargs):
            self.opens += 1
            if self.opens > 1:
                return real_open(*args, **kwargs)
            self.fail("open")
            return _Proxy(real_open(*args, **kwargs), self)
        return opener


class _Proxy:
    """A PyAV container, packet or frame that calls `faults.fail` at its stage."""

    def __init__(self, real, faults: FaultyPyAV) -> None:
        self._real, self._faults = real, faults

    def __getattr__(self, name):
        return getattr(self._real, name)

    def demux(self, *args):
        for packet in self._real.demux(*args):
            self._faults.fail("demux")
            yield _Proxy(packet, self._faults)

    def decode(self):
        self._faults.fail("decode")
        return [_Proxy(frame, self._faults) for frame in self._real.decode()]

    def to_ndarray(self, **kwargs):
        self._faults.fail("convert")
        self._faults.frames += 1
        return self._real.to_ndarray(**kwargs)


MARK_STEP = 10  # frame k of a marked clip has its white mark at x = MARK_STEP * k


def write_marked_clip(path: Path, image: np.ndarray, n: int = 30, fps: int = 10) -> Path:
    """`image` (BGR) as an n-frame H.264 MP4 (a keyframe every 8 frames, B-frames) whose frame k
    carries its number as a white mark on a black strip at the top (`marked_frame`)."""
    h, w = image.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        stream.options = {"crf": "12", "g": "8", "bf": "2"}
        for k in range(n):
            frame = np.ascontiguousarray(image[:h - h % 2, :w - w % 2]).copy()
            frame[:12] = 0
            frame[2:10, MARK_STEP * k + 1:MARK_STEP * k + 9] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def marked_frame(image: np.ndarray) -> int:
    """The frame number a frame of `write_marked_clip` carries (also read off a JPEG of it)."""
    strip = np.asarray(image)[2:10, :, :3].mean(axis=(0, 2))
    return int(np.argmax(np.convolve(strip, np.ones(8), "valid")) // MARK_STEP)


def write_repeated(source: Path, path: Path, repeats: int = 2, fps: int = 30) -> int:
    """`source`'s frames `repeats` times in a row, re-encoded (H.264) at `fps`; the frame count."""
    with av.open(str(source)) as src:
        frames = [f.to_ndarray(format="bgr24") for f in src.decode(src.streams.video[0])]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for image in frames * repeats:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return len(frames) * repeats
